"""Lab 2's checks: the Huber objective that fits a scaling law, the fit it drives, and a
compute-optimal size found by search (Chapter 2).

They test properties, never a copy of the answer: on runs drawn exactly from a known law
``L(N, D) = E + A/N**alpha + B/D**beta`` the objective is zero at that law's constants and
grows when any constant moves; shifting every log-loss by ``c`` makes every residual ``c``, so
the objective must be the number of runs times the Huber loss of ``c``, quadratic below the
threshold and linear above it; a fit driven by the objective recovers the law from noisy runs
with outliers; and a compute-optimal size is the bottom of the law's loss along ``C = 6ND``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from labsupport.scaling import ChinchillaLaw

#: The law the checks draw their runs from (close to Besiroglu et al.'s refit of Chinchilla's).
KNOWN_LAW = ChinchillaLaw(E=1.8, A=480.0, B=2100.0, alpha=0.35, beta=0.37)
_CONSTANTS = ("log A", "log B", "log E", "alpha", "beta")


def _runs(noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """20 runs (5 sizes x 4 token counts) drawn from KNOWN_LAW, with multiplicative noise and,
    when noisy, two outliers 10% above the law."""
    N = np.repeat(np.logspace(7, 9.5, 5), 4)
    D = np.tile(np.logspace(9, 11.5, 4), 5)
    L = KNOWN_LAW(N, D)
    if noise:
        L = L * np.exp(np.random.default_rng(seed).normal(0.0, noise, L.size))
        L[[3, 13]] *= 1.1
    return N, D, L


def _theta(law: ChinchillaLaw) -> torch.Tensor:
    values = [math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta]
    return torch.tensor(values, dtype=torch.float64)


def _value(name: str, got: Any, where: str) -> float:
    if not isinstance(got, torch.Tensor):
        raise AssertionError(
            f"{name} {where}: expected a torch tensor (L-BFGS differentiates it), got {type(got).__name__}"
        )
    if got.ndim != 0:
        raise AssertionError(
            f"{name} {where}: expected one number, a 0-dimensional tensor (the sum over runs), got a "
            f"tensor of shape {tuple(got.shape)}"
        )
    return float(got.detach())


def _huber(r: float, delta: float) -> float:
    return 0.5 * r * r if abs(r) <= delta else delta * (abs(r) - 0.5 * delta)


def check_huber_objective(
    fn: Callable[..., Any], *, delta: float = 1e-3, name: str = "huber_objective"
) -> None:
    """Check ``fn(theta, log_N, log_D, log_L)``: the sum over runs of the Huber loss (threshold
    ``delta``) of ``log L_hat - log L``, with ``L_hat`` the law of ``theta = (log A, log B, log E,
    alpha, beta)``.

    Prints a confirmation or raises ``AssertionError`` saying which property failed.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    logs = [torch.tensor(np.log(v), dtype=torch.float64) for v in _runs()]
    n = len(logs[0])
    theta = _theta(KNOWN_LAW).requires_grad_()
    at_truth = fn(theta, *logs)
    value = _value(name, at_truth, "at the law the runs were drawn from")
    if not at_truth.requires_grad:
        raise AssertionError(
            f"{name}: its value does not depend on theta through torch operations, so L-BFGS gets no "
            "gradient (use torch functions on theta, not float() or numpy)"
        )
    if not abs(value) < 1e-12:
        raise AssertionError(
            f"{name}: got {value:.3g} for runs drawn exactly from a law, at that law's own theta; "
            "there every residual log L_hat - log L is zero, and so is the objective"
        )
    with torch.no_grad():
        for i, constant in enumerate(_CONSTANTS):
            moved = theta.detach().clone()
            moved[i] += 0.05
            if not float(fn(moved, *logs)) > 1e-9:  # rounding alone gives about 1e-30
                raise AssertionError(
                    f"{name}: moving {constant} away from the law the runs were drawn from does not "
                    "raise the objective; every constant must enter the prediction L_hat"
                )
        for c in (delta / 4, -delta / 2, 3 * delta, -30 * delta):
            _check_shift(fn, name, theta.detach(), logs, c, n, delta)
    print(
        f"✓ {name}: zero at the true law, raised by every constant, quadratic below δ = {delta:g} "
        "and linear above, summed over the runs"
    )


