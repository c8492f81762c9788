"""Argument checks shared by labsupport's modules: a bad input fails early, saying what was expected.

Every check takes the argument's ``name`` first and returns the value, so a call reads
``steps = positive_int("steps", steps)``. Every message has the form
``"{name} must be {what was expected}, got {what was given}"``.

* Numbers: a ``bool`` is never accepted where an int or a number is expected
  (``True == 1`` in Python, but ``steps=True`` is a mistake). A number of the wrong type or out
  of range is a ``ValueError``, as a bad value.
* Objects: a value of the wrong kind (not a tensor, a module, a function) is a ``TypeError``.

These checks raise ``ValueError``/``TypeError`` for the programmer; the exercise checks that
tell a learner whether an answer is right are in :mod:`labsupport.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1 (not a bool), else a ``ValueError``."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 0 (not a bool), else a ``ValueError``."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def int_in(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an int (not a bool) with ``low <= value <= high``, else a ``ValueError``."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        expected = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def number_in(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` if it is a finite int or float (not a bool) within the bounds, else a ``ValueError``.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``None`` leaves a side open.
    """
    inside = _is_number(value) and math.isfinite(value)
    if inside and low is not None:
        inside = value > low if low_open else value >= low
    if inside and high is not None:
        inside = value < high if high_open else value <= high
    if not inside:
        if low is not None and high is not None:
            expected = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            expected = f"a number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            expected = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            expected = "a finite number"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def one_of(name: str, value: T, options: Iterable[T], *, hint: str = "") -> T:
    """``value`` if it is one of ``options``, else a ``ValueError`` listing them (and ``hint``)."""
    options = list(options)
    if not any(value == option and type(value) is type(option) for option in options):
        raise ValueError(f"{name} must be one of {options!r}, got {value!r}{hint}")
    return value


def describe(value: object) -> str:
    """A short description of what was given: ``"a torch.int64 tensor of shape (3,)"`` or a type name."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def tensor(
    name: str,
    value: object,
    *,
    ndim: int | None = None,
    dtype: torch.dtype | str | None = None,
    what: str | None = None,
) -> torch.Tensor:
    """``value`` if it is a tensor with ``ndim`` dimensions and ``dtype``, else a ``TypeError``.

    ``dtype`` is a ``torch.dtype`` or ``"floating"``/``"integer"`` for any floating-point or
    integer (not bool) dtype. ``what`` replaces the generated description of what was expected.
    """
    ok = isinstance(value, torch.Tensor) and (ndim is None or value.ndim == ndim)
    if ok and dtype == "floating":
        ok = value.is_floating_point()
    elif ok and dtype == "integer":
        ok = not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool
    elif ok and dtype is not None:
        ok = value.dtype == dtype
    if not ok:
        if what is None:
            kind = {"floating": "floating-point ", "integer": "integer "}.get(dtype, "")
            what = f"{'' if ndim is None else f'{ndim}-D '}{kind}tensor"
            if isinstance(dtype, torch.dtype):
                what += f" of dtype {dtype}"
        article = "an" if what[0] in "aeiou" else "a"
        raise TypeError(f"{name} must be {article} {what}, got {describe(value)}")
    return value


def module(name: str, value: object) -> nn.Module:
    """``value`` if it is a ``torch.nn.Module``, else a ``TypeError``."""
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def function(name: str, value: T) -> T:
    """``value`` if it is callable, else a ``TypeError``."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def instance(name: str, value: object, cls: type[T] | tuple[type, ...], what: str | None = None) -> T:
    """``value`` if it is an instance of ``cls``, else a ``TypeError`` naming ``what`` was expected."""
    if not isinstance(value, cls):
        if what is None:
            names = [c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,))]
            what = "a " + " or a ".join(names)
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    return value


def top_k(k: object, num_experts: object) -> tuple[int, int]:
    """``(k, num_experts)`` if both are positive ints and ``k <= num_experts``, else a ``ValueError``."""
    num_experts = positive_int("num_experts", num_experts)
    k = positive_int("k", k)
    if k > num_experts:
        raise ValueError(f"k (experts per token) must be at most num_experts={num_experts}, got k={k}")
    return k, num_experts
