"""Fitting scaling laws and reading compute-optimal allocations off them (Chapter 2).

* :func:`fit_power_law` fits ``L(x) = E + A / x**alpha`` (a power law plus an irreducible
  term ``E``; ``irreducible=False`` fits a pure power law ``A / x**alpha``).
* :func:`fit_chinchilla` fits the parametric law of Hoffmann et al. (2022),
  ``L(N, D) = E + A / N**alpha + B / D**beta``, the way the paper does: a Huber loss
  (``delta = 1e-3``) on the log of the loss, minimised with L-BFGS from a grid of starts.
* :meth:`ChinchillaLaw.compute_optimal` gives the model size and token count that minimise
  the law's loss at a compute budget ``C = 6 N D``.
* :func:`isoflop_minimum` finds the loss-minimising size of one IsoFLOP profile.

Every fit returns its constants with a goodness-of-fit figure: ``r2``, the coefficient of
determination of ``log L`` (1 is a perfect fit), and ``rms_log_error``, the root-mean-square
error of ``log L`` (about the typical relative error of a prediction).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize

from labsupport._validate import number_in, positive_int

ArrayLike = Sequence[float] | np.ndarray

#: FLOPs per parameter per training token of a dense transformer (forward + backward).
FLOPS_PER_PARAM_TOKEN = 6.0


def _positive_array(name: str, values: ArrayLike, *, min_len: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) < min_len:
        raise ValueError(f"{name} needs at least {min_len} points for this fit, got {len(array)}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must be finite and positive, got {array.tolist()}")
    return array


def _goodness(log_y: np.ndarray, log_pred: np.ndarray) -> tuple[float, float]:
    residual = log_y - log_pred
    total = np.sum((log_y - log_y.mean()) ** 2)
    r2 = 1.0 - np.sum(residual**2) / total if total > 0 else math.nan
    return float(r2), float(np.sqrt(np.mean(residual**2)))


@dataclass(frozen=True)
class PowerLaw:
    """``L(x) = E + A / x**alpha``, with its goodness of fit (``r2`` and ``rms_log_error`` of ``log L``)."""

    E: float
    A: float
    alpha: float
    r2: float = math.nan
    rms_log_error: float = math.nan

    def __call__(self, x: ArrayLike | float) -> np.ndarray:
        """The law's prediction at ``x``."""
        return self.E + self.A * np.asarray(x, dtype=float) ** (-self.alpha)

    def __str__(self) -> str:
        return (
            f"L(x) = {self.E:.4g} + {self.A:.4g} / x^{self.alpha:.4f}"
            f"   (R² of log L = {self.r2:.4f}, rms log error = {self.rms_log_error:.2e})"
        )


def _with_goodness(law: PowerLaw, log_y: np.ndarray, x: np.ndarray) -> PowerLaw:
    r2, rms = _goodness(log_y, np.log(law(x)))
    return replace(law, r2=r2, rms_log_error=rms)


def fit_power_law(x: ArrayLike, y: ArrayLike, *, irreducible: bool = True) -> PowerLaw:
    """Fit ``y = E + A / x**alpha`` by least squares on ``log y`` (Chapter 2).

    Args:
        x: positive sizes (parameters, tokens, FLOPs).
        y: positive losses, one per ``x``.
        irreducible: fit the irreducible term ``E >= 0``; ``False`` fixes ``E = 0`` (a straight
            line on log-log axes, fitted exactly by linear regression).

    Returns:
        A :class:`PowerLaw` with the fitted constants and goodness of fit.
    """
    x = _positive_array("x", x, min_len=4 if irreducible else 2)
    y = _positive_array("y", y, min_len=len(x))
    if len(x) != len(y):
        raise ValueError(f"x and y need the same length, got {len(x)} and {len(y)}")
    if np.unique(x).size < 2:
        raise ValueError(f"x needs at least two different values, got {x.tolist()}")
    log_x, log_y = np.log(x), np.log(y)

    def line(E: float) -> tuple[float, float]:  # best (log A, alpha) for a fixed E: a straight line
        slope, intercept = np.polyfit(log_x, np.log(y - E), 1)
        return intercept, -slope

    if not irreducible:
        log_a, alpha = line(0.0)
        return _with_goodness(PowerLaw(0.0, math.exp(log_a), alpha), log_y, x)

    def residuals(theta: np.ndarray) -> np.ndarray:
        log_a, alpha, E = theta
        return np.log(E + np.exp(log_a - alpha * log_x)) - log_y

    best = None
    y_min = float(y.min())
    for fraction in (0.0, 0.25, 0.5, 0.75, 0.9, 0.97, 0.99):  # starts: E as a fraction of min(y)
        start = np.array([*line(fraction * y_min), fraction * y_min])
        result = optimize.least_squares(
            residuals, start, bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, y_min * (1 - 1e-9)])
        )
        if best is None or result.cost < best.cost:
            best = result
    log_a, alpha, E = best.x
    return _with_goodness(PowerLaw(float(E), math.exp(log_a), float(alpha)), log_y, x)


