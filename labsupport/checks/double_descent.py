"""Lab 3's checks: the fit at the interpolation threshold and a peak read against seed noise.

* :func:`check_min_norm_interpolant` tests a learner's minimum-norm interpolant by what its
  definition says: it fits every target, no direction of the feature matrix's null space makes
  it shorter, and it has one weight per feature. The normal equations and a ridge left in get a
  hint. :func:`check_matches_min_norm_solve` compares with :func:`labsupport.min_norm_solve`:
  the oracle of the lab's hidden tests.
* :func:`check_peak_judgement` runs a learner's ``resolved_peak(by_seed, classical)`` on
  made-up width sweeps whose verdict is clear (a sharp peak, a bump inside the seed spread, a
  curve that never comes down, a curve that flattens) and on the learner's own sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from labsupport._validate import describe
from labsupport.random_features import min_norm_solve

#: An interpolant's relative residual |phi theta - y| / |y| may be round-off, no more.
_FIT_TOLERANCE = 1e-6
#: Its part in phi's null space, relative to |theta|, likewise.
_NULL_TOLERANCE = 1e-6


def _known_null_space(n: int, p: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A wide ``(n, p)`` matrix built with a known null space: ``(phi, y, null_basis (p - n, p))``."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=torch.float64))
    rows, null = q.T[:n], q.T[n:]  # orthonormal rows: phi's row space, and the rest
    mixing = torch.randn(n, n, generator=g, dtype=torch.float64) + 3 * torch.eye(n, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    return mixing @ rows, y, null


def _null_basis(phi: torch.Tensor) -> torch.Tensor:
    """Orthonormal rows spanning the null space of a full-rank wide ``phi`` (n, p): ``(p - n, p)``."""
    _, _, vh = torch.linalg.svd(phi, full_matrices=True)
    return vh[phi.shape[0] :]


def _call(fn: Callable, phi: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    n, p = phi.shape
    try:
        theta = fn(phi.clone(), y.clone())
    except torch.linalg.LinAlgError as exc:
        raise AssertionError(
            f"{name}: on a ({n}, {p}) phi it raised LinAlgError ({exc}). A matrix of rank n < p is"
            " singular: the normal equations (phi^T phi)^-1 phi^T y need p <= n; find a system"
            " that stays invertible when p > n"
        ) from None
    if not isinstance(theta, torch.Tensor):
        raise AssertionError(f"{name}: expected a tensor theta, got {describe(theta)}")
    if theta.shape == (n,) and n != p:
        raise AssertionError(
            f"{name}: theta has shape ({n},), one entry per training point; it needs one weight"
            f" per feature, shape ({p},)"
        )
    if theta.shape != (p,):
        raise AssertionError(
            f"{name}: on a ({n}, {p}) phi, expected theta of shape ({p},), got {describe(theta)}"
        )
    theta = theta.detach().to(torch.float64)
    if not torch.isfinite(theta).all():
        raise AssertionError(
            f"{name}: theta holds NaN or infinite values on a ({n}, {p}) phi: an inverse of a"
            " singular matrix? (phi^T phi has rank n < p)"
        )
    return theta


def _check_one(fn: Callable, phi: torch.Tensor, y: torch.Tensor, null: torch.Tensor, name: str) -> None:
    n, p = phi.shape
    theta = _call(fn, phi, y, name)
    residual = float((phi @ theta - y).norm() / y.norm())
    off_row_space = float((null @ theta).norm() / theta.norm()) if len(null) else 0.0
    where = f"on a ({n}, {p}) phi"
    if residual > _FIT_TOLERANCE:
        if off_row_space > 1e-3:
            raise AssertionError(
                f"{name}: {where}, phi @ theta misses y (relative residual {residual:.1e}), and"
                " theta has a large part in phi's null space: the normal equations? For p > n,"
                " phi^T phi is singular and its inverse is garbage"
            )
        if residual < 0.5:
            raise AssertionError(
                f"{name}: {where}, theta has no part in phi's null space, as it should, but"
                f" phi @ theta misses y (relative residual {residual:.1e}): a ridge left in? The"
                " minimum-norm interpolant fits every target exactly (the ridge goes to 0)"
            )
        raise AssertionError(
            f"{name}: {where}, phi @ theta misses y (relative residual {residual:.1e}); for p >= n"
            " some theta fits every target exactly"
        )
    if off_row_space > _NULL_TOLERANCE:
        raise AssertionError(
            f"{name}: {where}, theta fits y, but it is not the shortest: moving it along phi's null"
            " space (which changes no prediction) makes it shorter"
            f" ({off_row_space:.1%} of its length lies there). The normal equations for p > n, or a"
            " solve on n of the p columns, give such an interpolant"
        )


def check_min_norm_interpolant(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    cases: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    name: str = "min_norm_interpolant",
) -> None:
    """Check a learner's ``fn(phi, y)``: the smallest-norm ``theta`` with ``phi @ theta = y``.

    Runs ``fn`` on matrices built with a known null space and on ``cases``, pairs ``(phi, y)``
    with ``phi`` of shape ``(n, p)``, ``p >= n``, of full rank (the lab's own features at and
    past the interpolation threshold). On each, ``theta`` must have shape ``(p,)``, fit ``y`` to
    round-off, and have no part in ``phi``'s null space: any null-space direction added to it
    changes no prediction and only makes it longer. Prints a confirmation or raises
    ``AssertionError`` with a hint (normal equations, a ridge, wrong shape), never the answer.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("check_min_norm_interpolant needs at least one (phi, y) case")
    built = [_known_null_space(n, p, seed) for seed, (n, p) in enumerate([(5, 12), (4, 4), (8, 30)])]
    for phi, y, null in built:
        _check_one(fn, phi, y, null, name)
    for phi, y in cases:
        if phi.ndim != 2 or phi.shape[0] > phi.shape[1] or y.shape != (phi.shape[0],):
            raise ValueError(
                f"a case needs phi (n, p) with p >= n and y (n,), got {describe(phi)}, {describe(y)}"
            )
        phi, y = phi.to(torch.float64), y.to(torch.float64)
        _check_one(fn, phi, y, _null_basis(phi), name)
    sizes = ", ".join(str(tuple(phi.shape)) for phi in [b[0] for b in built] + [c[0] for c in cases])
    print(f"✓ {name}: fits every target, nothing in the null space, shape (p,); phi of {sizes}")


