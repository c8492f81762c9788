"""Training and evaluation loops shared by the labs.

Each lab writes its training loop out once, in the open; afterwards it calls :func:`fit`,
which is the same loop with a progress bar and a record of what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from labsupport.data import Split

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


def _check_split(data: Split, what: str) -> None:
    if not isinstance(data, Split):
        raise TypeError(f"{what} must be a labsupport Split (x, y tensors), got {type(data).__name__}")
    if len(data.x) != len(data.y) or len(data.y) == 0:
        raise ValueError(
            f"{what} needs as many labels as inputs and at least one, got {len(data.x)} and {len(data.y)}"
        )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Split,
    *,
    loss_fn: LossFn = nn.functional.cross_entropy,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean loss and (for class labels) accuracy of ``model`` on ``data``, in eval mode."""
    _check_split(data, "data")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for start in range(0, len(data), batch_size):
        x = data.x[start : start + batch_size].to(device)
        y = data.y[start : start + batch_size].to(device)
        out = model(x)
        total_loss += loss_fn(out, y).item() * len(y)
        if out.ndim == 2 and y.dtype == torch.long:
            correct += (out.argmax(dim=1) == y).sum().item()
        count += len(y)
    model.train(was_training)
    result = {"loss": total_loss / count}
    if y.dtype == torch.long:
        result["accuracy"] = correct / count
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

    Minibatches are drawn by shuffling ``train`` once per pass with ``generator``, so a
    seeded generator makes the run repeatable. With ``eval_data`` and ``eval_every > 0``
    the model is evaluated every ``eval_every`` steps and at the end.
    """
    _check_split(train, "train")
    if eval_data is not None:
        _check_split(eval_data, "eval_data")
    if steps < 1 or batch_size < 1 or eval_every < 0:
        raise ValueError(
            f"need steps >= 1, batch_size >= 1, eval_every >= 0; got {steps}, {batch_size}, {eval_every}"
        )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    x_all, y_all = train.x.to(device), train.y.to(device)
    n = len(y_all)
    batch_size = min(batch_size, n)
    history = History()
    order = torch.randperm(n, generator=generator).to(device)
    cursor = 0
    model.train()
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        if cursor + batch_size > n:
            order = torch.randperm(n, generator=generator).to(device)
            cursor = 0
        idx = order[cursor : cursor + batch_size]
        cursor += batch_size
        loss = loss_fn(model(x_all[idx]), y_all[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.steps.append(step)
        history.train_loss.append(loss.item())
        if eval_data is not None and eval_every and (step % eval_every == 0 or step == steps):
            metrics = evaluate(model, eval_data, loss_fn=loss_fn, device=device)
            history.eval_steps.append(step)
            history.eval_loss.append(metrics["loss"])
            history.eval_accuracy.append(metrics.get("accuracy", float("nan")))
            model.train()
            bar.set_postfix(loss=f"{loss.item():.3f}", eval=f"{metrics['loss']:.3f}")
    bar.close()
    return history