@dataclass(frozen=True)
class ChinchillaLaw:
    """``L(N, D) = E + A / N**alpha + B / D**beta`` (Hoffmann et al., 2022), with its goodness of fit."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    r2: float = math.nan
    rms_log_error: float = math.nan
    huber: float = math.nan

    def __call__(self, N: ArrayLike | float, D: ArrayLike | float) -> np.ndarray:
        """Predicted loss of ``N`` parameters trained on ``D`` tokens."""
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A * N ** (-self.alpha) + self.B * D ** (-self.beta)

    @property
    def a(self) -> float:
        """Compute-optimal exponent of the model size: ``N_opt ∝ C**a``, ``a = beta / (alpha + beta)``."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Compute-optimal exponent of the token count: ``D_opt ∝ C**b``, ``b = alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    def compute_optimal(
        self, C: ArrayLike | float, *, flops_per_param_token: float = FLOPS_PER_PARAM_TOKEN
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(N_opt, D_opt)`` minimising the law's loss subject to ``C = 6 N D``.

        Setting the derivative along the constraint to zero gives
        ``N_opt = G (C/6)**a`` and ``D_opt = (C/6)**b / G`` with
        ``G = (alpha A / (beta B))**(1 / (alpha + beta))``.
        """
        C = _positive_array("C", np.atleast_1d(np.asarray(C, dtype=float)), min_len=1)
        number_in("flops_per_param_token", flops_per_param_token, 0, low_open=True)
        G = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        budget = C / flops_per_param_token
        return G * budget**self.a, budget**self.b / G

    def __str__(self) -> str:
        return (
            f"L(N, D) = {self.E:.4g} + {self.A:.4g} / N^{self.alpha:.4f} + {self.B:.4g} / D^{self.beta:.4f}"
            f"   (a = {self.a:.3f}, b = {self.b:.3f}; R² of log L = {self.r2:.4f})"
        )


#: Approach 3 of Hoffmann et al. (2022): the constants as printed in the paper.
HOFFMANN_2022 = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
#: The refit of the same law by Besiroglu et al. (2024) on data reconstructed from the paper.
BESIROGLU_2024 = ChinchillaLaw(E=1.817, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of the residuals and its derivative."""
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    return value, np.where(small, r, delta * np.sign(r))


