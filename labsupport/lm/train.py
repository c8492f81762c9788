"""One training loop for byte-level language models (the course model, Lab 4's students, Lab 6).

Lab 2 writes this loop out; later labs call :func:`train_lm` with the part they study as an
argument: ``loss_fn`` (Lab 4 passes a distillation loss) and which parameters train (Lab 6
freezes all but LoRA adapters). Batches are random windows of the training bytes drawn from
``seed``; the learning rate warms up linearly, then follows a cosine to a tenth of its peak at
the last step (the schedule Hoffmann et al. match to each run's length). ``eval_fn`` measures the
model along the way (Lab 6 traces what narrowing gains and costs step by step).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labsupport._validate import function, module, non_negative_int, number_in, positive_int, tensor
from labsupport.lm.corpus import sample_windows

#: ``loss_fn(model, x, y) -> scalar``: the default is next-byte cross-entropy.
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def next_byte_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-byte cross-entropy (nats) of ``model`` on windows ``x -> y``, each ``(B, T)``."""
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten())


@dataclass
class LMHistory:
    """Per-step training losses (nats per byte), the wall time of the run, and what ``eval_fn``
    returned at the steps in ``eval_steps``."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    eval_steps: list[int] = field(default_factory=list)
    evals: list[Any] = field(default_factory=list)


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine from ``peak`` to ``peak / 10`` at ``steps``."""
    if step <= warmup:
        return peak * step / max(1, warmup)
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_lm(
    model: nn.Module,
    tokens: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    context: int,
    lr: float,
    seed: int,
    loss_fn: LossFn = next_byte_loss,
    warmup: int | None = None,
    weight_decay: float = 0.0,
    log_every: int = 0,
    eval_fn: Callable[[nn.Module], Any] | None = None,
    eval_every: int = 0,
) -> LMHistory:
    """Train ``model`` in place with AdamW on random ``context``-byte windows of ``tokens``.

    Only parameters with ``requires_grad`` train. ``model`` may be wrapped in
    ``DistributedDataParallel``: each process then draws its own batches (give each its own
    ``seed``) and DDP averages the gradients.

    Args:
        steps, batch_size, context: the run's length, windows per step and bytes per window.
        lr: peak learning rate; ``warmup`` steps (default ``steps // 20``) ramp up to it.
        seed: seeds the windows drawn (the model's initialisation is the caller's).
        loss_fn: ``loss_fn(model, x, y)``, a scalar to minimise.
        log_every: print the mean loss every this many steps (0: never).
        eval_fn, eval_every: ``eval_fn(model)`` every ``eval_every`` steps and after the last,
            in eval mode and without gradients; its results are ``history.evals``.
    """
    module("model", model)
    tensor("tokens", tokens, ndim=1)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("context", context)):
        positive_int(name, value)
    number_in("lr", lr, 0, None, low_open=True)
    function("loss_fn", loss_fn)
    non_negative_int("eval_every", eval_every)
    if (eval_fn is None) != (eval_every == 0):
        raise ValueError(f"give eval_fn and eval_every > 0 together, got eval_every={eval_every}")
    if eval_fn is not None:
        function("eval_fn", eval_fn)
    warmup = max(1, steps // 20) if warmup is None else warmup
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (every requires_grad is False)")
    device = params[0].device
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history, start = LMHistory(), time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup)
        x, y = sample_windows(tokens, batch_size, context, generator)  # (B, T), (B, T)
        loss = loss_fn(model, x.to(device), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        history.losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == steps):
            recent = history.losses[-log_every:]
            print(
                f"step {step:>6}/{steps}: {sum(recent) / len(recent) / math.log(2):.3f} bits/byte "
                f"(train), {time.perf_counter() - start:.0f} s",
                flush=True,
            )
        if eval_every and (step % eval_every == 0 or step == steps):
            model.eval()
            with torch.no_grad():
                history.evals.append(eval_fn(model))
            history.eval_steps.append(step)
            model.train()
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
