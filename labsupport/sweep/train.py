"""Training and evaluating a :class:`~labsupport.sweep.model.MLPSweep`: all its models at once (Chapter 2).

* :func:`per_model_loss` and :func:`per_model_accuracy`: one value per model, shape ``(M,)``.
* :func:`train_sweep` and :func:`evaluate_sweep`, with a :class:`SweepHistory`; the batched
  optimizers (Adam(W) or SGD with momentum, one learning rate per model) and the schedules are
  in :mod:`labsupport.sweep.optim`.

This is one of labsupport's two batched trainers. :func:`labsupport.distill.train_students`
is the other: it trains many copies of *one* architecture, each with its own data,
temperature and mixing weight, with ``torch.func.vmap`` and ``torch.optim.Adam``. A sweep
instead holds models of *different widths* (padded stacks) and lets each stop at its own step,
which ``vmap`` over one architecture cannot do, hence this hand-written optimizer.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from labsupport._validate import instance, non_negative_int, number_in, one_of, positive_int
from labsupport.data import Split, check_split
from labsupport.sweep.grad import TASKS, SweepGradient
from labsupport.sweep.model import MLPSweep
from labsupport.sweep.optim import OPTIMIZERS, SCHEDULES, BatchedAdam, BatchedSGD, lr_factors
from labsupport.sweep.workers import merge, run_shares, segment, share_stacks
from labsupport.train import eval_batches, minibatches

#: A source of fresh training data: ``sample(batch_size, generator) -> (x, y)``.
BatchSampler = Callable[[int, "torch.Generator | None"], tuple[torch.Tensor, torch.Tensor]]


def per_model_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str = "regression") -> torch.Tensor:
    """Mean loss of each model, shape ``(M,)``, from outputs ``(M, n, k)`` and shared targets.

    ``regression``: mean squared error, targets ``(n, k)`` or ``(n,)`` when ``k == 1``.
    ``classification``: cross-entropy, integer targets ``(n,)``.
    """
    one_of("task", task, TASKS)
    if outputs.ndim != 3:
        raise ValueError(f"expected outputs of shape (M, n, k), got {tuple(outputs.shape)}")
    num_models, n, k = outputs.shape
    if task == "classification":
        if targets.shape != (n,) or targets.dtype != torch.long:
            raise ValueError(
                f"classification needs integer targets of shape ({n},), got {targets.dtype} {tuple(targets.shape)}"
            )
        losses = F.cross_entropy(
            outputs.reshape(num_models * n, k), targets.repeat(num_models), reduction="none"
        )
        return losses.view(num_models, n).mean(dim=1)
    if targets.ndim == 1 and k == 1:
        targets = targets[:, None]
    if targets.shape != (n, k):
        raise ValueError(f"regression needs targets of shape ({n}, {k}), got {tuple(targets.shape)}")
    return (outputs - targets).pow(2).mean(dim=(1, 2))


def per_model_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of correct class predictions of each model, shape ``(M,)``."""
    if outputs.ndim != 3 or targets.shape != outputs.shape[1:2]:
        raise ValueError(
            f"expected outputs (M, n, k) and targets (n,), got {tuple(outputs.shape)} and {tuple(targets.shape)}"
        )
    return (outputs.argmax(dim=2) == targets).float().mean(dim=1)


