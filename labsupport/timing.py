"""Wall-clock timing that is fair to GPUs (synchronised) and robust to noise (median)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from labsupport._validate import function, non_negative_int, positive_int


@dataclass(frozen=True)
class Timing:
    """Seconds per call over several repeats."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median seconds per call: the number to report."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """Max minus min seconds: how noisy the measurement was."""
        return max(self.seconds) - min(self.seconds)

    def __str__(self) -> str:
        return (
            f"{self.median * 1e3:.3f} ms (median of {len(self.seconds)}, spread {self.spread * 1e3:.3f} ms)"
        )


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device is not None and device.type == "mps":
        torch.mps.synchronize()


def time_it(
    fn: Callable[[], object],
    *,
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str | None = None,
) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls.

    Pass the ``device`` the work runs on so GPU work is waited for before the clock stops.
    """
    function("fn", fn)
    positive_int("repeats", repeats)
    non_negative_int("warmup", warmup)
    device = torch.device(device) if device is not None else None
    for _ in range(warmup):
        fn()
    _sync(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


def time_in_turn(
    fns: Mapping[str, Callable[[], object]],
    *,
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str | None = None,
) -> dict[str, Timing]:
    """Time several functions taking turns (A, B, C, A, B, C, ...), each ``repeats`` times
    after ``warmup`` untimed calls; return each one's :class:`Timing`.

    A ratio of two medians measured this way compares like with like: a change in the
    machine's load during the run touches every function alike, where timing A ``repeats``
    times and then B would put all of it on one side.
    """
    if not isinstance(fns, Mapping) or not fns:
        raise ValueError(f"fns must be a non-empty mapping of names to functions, got {fns!r}")
    for name, fn in fns.items():
        function(f"fns[{name!r}]", fn)
    positive_int("repeats", repeats)
    non_negative_int("warmup", warmup)
    device = torch.device(device) if device is not None else None
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            _sync(device)
            seconds[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(s)) for name, s in seconds.items()}


def matmul_flops_per_second(
    n: int = 1024,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    repeats: int = 5,
) -> float:
    """Achieved FLOP/s of an ``n x n`` by ``n x n`` matmul (``2 n^3`` FLOPs): a practical peak."""
    positive_int("n", n)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    timing = time_it(lambda: a @ b, repeats=repeats, warmup=2, device=device)
    return 2 * n**3 / timing.median