def check_matches_min_norm_solve(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    phi: torch.Tensor,
    y: torch.Tensor,
    *,
    name: str = "min_norm_interpolant",
    rtol: float = 1e-6,
) -> None:
    """The oracle (hidden tests): ``fn(phi, y)`` against :func:`labsupport.min_norm_solve`."""
    theta = _call(fn, phi, y, name)
    reference = min_norm_solve(phi, y).to(torch.float64)
    error = float((theta - reference).norm() / reference.norm())
    if error > rtol:
        raise AssertionError(f"{name}: differs from the minimum-norm solution by {error:.1e} (relative)")
    print(f"✓ {name}: agrees with the minimum-norm solution to {error:.0e}")


# -- reading a width sweep against seed noise --------------------------------------------------

#: The made-up sweeps' mean held-out error per width: a U (minimum at index 2), then a peak at
#: index 4 and a second descent.
_U_PEAK = np.array([0.60, 0.50, 0.45, 0.50, 0.58, 0.52, 0.47, 0.44])
_RISING = np.array([0.60, 0.50, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70])
_FLAT = np.array([0.60, 0.50, 0.45, 0.45, 0.449, 0.451, 0.45, 0.45])


def _seeds(mean: np.ndarray, jitter: float, repeats: int) -> np.ndarray:
    """``repeats`` seeds around ``mean``, spread ``2 * jitter`` at every width, mean unchanged."""
    signs = np.array([[1.0, -1.0, 0.0, 0.5, -0.5][r % 5] for r in range(repeats)])
    signs -= signs.mean()
    flip = np.where(np.arange(len(mean)) % 2 == 0, 1.0, -1.0)  # each seed zigzags
    by_seed = mean[None, :] + jitter * signs[:, None] * flip[None, :] / np.abs(signs).max()
    return by_seed


