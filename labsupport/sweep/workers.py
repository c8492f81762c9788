"""Sharing a sweep's stacks among threads: ``train_sweep(..., workers=2)`` (Chapter 3's width sweep).

A sweep's padded stacks are independent: each has its own weights, its own part of the
gradient and its own part of the optimizer's state. So each CPU core can train some of them, on
the same minibatches, with no exchange between the threads but the batches they each draw from
their own copy of the generator. PyTorch releases Python's lock inside its operations, so two
threads keep two cores busy; each stack computes exactly what it computes alone, so the result
is the one-thread result, number for number (``tests/test_sweep_train.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from labsupport.sweep.model import MLPSweep

#: ``run(share, generator, stop, report_progress)`` trains the stacks ``share`` for every step,
#: drawing batches with ``generator``; it returns early once ``stop`` is set.
Worker = Callable[[list[int], "torch.Generator | None", threading.Event, bool], None]


def share_stacks(model: MLPSweep, workers: int) -> list[list[int]]:
    """The stacks in ``workers`` shares of about equal size (largest first, each to the lightest share).

    At most one share per stack: a sweep of one stack runs on one thread whatever ``workers``.
    Threads share a *CPU*'s cores; on a GPU (CUDA, or Apple's MPS, which is not safe to drive
    from two threads) the device already runs every stack, so there is one share.
    """
    if model.device.type != "cpu":
        workers = 1
    shares: list[list[int]] = [[] for _ in range(min(workers, len(model.layouts)))]
    load = [0] * len(shares)
    for g in sorted(range(len(model.layouts)), key=lambda g: -model.layouts[g].size):
        lightest = load.index(min(load))
        shares[lightest].append(g)
        load[lightest] += model.layouts[g].size
    return [sorted(share) for share in shares]


def segment(model: MLPSweep, g: int) -> tuple[int, int]:
    """Where stack ``g`` lies in ``model.flat``."""
    layout = model.layouts[g]
    return layout.offsets[0], layout.offsets[0] + layout.size


def merge(segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent segments joined: one update call covers them all."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(segments):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def run_shares(shares: list[list[int]], run: Worker, generator: torch.Generator | None) -> None:
    """Run ``run`` on every share at once: the first in this thread (it reports progress), the rest in others.

    Each extra thread draws from its own copy of ``generator``; this thread uses the caller's,
    which so ends where a one-thread run leaves it. If any thread fails (or the learner
    interrupts the cell), the others stop at their next step and the error is raised here.
    """
    stop = threading.Event()
    if len(shares) == 1:
        run(shares[0], generator, stop, True)
        return
    # train_sweep has checked that several workers come with a generator
    copies = [torch.Generator().set_state(generator.get_state()) for _ in shares[1:]]

    def guarded(share: list[int], copy: torch.Generator) -> None:
        try:
            run(share, copy, stop, False)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(len(shares) - 1) as pool:
        others = [pool.submit(guarded, share, copy) for share, copy in zip(shares[1:], copies, strict=True)]
        try:
            run(shares[0], generator, stop, True)
        except BaseException:
            stop.set()
            raise
        for worker in others:
            worker.result()