@dataclass
class SweepHistory:
    """What :func:`train_sweep` saw: per-step, per-model training losses and evaluations.

    ``train_loss`` has shape ``(steps, M)``; ``eval_loss`` and ``eval_accuracy`` have shape
    ``(evaluations, M)`` (accuracy is NaN for regression). A model's training loss is NaN after
    its own last step (it is frozen, and not computed when its whole stack is).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    model_steps: list[int] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    eval_accuracy: torch.Tensor = field(default_factory=lambda: torch.empty(0))

    @property
    def final(self) -> dict[str, list[float]]:
        """Per model: training loss at its own last step and, if any, the last evaluation."""
        out: dict[str, list[float]] = {}
        if len(self.steps):
            out["train_loss"] = [self.train_loss[s - 1, m].item() for m, s in enumerate(self.model_steps)]
        if len(self.eval_steps):
            out["eval_loss"] = self.eval_loss[-1].tolist()
            out["eval_accuracy"] = self.eval_accuracy[-1].tolist()
        return out


@torch.no_grad()
def evaluate_sweep(
    model: MLPSweep, data: Split, *, task: str = "regression", batch_size: int = 4096
) -> dict[str, torch.Tensor]:
    """Per-model mean loss (and, for classification, accuracy) on ``data``.

    The convention of :func:`labsupport.evaluate`, with one value per model: the values are
    CPU tensors of shape ``(M,)``; ``"accuracy"`` is there only for ``task="classification"``.
    """
    instance("model", model, MLPSweep, "an MLPSweep")
    one_of("task", task, TASKS)
    check_split("data", data, in_features=model.in_features)
    positive_int("batch_size", batch_size)
    total_loss = torch.zeros(model.num_models, device=model.device)
    correct = torch.zeros(model.num_models, device=model.device)
    for x, y in eval_batches(data, batch_size, model.device):
        out = model(x)
        total_loss += per_model_loss(out, y, task) * len(y)
        if task == "classification":
            correct += per_model_accuracy(out, y) * len(y)
    result = {"loss": (total_loss / len(data)).cpu()}
    if task == "classification":
        result["accuracy"] = (correct / len(data)).cpu()
    return result


def _per_model(
    name: str, value: float | Sequence[float], num_models: int, dtype: torch.dtype
) -> torch.Tensor:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be one number or one per model ({num_models}), got {value!r}")
    values = torch.tensor(
        [value] * num_models if isinstance(value, int | float) else list(value), dtype=dtype
    )
    if values.shape != (num_models,):
        raise ValueError(f"{name} must be one number or one per model ({num_models}), got {value!r}")
    return values


def train_sweep(
    model: MLPSweep,
    train: Split | BatchSampler,
    *,
    steps: int | Sequence[int],
    batch_size: int,
    lr: float | Sequence[float] = 1e-3,
    task: str = "regression",
    schedule: str = "constant",
    warmup_steps: int = 0,
    min_lr_fraction: float = 0.1,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    momentum: float = 0.9,
    layer_lr: Sequence[Sequence[float]] | None = None,
    eval_data: Split | None = None,
    eval_every: int = 0,
    generator: torch.Generator | None = None,
    workers: int = 1,
    progress: bool = True,
    desc: str = "sweep",
) -> SweepHistory:
    """Train every model of ``model`` on the same minibatches, all at once; return a :class:`SweepHistory`.

    One of two batched trainers; see the module docstring for how it differs from
    :func:`labsupport.distill.train_students`.

    Args:
        model: the sweep to train (in place).
        train: a fixed :class:`~labsupport.Split`, whose minibatches come from
            :func:`labsupport.train.minibatches` (as :func:`labsupport.fit`'s do: a fresh
            shuffle per pass, the whole set each step when ``batch_size >= n``), or a function
            ``sample(batch_size, generator)`` returning fresh ``(x, y)`` every step.
        steps: one number, or one per model; model ``m`` is frozen after ``steps[m]`` steps.
        batch_size: examples per step, the same for all models.
        lr: peak learning rate, one number or one per model.
        task: ``"regression"`` (mean squared error) or ``"classification"`` (cross-entropy).
        schedule: ``"constant"`` or ``"cosine"`` (to ``min_lr_fraction`` of the peak at each
            model's own last step), after ``warmup_steps`` of linear warm-up.
        weight_decay: decoupled (AdamW) weight decay; with SGD, decay added to the gradient.
        optimizer: ``"adam"`` (AdamW) or ``"sgd"`` (with ``momentum``, as ``torch.optim.SGD``).
        momentum: SGD's momentum.
        layer_lr: optional multipliers of the learning rate per model and weight matrix, shape
            ``(M, depth + 1)``: model ``m``'s layer-``l`` weights learn at
            ``lr[m] * layer_lr[m][l]`` (biases at ``lr[m]``), as μP sets them (Chapter 2).
        eval_data: evaluated every ``eval_every`` steps and at the end when ``eval_every > 0``.
        generator: seeds minibatch order or the sampler, for repeatable runs.
        workers: CPU threads that share the stacks (at most one per stack): on a CPU with two
            cores, ``workers=2`` trains each half of the sweep on its own core, on the same
            minibatches, with the same result. On a GPU one thread drives the device, which
            runs every stack already: there ``workers`` has no effect.
    """
    instance("model", model, MLPSweep, "an MLPSweep")
    one_of("task", task, TASKS)
    one_of("schedule", schedule, SCHEDULES)
    one_of("optimizer", optimizer, OPTIMIZERS)
    if not callable(train):
        instance("train", train, Split, "a labsupport Split or a sampler function")
        check_split("train", train, in_features=model.in_features)
    if eval_data is not None:
        check_split("eval_data", eval_data, in_features=model.in_features)
    positive_int("batch_size", batch_size)
    non_negative_int("warmup_steps", warmup_steps)
    non_negative_int("eval_every", eval_every)
    positive_int("workers", workers)
    number_in("min_lr_fraction", min_lr_fraction, 0, 1)
    num_models, device = model.num_models, model.device
    model_steps = _per_model("steps", steps, num_models, torch.long)
    if (model_steps < 1).any():
        raise ValueError(f"every model needs steps >= 1, got {steps!r}")
    peak_lr = _per_model("lr", lr, num_models, torch.float32)
    if (peak_lr < 0).any():
        raise ValueError(f"learning rates must be >= 0, got {lr!r}")
    total_steps = int(model_steps.max())
    factors = lr_factors(
        torch.arange(1, total_steps + 1),
        model_steps,
        schedule=schedule,
        warmup_steps=warmup_steps,
        min_lr_fraction=min_lr_fraction,
    )
    lr_table = (peak_lr * factors).to(device)  # (steps, M): every model's rate at every step
    scales = None if layer_lr is None else [model.weight_multipliers(layer_lr)]
    shares = share_stacks(model, workers)
    if workers > 1 and (eval_every or generator is None):
        raise ValueError(
            "workers > 1 needs a generator (each worker draws the same minibatches from its own "
            "copy of it) and no evaluations during training (eval_every=0), got "
            f"generator={generator!r}, eval_every={eval_every}"
        )

    def make_optimizer() -> BatchedAdam | BatchedSGD:
        if optimizer == "sgd":
            return BatchedSGD(
                model.parameters_by_model(), momentum=momentum, weight_decay=weight_decay, scales=scales
            )
        return BatchedAdam(model.parameters_by_model(), weight_decay=weight_decay, scales=scales)

    history = SweepHistory(model_steps=model_steps.tolist())
    # a stack whose models have all passed their last step is skipped, not computed for nothing
    stack_steps = [int(model_steps[group].max()) for group in model.groups]
    train_loss = torch.full((total_steps, num_models), math.nan, device=device)
    eval_losses, eval_accuracies = [], []

    def run(share: list[int], generator: torch.Generator | None, stop: threading.Event, bar: bool) -> None:
        """Train the stacks ``share`` for every step: their forward, backward and update."""
        step_with = make_optimizer()
        # the hand-written backward (labsupport.sweep.grad): each model gets the gradient of
        # its own loss
        gradient = SweepGradient(model, task, share)
        segments = [segment(model, g) for g in share]
        if callable(train):
            batches = (train(batch_size, generator) for _ in range(total_steps))
        else:
            batches = minibatches(train, batch_size, generator=generator, device=device)
        for step in range(1, total_steps + 1):
            if stop.is_set():
                return
            x, y = next(batches)
            x, y = x.to(device), y.to(device)
            active = [step <= stack_steps[g] for g in share]
            rates = step_with.advance(lr_table[step - 1])
            gradient(x, y, active, train_loss[step - 1])
            step_with.update(rates, merge([seg for seg, on in zip(segments, active, strict=True) if on]))
            if bar:
                progress_bar.update()
            if eval_data is not None and eval_every and (step % eval_every == 0 or step == total_steps):
                metrics = evaluate_sweep(model, eval_data, task=task)
                history.eval_steps.append(step)
                eval_losses.append(metrics["loss"])
                eval_accuracies.append(metrics.get("accuracy", torch.full_like(metrics["loss"], math.nan)))

    model.train()
    if model.flat.grad is None:
        # made here, once, before any worker starts: every worker writes its stacks' part of it
        model.flat.grad = torch.zeros_like(model.flat.detach())
    with tqdm(total=total_steps, desc=desc, disable=not progress, leave=False) as progress_bar:
        # labsupport.sweep.workers: each share of the stacks on its own thread (one share: here)
        run_shares(shares, run, generator)
    history.steps = list(range(1, total_steps + 1))
    after_last = torch.arange(1, total_steps + 1, device=device)[:, None] > model_steps.to(device)
    history.train_loss = train_loss.masked_fill_(after_last, math.nan).cpu()
    if eval_losses:
        history.eval_loss = torch.stack(eval_losses)
        history.eval_accuracy = torch.stack(eval_accuracies)
    return history