def _judge(fn: Callable, by_seed: np.ndarray, classical: int, name: str) -> int | None:
    try:
        answer = fn(by_seed.copy(), classical)
    except NotImplementedError:
        raise
    except Exception as exc:  # the learner's code may fail in any way: say where
        raise AssertionError(
            f"{name}: raised {type(exc).__name__} ({exc}) on a sweep of {by_seed.shape[1]} widths"
            f" and {by_seed.shape[0]} seeds"
        ) from None
    if answer is None:
        return None
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        raise AssertionError(
            f"{name}: expected the index of a width (an int) or None, got {describe(answer)}"
        )
    answer = int(answer)
    if not 0 <= answer < by_seed.shape[1]:
        raise AssertionError(f"{name}: returned {answer}, not an index of the {by_seed.shape[1]} widths")
    if answer <= classical:
        raise AssertionError(
            f"{name}: returned width index {answer}, at or before the classical minimum (index"
            f" {classical}): the peak of double descent lies past the bottom of the U"
        )
    return answer


def check_peak_judgement(
    fn: Callable[[np.ndarray, int], int | None],
    own: tuple[np.ndarray, int] | None = None,
    *,
    name: str = "resolved_peak",
) -> None:
    """Check a learner's ``fn(by_seed, classical) -> width index or None`` on clear cases.

    ``by_seed`` is ``(seeds, widths)`` held-out errors and ``classical`` the index of the bottom
    of the U. On made-up sweeps the verdict is not in doubt: a peak far above both the U and the
    second descent, with seeds that agree, is resolved (and is the highest point past the U); the
    same means with seeds that disagree by more than the bump are not; a curve that keeps rising
    to the widest network, or flattens, has no peak. How the learner draws the line in between
    is theirs. ``own``, the learner's own ``(by_seed, classical)``, must give ``None`` or a
    width past the classical minimum. Prints a confirmation or raises ``AssertionError``.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    peak = int(np.argmax(_U_PEAK[3:-1])) + 3
    for repeats in (2, 3):
        got = _judge(fn, _seeds(_U_PEAK, 0.003, repeats), 2, name)
        if got is None:
            raise AssertionError(
                f"{name}: with {repeats} seeds that agree within 0.6 points, a bump 13 points above"
                " the classical minimum and 14 above the widest network stands out of the seed"
                " noise, but your function says None"
            )
        if got != peak:
            raise AssertionError(
                f"{name}: on a sweep with one clear peak, you returned width index {got}, which is"
                " not the highest mean error past the classical minimum"
            )
    high_start = _U_PEAK.copy()
    high_start[0] = 0.9  # the smallest network is worst of all: that is not the peak
    if _judge(fn, _seeds(high_start, 0.003, 3), 2, name) != peak:
        raise AssertionError(
            f"{name}: on a sweep whose smallest network is the worst, you did not return the peak"
            " past the classical minimum"
        )
    drowned = _U_PEAK.copy()
    drowned[4] = 0.53  # an 8-point bump
    if (got := _judge(fn, _seeds(drowned, 0.2, 3), 2, name)) is not None:
        raise AssertionError(
            f"{name}: returned width index {got} on a sweep whose 3 seeds disagree by 40 points at"
            " every width: an 8-point bump is within what another seed could change. Compare the"
            " peak's height with the seed-to-seed spread"
        )
    if (got := _judge(fn, _seeds(_RISING, 0.003, 3), 2, name)) is not None:
        raise AssertionError(
            f"{name}: returned width index {got} on a curve that keeps rising up to the widest"
            " network: without a second descent after it, a highest point is not a peak"
        )
    if (got := _judge(fn, _seeds(_FLAT, 0.003, 3), 2, name)) is not None:
        raise AssertionError(
            f"{name}: returned width index {got} on a curve that stays flat (within 0.1 points)"
            " past the classical minimum: that is no peak"
        )
    if own is not None:
        by_seed, classical = own
        got = _judge(fn, np.asarray(by_seed, dtype=float), int(classical), name)
        verdict = "no peak resolved" if got is None else f"a peak at width index {got}"
        print(f"✓ {name}: right on 6 made-up sweeps; on your sweep it finds {verdict}")
    else:
        print(f"✓ {name}: right on 6 made-up sweeps")