def _chinchilla_objective(
    theta: np.ndarray, log_N: np.ndarray, log_D: np.ndarray, log_L: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Huber objective of ``theta = (a, b, e, alpha, beta)`` (``A = exp(a)``, ...) and its gradient.

    ``theta`` may be a batch of shape ``(G, 5)``: then the objectives of all ``G`` rows.
    """
    theta = np.atleast_2d(theta)
    a, b, e, alpha, beta = (theta[:, i : i + 1] for i in range(5))
    terms = np.stack([a - alpha * log_N, b - beta * log_D, np.broadcast_to(e, (len(theta), len(log_N)))])
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    prediction = top + np.log(total)  # log(A/N^alpha + B/D^beta + E), computed stably
    value, slope = _huber(prediction - log_L, delta)
    weights /= total  # d prediction / d (each term)
    grad = np.stack(
        [
            (slope * weights[0]).sum(1),
            (slope * weights[1]).sum(1),
            (slope * weights[2]).sum(1),
            -(slope * weights[0] * log_N).sum(1),
            -(slope * weights[1] * log_D).sum(1),
        ],
        axis=1,
    )
    return value.sum(1), grad


#: Box for L-BFGS-B on ``(log A, log B, log E, alpha, beta)``: wide, but it keeps ``exp`` finite
#: and the exponents non-negative when the data cannot pin a constant down.
_CHINCHILLA_BOUNDS = [(-20.0, 60.0), (-20.0, 60.0), (-10.0, 10.0), (0.0, 4.0), (0.0, 4.0)]


def chinchilla_grid() -> np.ndarray:
    """The starting points of Hoffmann et al.'s fit: every ``(a, b, e, alpha, beta)`` on their grid.

    ``alpha, beta`` in ``{0, 0.5, ..., 2}``, ``e`` in ``{-1, -0.5, ..., 1}``, ``a, b`` in ``{0, 5, ..., 25}``.
    """
    exponents = np.arange(0.0, 2.01, 0.5)
    offsets = np.arange(-1.0, 1.01, 0.5)
    scales = np.arange(0.0, 25.1, 5.0)
    return np.array(
        [
            (a, b, e, al, be)
            for a, b, e, al, be in itertools.product(scales, scales, offsets, exponents, exponents)
        ]
    )


def fit_chinchilla(
    N: ArrayLike, D: ArrayLike, L: ArrayLike, *, delta: float = 1e-3, starts: int = 16
) -> ChinchillaLaw:
    """Fit ``L(N, D) = E + A/N**alpha + B/D**beta`` as Hoffmann et al. (2022) do (Chapter 2).

    The objective is the Huber loss (``delta``) between ``log L`` and the log of the law's
    prediction, over ``theta = (log A, log B, log E, alpha, beta)``, minimised with L-BFGS.
    The paper starts L-BFGS from every point of a grid (:func:`chinchilla_grid`) and keeps the
    best fit; to stay fast, this evaluates the objective on the whole grid and starts L-BFGS
    from its ``starts`` best points. The search is kept inside a wide box (exponents between
    0 and 4) so that poorly constrained constants stay finite.

    Args:
        N: parameters of each run. D: training tokens of each run. L: its loss (positive).
        delta: the Huber threshold on log-loss residuals.
        starts: how many grid points to start L-BFGS from.
    """
    N = _positive_array("N", N, min_len=6)
    D = _positive_array("D", D, min_len=len(N))
    L = _positive_array("L", L, min_len=len(N))
    if not len(N) == len(D) == len(L):
        raise ValueError(f"N, D and L need the same length, got {len(N)}, {len(D)} and {len(L)}")
    number_in("delta", delta, 0, low_open=True)
    positive_int("starts", starts)
    log_N, log_D, log_L = np.log(N), np.log(D), np.log(L)
    grid = chinchilla_grid()
    values, _ = _chinchilla_objective(grid, log_N, log_D, log_L, delta)
    best = None
    for start in grid[np.argsort(values)[:starts]]:
        result = optimize.minimize(
            lambda t: tuple(x[0] for x in _chinchilla_objective(t, log_N, log_D, log_L, delta)),
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=_CHINCHILLA_BOUNDS,
            options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-12},
        )
        if best is None or result.fun < best.fun:
            best = result
    a, b, e, alpha, beta = best.x
    law = ChinchillaLaw(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=float(alpha), beta=float(beta))
    r2, rms = _goodness(log_L, np.log(law(N, D)))
    return replace(law, r2=r2, rms_log_error=rms, huber=float(best.fun))


def isoflop_minimum(N: ArrayLike, L: ArrayLike) -> float:
    """Size that minimises one IsoFLOP profile: the vertex of a parabola fitted to ``L`` vs ``log N``.

    This is Hoffmann et al.'s Approach 2. The parabola must open upwards (a U-shaped profile);
    otherwise a ``ValueError`` says the profile has no interior minimum.
    """
    N = _positive_array("N", N, min_len=3)
    L = _positive_array("L", L, min_len=len(N))
    if len(N) != len(L):
        raise ValueError(f"N and L need the same length, got {len(N)} and {len(L)}")
    curvature, slope, _ = np.polyfit(np.log(N), L, 2)
    if curvature <= 0:
        raise ValueError("this IsoFLOP profile is not U-shaped (the fitted parabola opens downwards)")
    return float(math.exp(-slope / (2 * curvature)))
