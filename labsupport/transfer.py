"""A grid of widths x learning rates, trained at once, for hyperparameter transfer (Chapter 2, Lab 8).

Tuning a large model by trial costs one full training run per trial; the alternative is to
tune a small proxy and transfer the setting. Whether that works depends on how the model is
parametrized: which per-layer initialisation scales and learning-rate multipliers go with
each width. Those rules are the lesson and are written in the lab (a function
``scales(width, base_width, depth) -> (init, lr)`` of per-weight-matrix multipliers); this
module is the plumbing that trains every (width, learning rate, seed) with them as one
:class:`~labsupport.sweep.model.MLPSweep` and reads the best learning rate of each width::

    grid = train_lr_grid(my_scales, sample, test, widths=(8, 128), lrs=(1e-3, 1e-2), seeds=2,
                         steps=400, batch_size=128, depth=2)
    grid.best_index()   # per width: the grid step with the lowest loss (mean over seeds)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from labsupport._validate import positive_int
from labsupport.data import Split
from labsupport.sweep.model import MLPSweep
from labsupport.sweep.train import BatchSampler, evaluate_sweep, train_sweep

#: ``scales(width, base_width, depth) -> (init, lr)``: one multiplier per weight matrix
#: (``depth + 1`` of them, input layer first) of the default initialisation and of the
#: learning rate.
Scales = Callable[[int, int, int], tuple[Sequence[float], Sequence[float]]]


def check_scales(scales: Scales, width: int, base_width: int, depth: int) -> tuple[list[float], list[float]]:
    """Call ``scales`` and check its answer: two lists of ``depth + 1`` finite positive numbers."""
    if not callable(scales):
        raise TypeError(f"scales must be a function (width, base_width, depth) -> (init, lr), got {scales!r}")
    answer = scales(width, base_width, depth)
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise ValueError(
            f"scales({width}, {base_width}, {depth}) must return (init, lr), two lists, got {answer!r}"
        )
    out = []
    for name, values in zip(("init", "lr"), answer, strict=True):
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
        if len(values) != depth + 1:
            raise ValueError(
                f"{name} needs one multiplier per weight matrix ({depth + 1} for depth {depth}), "
                f"got {len(values)} at width {width}"
            )
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"{name} multipliers must be finite and > 0, got {values} at width {width}")
        out.append(values)
    return out[0], out[1]


@dataclass(frozen=True)
class LRGrid:
    """Test losses of a width x learning-rate grid: ``loss[seed, width, lr]``."""

    widths: tuple[int, ...]
    lrs: tuple[float, ...]
    loss: np.ndarray

    def mean_log_loss(self) -> np.ndarray:
        """Mean over seeds of log(loss), shape ``(widths, lrs)``; a diverged run counts as +inf."""
        logs = np.log(np.where(np.isfinite(self.loss), self.loss, np.inf))
        return logs.mean(axis=0)

    def best_index(self) -> list[int]:
        """Per width, the grid step (index into ``lrs``) with the lowest mean log loss."""
        return [int(i) for i in self.mean_log_loss().argmin(axis=1)]

    def best_index_per_seed(self) -> np.ndarray:
        """The best grid step of every seed and width, shape ``(seeds, widths)``."""
        logs = np.log(np.where(np.isfinite(self.loss), self.loss, np.inf))
        return logs.argmin(axis=2)

    def best_lr(self) -> list[float]:
        """Per width, the learning rate with the lowest mean log loss."""
        return [self.lrs[i] for i in self.best_index()]

    def loss_at(self, width: int, lr_index: int) -> float:
        """Geometric mean over seeds of the loss of ``width`` at grid step ``lr_index``."""
        return float(np.exp(self.mean_log_loss()[self.widths.index(width), lr_index]))


def train_lr_grid(
    scales: Scales,
    sample: BatchSampler,
    test: Split,
    *,
    widths: Sequence[int],
    lrs: Sequence[float],
    seeds: int,
    steps: int,
    batch_size: int,
    depth: int,
    base_width: int | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> LRGrid:
    """Train every (seed, width, learning rate) at once with ``scales``; return their test losses.

    Every model starts from ``nn.Linear``'s initialisation multiplied, weight matrix by weight
    matrix, by ``init``, and trains with Adam at ``lr * lr_multiplier`` per weight matrix
    (biases at ``lr``), a cosine schedule and fresh samples from ``sample`` (the same stream
    for all; the seeds differ in their initialisation). ``base_width`` (default: the
    smallest width) is where the rules are calibrated.
    """
    widths, lrs = tuple(int(w) for w in widths), tuple(float(lr) for lr in lrs)
    if not widths or not lrs:
        raise ValueError(f"need at least one width and one learning rate, got {widths} and {lrs}")
    if any(lr <= 0 or not math.isfinite(lr) for lr in lrs):
        raise ValueError(f"learning rates must be finite and > 0, got {lrs}")
    positive_int("seeds", seeds)
    base = min(widths) if base_width is None else positive_int("base_width", base_width)
    members = [(w, lr) for _ in range(seeds) for w in widths for lr in lrs]
    rules = {w: check_scales(scales, w, base, depth) for w in widths}
    model = MLPSweep(
        [w for w, _ in members], test.x.shape[1], 1, depth=depth,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    model.scale_weights_([rules[w][0] for w, _ in members])
    model = model.to(device)
    train_sweep(
        model, sample, steps=steps, batch_size=batch_size, lr=[lr for _, lr in members],
        layer_lr=[rules[w][1] for w, _ in members], schedule="cosine",
        generator=torch.Generator().manual_seed(seed), progress=False,
    )  # fmt: skip
    loss = evaluate_sweep(model, test)["loss"].numpy().astype(float)
    loss[~np.isfinite(loss)] = np.inf
    return LRGrid(widths, lrs, loss.reshape(seeds, len(widths), len(lrs)))
