"""Random-features regression solved in closed form: double descent in seconds (Chapter 3).

A random-features model is a two-layer network whose first layer is drawn once and frozen,

.. math:: f(x) = \\theta^\\top \\phi(x), \\qquad \\phi(x) = \\sqrt{2/p}\\,\\mathrm{relu}(W^\\top x),

with ``W`` standard normal and inputs of norm about 1 (the lab puts them on the unit sphere), so
that ``|phi(x)|^2`` is about ``|x|^2``. Fitting it is linear least squares in the ``p`` output
weights ``theta``. With fewer features than training points (``p < n``) the least-squares fit is
unique; with more (``p > n``) infinitely many ``theta`` interpolate the data and
:func:`min_norm_solve` returns the one of smallest norm (the limit of ridge regression as the
ridge goes to zero, and what gradient descent from zero finds). Belkin et al. (2019) used such
models to show the test error peaking at ``p = n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from labsupport._validate import instance, int_in, number_in, positive_int


@dataclass(frozen=True)
class RandomReLUFeatures:
    """The frozen first layer ``W`` (shape ``(d, max_features)``) of a random-features model.

    ``features(x, p)`` uses the first ``p`` columns, so the models of a sweep over ``p`` are
    nested: each adds features to the previous one.
    """

    weights: torch.Tensor

    @classmethod
    def draw(
        cls,
        in_features: int,
        max_features: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> RandomReLUFeatures:
        """Draw ``W`` with independent standard normal entries (on the CPU, then moved to ``device``)."""
        positive_int("in_features", in_features)
        positive_int("max_features", max_features)
        weights = torch.randn(in_features, max_features, generator=generator, dtype=dtype)
        return cls(weights.to(device))

    @property
    def in_features(self) -> int:
        """Input dimension ``d``."""
        return self.weights.shape[0]

    @property
    def max_features(self) -> int:
        """The largest ``p`` available."""
        return self.weights.shape[1]

    def features(self, x: torch.Tensor, num_features: int) -> torch.Tensor:
        """``phi(x)`` with ``num_features`` features: ``(n, d) -> (n, p)``."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expected inputs of shape (n, {self.in_features}), got {tuple(x.shape)}")
        int_in("num_features", num_features, 1, self.max_features)
        w = self.weights[:, :num_features]
        scale = (2.0 / num_features) ** 0.5
        return scale * torch.relu(x.to(w.dtype) @ w)  # (n, p)


def min_norm_solve(features: torch.Tensor, targets: torch.Tensor, ridge: float = 0.0) -> torch.Tensor:
    """The ridge solution ``argmin |features @ theta - targets|^2 + ridge |theta|^2`` (Chapter 3).

    With ``ridge = 0`` this is the minimum-norm least-squares solution (the pseudo-inverse):
    the unique least-squares fit when ``p < n``, the smallest-norm interpolant when ``p > n``.
    Computed from one SVD, ``features = U diag(s) V^T``: ``theta = V diag(s / (s^2 + ridge)) U^T
    targets``, where directions with ``s`` below round-off (relative to the largest) are dropped.

    Args:
        features: ``(n, p)`` design matrix.
        targets: ``(n,)`` or ``(n, k)``.
        ridge: the penalty, ``>= 0``.

    Returns:
        ``theta`` of shape ``(p,)`` or ``(p, k)``, matching ``targets``.
    """
    if features.ndim != 2:
        raise ValueError(f"features must be a matrix (n, p), got shape {tuple(features.shape)}")
    if targets.ndim not in (1, 2) or targets.shape[0] != features.shape[0]:
        raise ValueError(
            f"targets must have shape ({features.shape[0]},) or ({features.shape[0]}, k), got {tuple(targets.shape)}"
        )
    number_in("ridge", ridge, 0)
    u, s, vh = torch.linalg.svd(features, full_matrices=False)
    if ridge == 0:
        cutoff = s.max() * max(features.shape) * torch.finfo(s.dtype).eps
        inverse = torch.where(s > cutoff, 1.0 / s, torch.zeros_like(s))
    else:
        inverse = s / (s**2 + ridge)
    y = targets.to(features.dtype)
    y2 = y[:, None] if y.ndim == 1 else y
    theta = vh.T @ (inverse[:, None] * (u.T @ y2))  # (p, k)
    return theta[:, 0] if y.ndim == 1 else theta


@dataclass(frozen=True)
class FeatureSweep:
    """Train and test mean squared errors, and ``|theta|``, for each number of features."""

    num_features: tuple[int, ...]
    train_mse: tuple[float, ...]
    test_mse: tuple[float, ...]
    weight_norm: tuple[float, ...]

    @property
    def peak(self) -> int:
        """The number of features with the largest test error."""
        return self.num_features[max(range(len(self.test_mse)), key=self.test_mse.__getitem__)]


def _mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    return (pred - target.to(pred.dtype)).pow(2).mean().item()


def feature_sweep(
    model: RandomReLUFeatures,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    num_features: Sequence[int],
    *,
    ridge: float = 0.0,
) -> FeatureSweep:
    """Fit ``theta`` by :func:`min_norm_solve` for every ``p`` in ``num_features``; record the errors.

    Args:
        model: the random first layer; ``p`` uses its first ``p`` columns.
        train, test: ``(x, y)`` pairs, ``x`` of shape ``(n, d)``, ``y`` of shape ``(n,)`` or ``(n, k)``.
        num_features: the values of ``p`` to try.
        ridge: the ridge penalty (0: minimum norm).
    """
    instance("model", model, RandomReLUFeatures)
    num_features = tuple(num_features)
    if not num_features:
        raise ValueError("num_features must list at least one number of features, got none")
    (x_train, y_train), (x_test, y_test) = train, test
    rows: list[tuple[float, float, float]] = []
    for p in num_features:
        phi_train = model.features(x_train, p)
        theta = min_norm_solve(phi_train, y_train, ridge)
        rows.append(
            (
                _mse(phi_train @ theta, y_train),
                _mse(model.features(x_test, p) @ theta, y_test),
                theta.norm().item(),
            )
        )
    train_mse, test_mse, norms = zip(*rows, strict=True)
    return FeatureSweep(num_features, train_mse, test_mse, norms)
