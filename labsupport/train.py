"""Training and evaluation loops shared by the labs.

Each lab writes its training loop out once, in the open; afterwards it calls :func:`fit`,
which is the same loop with a progress bar and a record of what happened.

* :func:`minibatches` is the one minibatch cursor: :func:`fit` and
  :func:`labsupport.sweep.train.train_sweep` both draw their batches from it, so a seeded
  generator is consumed the same way by both.
* :func:`evaluate` follows the convention of every ``evaluate*`` function in labsupport: a dict
  with ``"loss"`` and, when the targets are class labels, ``"accuracy"``; the values are plain
  Python floats (for a sweep of ``M`` models, :func:`~labsupport.sweep.train.evaluate_sweep`
  returns tensors of shape ``(M,)`` instead, one value per model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from labsupport._validate import module, non_negative_int, positive_int
from labsupport.data import Split, check_split

#: ``loss_fn(output, targets) -> scalar loss``; ``output`` is whatever the model returns.
LossFn = Callable[[Any, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """What :func:`fit` saw: the training loss per step and evaluations along the way."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)

    @property
    def final(self) -> dict[str, float]:
        """The last training loss and, if any, the last evaluation."""
        out = {"train_loss": self.train_loss[-1]} if self.train_loss else {}
        if self.eval_loss:
            out |= {"eval_loss": self.eval_loss[-1], "eval_accuracy": self.eval_accuracy[-1]}
        return out


def minibatches(
    data: Split,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless stream of ``(x, y)`` minibatches of ``data``, on ``device``.

    Each pass over the data draws a fresh permutation with ``generator`` (one ``randperm`` per
    pass, on the CPU) and walks through it ``batch_size`` examples at a time; a pass whose
    remainder is shorter than ``batch_size`` is cut and a new one starts, so every batch has
    exactly ``batch_size`` examples.

    When ``batch_size >= len(data)`` every batch is the whole set in its stored order (full-batch
    training) and ``generator`` is not used.
    """
    check_split("data", data)
    positive_int("batch_size", batch_size)
    device = torch.device(device) if device is not None else data.x.device
    x_all, y_all = data.x.to(device), data.y.to(device)
    n = len(y_all)
    if batch_size >= n:
        while True:
            yield x_all, y_all
    while True:
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            yield x_all.index_select(0, idx), y_all.index_select(0, idx)


def eval_batches(
    data: Split, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over ``data`` in order, ``batch_size`` examples at a time, moved to ``device``."""
    for start in range(0, len(data), batch_size):
        yield data.x[start : start + batch_size].to(device), data.y[start : start + batch_size].to(device)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block; its previous mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module, device: torch.device | str | None) -> torch.device:
    """``device`` if given, else the device of ``model``'s first parameter."""
    return torch.device(device) if device is not None else next(model.parameters()).device


def _is_class_labels(y: torch.Tensor) -> bool:
    return not y.is_floating_point() and not y.is_complex() and y.dtype != torch.bool


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Split,
    *,
    loss_fn: LossFn = nn.functional.cross_entropy,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean loss and (for class labels) accuracy of ``model`` on ``data``, in eval mode.

    The loss is averaged over examples. With integer targets the accuracy is the share of
    targets whose class is the argmax of the output's last dimension: per example for
    classifier logits ``(B, C)`` with targets ``(B,)``, per token for language-model logits
    ``(B, T, V)`` with targets ``(B, T)``. Integer targets whose shape is not the output's
    without its last dimension raise a ``ValueError``. Returns plain floats (see the module
    docstring for the convention).
    """
    module("model", model)
    check_split("data", data)
    positive_int("batch_size", batch_size)
    device = model_device(model, device)
    labels = _is_class_labels(data.y)
    total_loss, examples, correct, targets = 0.0, 0, 0, 0
    with eval_mode(model):
        for x, y in eval_batches(data, batch_size, device):
            out = model(x)
            total_loss += loss_fn(out, y).item() * len(y)
            examples += len(y)
            if labels:
                if not isinstance(out, torch.Tensor) or out.shape[:-1] != y.shape:
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ValueError(
                        f"accuracy needs outputs (..., classes) whose leading shape is the targets'"
                        f" {tuple(y.shape)}, got outputs {got}"
                    )
                correct += (out.argmax(dim=-1) == y).sum().item()
                targets += y.numel()
    result = {"loss": total_loss / examples}
    if labels:
        result["accuracy"] = correct / targets
    return result


def fit(
    model: nn.Module,
    train: Split,
    *,
    steps: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn = nn.functional.cross_entropy,
    eval_data: Split | None = None,
    eval_every: int = 0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` for ``steps`` minibatch steps; return a :class:`History`.

    Minibatches come from :func:`minibatches` (a fresh shuffle of ``train`` per pass with
    ``generator``, the whole set each step when ``batch_size >= len(train)``), so a seeded
    generator makes the run repeatable. With ``eval_data`` and ``eval_every > 0`` the model is
    evaluated every ``eval_every`` steps and at the end.
    """
    module("model", model)
    check_split("train", train)
    if eval_data is not None:
        check_split("eval_data", eval_data)
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    non_negative_int("eval_every", eval_every)
    device = model_device(model, device)
    batches = minibatches(train, batch_size, generator=generator, device=device)
    history = History()
    model.train()
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        x, y = next(batches)
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.steps.append(step)
        history.train_loss.append(loss.item())
        if eval_data is not None and eval_every and (step % eval_every == 0 or step == steps):
            metrics = evaluate(model, eval_data, loss_fn=loss_fn, device=device)  # restores train mode
            history.eval_steps.append(step)
            history.eval_loss.append(metrics["loss"])
            history.eval_accuracy.append(metrics.get("accuracy", float("nan")))
            bar.set_postfix(loss=f"{loss.item():.3f}", eval=f"{metrics['loss']:.3f}")
    bar.close()
    return history
