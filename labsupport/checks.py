"""Checks for the labs' exercises: they tell a learner whether an answer is right.

Each check prints a short confirmation when the answer is right and raises an
``AssertionError`` that says what was expected when it is not, so an autograder
(nbgrader) and a learner read the same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def check_close(name: str, answer: float, expected: float, *, rtol: float = 1e-6, atol: float = 0.0) -> None:
    """Check a number against the expected value within ``rtol``/``atol``."""
    if answer is None:
        raise AssertionError(f"{name}: no answer yet (got None); fill in the exercise cell first")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number, got {type(answer).__name__}") from None
    if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        raise AssertionError(
            f"{name}: got {value:.6g}, expected {expected:.6g} (relative tolerance {rtol:g})"
        )
    print(f"✓ {name}: {value:.6g} is right")


def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Sequence[Any]],
    *,
    rtol: float = 1e-6,
) -> None:
    """Check ``fn(*case)`` against ``reference(*case)`` for every case."""
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("check_function needs at least one case")
    for case in cases:
        got, want = fn(*case), reference(*case)
        if got is None or not math.isclose(float(got), float(want), rel_tol=rtol):
            raise AssertionError(f"{name}{tuple(case)}: got {got!r}, expected {want!r}")
    print(f"✓ {name}: right on all {len(cases)} cases")
