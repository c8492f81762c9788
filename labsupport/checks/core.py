"""The generic checks of the labs' exercises: they say whether an answer is right, never what it is.

Each check prints a short confirmation when the answer is right and raises an
``AssertionError`` when it is not, so an autograder (nbgrader) and a learner read the same
verdict. A failing check says what is wrong and, where a common mistake explains the answer,
which one ("off by 2·d_model: a LayerNorm?"); it never prints the expected value, and a search
check never names the better value: reading the message must not solve the exercise.

* :func:`check_close`: a number; :func:`check_function`: a function of numbers;
* :func:`check_tensor_function`: a function of tensors;
* :func:`check_smallest`, :func:`check_closest` and :func:`check_largest`: the result of an
  open experiment (the smallest setting that meets a condition, the setting closest to a
  target), checked by testing the learner's answer and its rivals, so the check holds no answer.

Lab-specific checks live beside this module, one per lab (``labsupport.checks.serving`` ...).
(The argument checks that raise ``ValueError``/``TypeError`` for bad inputs are a different
thing, in ``labsupport._validate``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from labsupport._validate import describe

#: A known mistake: what it looks like (a hint), and the wrong value it gives.
Mistakes = Mapping[str, Any]


def _number(name: str, answer: Any) -> float:
    if answer is None or answer is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {answer!r}); fill in the exercise cell first")
    try:
        return float(answer)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number, got {type(answer).__name__}") from None


def _direction(got: float, want: float) -> str:
    if not math.isfinite(got):
        return "which is not a finite number"
    return "which is too large" if got > want else "which is too small"


def check_close(
    name: str,
    answer: Any,
    expected: float,
    *,
    rtol: float = 1e-6,
    atol: float = 0.0,
    mistakes: Mistakes | None = None,
) -> None:
    """Check a number against ``expected`` within ``rtol``/``atol``.

    ``mistakes`` maps a hint ("the factor 2 of keys and values?") to the value that mistake
    gives; an answer equal to one gets its hint. The message never shows ``expected``, so a
    visible check should pass a property of the answer (a measured or simulated quantity),
    not the answer's formula.
    """
    value = _number(name, answer)
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        print(f"✓ {name}: {value:.6g} is right")
        return
    for hint, wrong in (mistakes or {}).items():
        if math.isclose(value, float(wrong), rel_tol=rtol, abs_tol=atol):
            raise AssertionError(f"{name}: got {value:.6g}; {hint}")
    raise AssertionError(f"{name}: got {value:.6g}, {_direction(value, expected)} (tolerance {rtol:g})")


def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Sequence[Any]],
    *,
    rtol: float = 1e-6,
    mistakes: Mapping[str, Callable[..., Any]] | None = None,
) -> None:
    """Check ``fn(*case)`` against ``reference(*case)`` for every case.

    ``reference`` should measure rather than restate the answer (count a real model's
    parameters, simulate); the message says only that the answer is too large or too small.
    ``mistakes`` maps a hint to a function of the case giving what that mistake gives: an
    answer equal to it on a case gets the hint.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("check_function needs at least one case")
    for case in cases:
        got, want = fn(*case), float(reference(*case))
        value = _number(f"{name}{tuple(case)}", got)
        if math.isclose(value, want, rel_tol=rtol):
            continue
        for hint, wrong in (mistakes or {}).items():
            if math.isclose(value, float(wrong(*case)), rel_tol=rtol):
                raise AssertionError(f"{name}{tuple(case)}: got {got!r}; {hint}")
        raise AssertionError(f"{name}{tuple(case)}: got {got!r}, {_direction(value, want)}")
    print(f"✓ {name}: right on all {len(cases)} cases")


def _no_answer(name: str, answer: Any) -> None:
    if answer is None or answer is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {answer!r}); fill in the exercise cell first")


def check_smallest(
    name: str,
    answer: Any,
    satisfies: Callable[[Any], bool],
    smaller: Iterable[Any],
    *,
    condition: str,
) -> None:
    """Check that ``answer`` meets a condition and that no smaller candidate does.

    ``satisfies(x)`` says whether ``x`` meets ``condition`` (a phrase such as "drops under 1%");
    ``smaller`` holds the candidates below ``answer`` that it must beat: every smaller point of a
    grid, or ``[answer / 2]`` for a search to within a factor of 2. A failure says that a
    smaller candidate works, never which.
    """
    _no_answer(name, answer)
    if not satisfies(answer):
        raise AssertionError(f"{name} = {answer!r}: expected a value that {condition}; this one does not")
    if any(satisfies(rival) for rival in smaller):
        raise AssertionError(
            f"{name} = {answer!r} {condition}, but it is not the smallest: a smaller value does too"
        )
    print(f"✓ {name} = {answer!r}: it {condition}, and nothing smaller that was tried does")


def check_closest(name: str, answer: Any, distance: Callable[[Any], float], rivals: Iterable[Any]) -> None:
    """Check that ``distance(answer)`` is no larger than ``distance(rival)`` for every rival.

    A failure says that a closer candidate exists, never which.
    """
    _no_answer(name, answer)
    mine = distance(answer)
    if any(distance(rival) < mine for rival in rivals):
        raise AssertionError(
            f"{name} = {answer!r} is {mine:g} away from the target, but another candidate is closer"
        )
    print(f"✓ {name} = {answer!r} is the closest ({mine:g} away)")


def check_largest(
    name: str, answer: Any, value: Callable[[Any], float], rivals: Iterable[Any], *, what: str
) -> None:
    """Check that ``value(answer)`` (``what`` it measures) is at least ``value(rival)`` for every rival.

    A failure says that another candidate has more, never which.
    """
    _no_answer(name, answer)
    mine = value(answer)
    if any(value(rival) > mine for rival in rivals):
        raise AssertionError(f"{name} = {answer!r} has {what} {mine:.4g}, but another candidate has more")
    print(f"✓ {name} = {answer!r} has the largest {what} ({mine:.4g})")


def check_tensor_function(
    name: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    reference: Callable[[torch.Tensor], torch.Tensor],
    cases: Iterable[torch.Tensor],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Check ``fn(x)`` against ``reference(x)`` for every tensor ``x`` in ``cases``.

    ``fn`` gets a copy of each case, so an answer that changes its input in place is still
    compared fairly. The outputs must have the same shape and agree within ``rtol``/``atol``.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("check_tensor_function needs at least one case")
    for x in cases:
        got, want = fn(x.clone()), reference(x)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            raise AssertionError(
                f"{name}: expected a tensor of shape {tuple(want.shape)}, got {describe(got)}"
            )
        if not torch.allclose(got.float(), want.float(), rtol=rtol, atol=atol):
            error = (got.float() - want.float()).abs()
            i = int(error.flatten().argmax())
            where = f"row {i // got.shape[-1]}" if got.ndim == 2 else f"entry {i}"
            raise AssertionError(
                f"{name}: wrong on a {tuple(x.shape)} input, most of all in {where}"
                f" (got {got.flatten()[i].item():.6g} there)"
            )
    print(f"✓ {name}: matches the reference on all {len(cases)} cases")