def _check_shift(
    fn: Callable[..., Any],
    name: str,
    theta: torch.Tensor,
    logs: list[torch.Tensor],
    c: float,
    n: int,
    delta: float,
) -> None:
    """Every log-loss lowered by ``c``: every residual is ``c``, the objective ``n * huber(c)``."""
    log_N, log_D, log_L = logs
    side = "below" if abs(c) <= delta else "above"
    where = f"with every residual equal to {c:+.2g} ({side} δ = {delta:g})"
    got = _value(name, fn(theta, log_N, log_D, log_L - c), where)
    right = n * _huber(c, delta)
    if math.isclose(got, right, rel_tol=1e-6):
        return
    mistakes = {
        "the mean over the runs: sum the Huber losses, as Hoffmann et al. do": right / n,
        "twice the quadratic part: below δ the Huber loss is r²/2": n * c * c,
        "quadratic for a large residual too: above δ the Huber loss grows linearly": n * 0.5 * c * c,
        "the line must continue the parabola: at |r| = δ both are δ²/2": n * delta * abs(c),
    }
    for hint, wrong in mistakes.items():
        if math.isclose(got, wrong, rel_tol=1e-6):
            raise AssertionError(f"{name} {where}: got {got:.6g}; {hint}")
    direction = "which is too large" if got > right else "which is too small"
    raise AssertionError(f"{name} {where}: got {got:.6g}, {direction}")


def check_recovers_law(
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
    *,
    name: str = "fit_law",
    exponent_atol: float = 0.02,
    E_rtol: float = 0.03,
) -> None:
    """Check that ``fit(N, D, L)`` (returning a law with ``E``, ``alpha``, ``beta``) recovers the
    known law from 20 runs with 0.1% noise and two outliers 10% off.

    The law the runs come from is printed: it is the test's data, not an exercise's answer.
    """
    N, D, L = _runs(noise=1e-3, seed=0)
    law = fit(N, D, L)
    try:
        alpha, beta, E = float(law.alpha), float(law.beta), float(law.E)
    except (AttributeError, TypeError, ValueError):
        raise AssertionError(f"{name}: expected a law with E, alpha and beta, got {law!r}") from None
    drawn = f"runs drawn from L = {KNOWN_LAW.E} + {KNOWN_LAW.A:g}/N^{KNOWN_LAW.alpha} + {KNOWN_LAW.B:g}/D^{KNOWN_LAW.beta}"
    found = f"alpha = {alpha:.3f}, beta = {beta:.3f}, E = {E:.3f}"
    if not (
        abs(alpha - KNOWN_LAW.alpha) <= exponent_atol
        and abs(beta - KNOWN_LAW.beta) <= exponent_atol
        and math.isclose(E, KNOWN_LAW.E, rel_tol=E_rtol)
    ):
        raise AssertionError(
            f"{name} on {drawn} (0.1% noise, two outliers 10% off): found {found}, too far from the law"
        )
    print(f"✓ {name} recovers the law of 20 noisy runs with two outliers: {found}")


def check_optimal_size(name: str, law: ChinchillaLaw, C: Any, N: float, *, rtol: float = 0.01) -> None:
    """Check that ``N`` parameters is compute-optimal for budget ``C`` under ``law``, within ``rtol``.

    Along ``C = 6 N D`` the loss ``law(N, C / (6 N))`` is a valley in ``log N``; ``N`` is its
    bottom (within ``rtol``) when the loss falls towards ``N / (1 + rtol)`` and rises beyond
    ``N * (1 + rtol)``. A failure says whether ``C`` is too large or too small, never by how much.
    """
    if C is None or C is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {C!r}); fill in the exercise cell first")
    try:
        C = float(C)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number, got {type(C).__name__}") from None
    if not (math.isfinite(C) and C > 0):
        raise AssertionError(f"{name} = {C!r}: expected a positive number of FLOPs")

    def slope(log_n: float, h: float = 1e-3) -> float:  # d loss / d log N along C = 6ND
        def loss(x: float) -> float:
            return float(law(math.exp(x), C / (6 * math.exp(x))))

        return (loss(log_n + h) - loss(log_n - h)) / (2 * h)

    size = f"{N:.3g} parameters"
    if slope(math.log(N * (1 + rtol))) < 0:
        raise AssertionError(
            f"{name} = {C:.3g}: at this budget the loss is still falling as N grows past {size}, "
            "so the compute-optimal size is larger: the budget is too large"
        )
    if slope(math.log(N / (1 + rtol))) > 0:
        raise AssertionError(
            f"{name} = {C:.3g}: at this budget the loss is already rising as N grows towards {size}, "
            "so the compute-optimal size is smaller: the budget is too small"
        )
    print(f"✓ {name} = {C:.3g} FLOPs: {size} is compute-optimal there (within {rtol:.0%})")
