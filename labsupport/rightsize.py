"""Plumbing for the capstone (Lab 8): a grid of small runs, a law's uncertainty, real throughput.

The decision itself (which size, trained on how much data, for which query volume) stays in
the lab. This module holds the runs a law is fitted to (:class:`Grid`; the lab fills it with
its student MLPs, :func:`train_grid` with byte-level models), refits the law on bootstrap
resamples of those runs to show how uncertain its recommendation is, inverts the law for the
data a size needs to reach a target loss, and measures how many bytes per second a byte-level
model decodes on this machine::

    grid = train_grid((16, 32, 48), corpus.train, val, steps=400, eval_every=80,
                      batch_size=32, context=64)
    law = fit_chinchilla(*grid.arrays())
    laws = bootstrap_laws(grid, samples=20, seed=0)
    D = tokens_for_loss(law, N=6592, target=3.9)
    bytes_per_second = decode_throughput(model, batch=256, new_bytes=16)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from labsupport._validate import int_in, module, number_in, positive_int, tensor
from labsupport.codemodel import ByteLM, bits_per_byte, non_embedding_parameters
from labsupport.lm_train import train_lm
from labsupport.scaling import ChinchillaLaw, fit_chinchilla
from labsupport.serving import generate


@dataclass(frozen=True)
class Run:
    """One point of a grid: a model's width, its parameters ``N``, the data ``D`` it saw, its
    test loss (bits per byte for a language model) and its training time up to that point."""

    width: int
    N: int
    D: int
    loss: float
    seconds: float


@dataclass
class Grid:
    """The runs of :func:`train_grid`, in the order they trained."""

    runs: list[Run] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, D, L)`` as arrays, the arguments of :func:`~labsupport.fit_chinchilla`."""
        return tuple(np.array([getattr(r, k) for r in self.runs], dtype=float) for k in ("N", "D", "loss"))

    @property
    def seconds(self) -> float:
        """The training time of all runs together."""
        return sum(r.seconds for r in self.runs)


def train_grid(
    widths: tuple[int, ...],
    tokens: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    steps: int,
    eval_every: int,
    n_layers: int = 2,
    batch_size: int,
    context: int,
    lr: float = 1e-2,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> Grid:
    """Train a :class:`~labsupport.codemodel.ByteLM` of every width; a point every ``eval_every`` steps.

    As in Lab 2, the learning rate is constant after a short warm-up, so the model after
    ``s`` steps stands for a run of ``s`` steps: each checkpoint is a point ``(N, D, L)`` of the
    law, with ``D = s * batch_size * context`` bytes. Every width starts from the same seed and
    draws the same windows; ``val`` holds fixed validation windows ``(x, y)``. A point's
    ``seconds`` is the training time up to it.
    """
    tensor("tokens", tokens, ndim=1)
    if not widths:
        raise ValueError(f"widths must list at least one width, got {widths!r}")
    positive_int("steps", steps)
    int_in("eval_every", eval_every, 1, steps)
    grid = Grid()
    for d in widths:
        positive_int("widths", d)
        torch.manual_seed(seed)
        model = ByteLM(d, n_layers, context).to(device)
        N, start = non_embedding_parameters(model), time.perf_counter()

        def checkpoint(
            step: int, model: ByteLM = model, N: int = N, start: float = start, d: int = d
        ) -> None:
            if step % eval_every == 0:
                seconds = time.perf_counter() - start
                D = step * batch_size * context
                grid.runs.append(Run(d, N, D, bits_per_byte(model, *val), seconds))

        train_lm(
            model, tokens, steps=steps, batch_size=batch_size, context=context, lr=lr, seed=seed,
            warmup=max(1, steps // 20), schedule="constant", on_step=checkpoint,
        )  # fmt: skip
    return grid


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
    """The bytes ``D`` at which ``law(N, D) = target``; ``inf`` if size ``N`` can never reach it.

    Answer key: Lab 8's exercise 1 writes this inversion; its check only evaluates the law.
    """
    number_in("N", N, 0, None, low_open=True)
    number_in("target", target, 0, None, low_open=True)
    gap = target - law.E - law.A / N**law.alpha  # what the data term B / D^beta must come down to
    return math.inf if gap <= 0 else (law.B / gap) ** (1 / law.beta)


@torch.no_grad()
def decode_throughput(
    model: ByteLM, *, batch: int, new_bytes: int, prompt_bytes: int = 8, repeats: int = 3, seed: int = 0
) -> float:
    """Bytes per second ``model`` decodes (KV cache, greedy) for ``batch`` sequences at once.

    Prompts of random bytes; the median of ``repeats`` timed runs after one warm-up run.
    """
    module("model", model)
    positive_int("batch", batch)
    positive_int("repeats", repeats)
    int_in("prompt_bytes", prompt_bytes, 1, model.config.context - 1)
    int_in("new_bytes", new_bytes, 1, model.config.context - prompt_bytes)
    device = next(model.parameters()).device
    prompts = torch.randint(0, 256, (batch, prompt_bytes), generator=torch.Generator().manual_seed(seed))
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        generate(model, prompts.to(device), new_bytes)
        times.append(time.perf_counter() - start)
    return batch * new_bytes / float(np.median(times[1:]))
