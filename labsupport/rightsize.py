"""Plumbing for the capstone (Lab 8): the runs a law is fitted to, and the law's uncertainty.

The decision itself (which size, trained on how much data, for which query volume) stays in
the lab. This module holds the runs (:class:`Grid`), refits the law on bootstrap resamples of
them to show how uncertain its recommendation is, and inverts the law for the data a size
needs to reach a target loss::

    grid = Grid([Run(width, N, D, loss) for ...])
    law = fit_chinchilla(*grid.arrays())
    laws = bootstrap_laws(grid, samples=20, seed=0)
    D = tokens_for_loss(law, N=385, target=0.0132)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labsupport._validate import number_in, positive_int
from labsupport.scaling import ChinchillaLaw, fit_chinchilla


@dataclass(frozen=True)
class Run:
    """One small training run: the model's width, its parameters ``N``, the data ``D`` it saw
    (samples or tokens) and its final test loss."""

    width: int
    N: int
    D: int
    loss: float


@dataclass
class Grid:
    """The runs a law is fitted to."""

    runs: list[Run] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, D, L)`` as arrays, the arguments of :func:`~labsupport.fit_chinchilla`."""
        return tuple(np.array([getattr(r, k) for r in self.runs], dtype=float) for k in ("N", "D", "loss"))


def bootstrap_laws(grid: Grid, *, samples: int, seed: int = 0, starts: int = 4) -> list[ChinchillaLaw]:
    """The law refitted on ``samples`` resamples (with replacement) of the grid's runs.

    The spread of what the refitted laws recommend is the law's uncertainty: how much the
    answer would move had the grid's noise fallen differently. A resample that draws fewer
    than six distinct runs (too few for five constants) is drawn again.
    """
    positive_int("samples", samples)
    N, D, L = grid.arrays()
    if len(N) < 6:
        raise ValueError(f"the law has five constants: bootstrap needs at least 6 runs, got {len(N)}")
    rng = np.random.default_rng(seed)
    laws = []
    while len(laws) < samples:
        pick = rng.integers(0, len(N), len(N))
        if len(set(pick.tolist())) < 6:
            continue
        laws.append(fit_chinchilla(N[pick], D[pick], L[pick], starts=starts))
    return laws


def tokens_for_loss(law: ChinchillaLaw, N: float, target: float) -> float:
    """The data ``D`` at which ``law(N, D) = target``; ``inf`` if size ``N`` can never reach it.

    Answer key: Lab 8's exercise 1 writes this inversion; its check only evaluates the law.
    """
    number_in("N", N, 0, None, low_open=True)
    number_in("target", target, 0, None, low_open=True)
    gap = target - law.E - law.A / N**law.alpha  # what the data term B / D^beta must come down to
    return math.inf if gap <= 0 else (law.B / gap) ** (1 / law.beta)
