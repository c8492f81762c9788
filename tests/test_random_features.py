"""labsupport.random_features (Chapter 3), with PyTorch's pinv, lstsq and solve as the oracles."""

import math

import pytest
import torch

from labsupport.random_features import FeatureSweep, RandomReLUFeatures, feature_sweep, min_norm_solve


def _sphere(n, d, seed):
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def test_features_match_the_formula_and_are_nested():
    rf = RandomReLUFeatures.draw(5, 50, generator=torch.Generator().manual_seed(0))
    assert (rf.in_features, rf.max_features) == (5, 50)
    assert rf.weights.dtype == torch.float64
    x = _sphere(7, 5, 1)
    by_hand = math.sqrt(2 / 20) * torch.relu(x @ rf.weights[:, :20])
    torch.testing.assert_close(rf.features(x, 20), by_hand)
    # Nested: the first p features of a bigger model are the p-feature model, up to the scale.
    torch.testing.assert_close(rf.features(x, 50)[:, :20] * math.sqrt(50 / 20), rf.features(x, 20))


def test_feature_norm_is_about_the_input_norm():
    rf = RandomReLUFeatures.draw(10, 20_000, generator=torch.Generator().manual_seed(0))
    norms = rf.features(_sphere(50, 10, 2), 20_000).norm(dim=1)
    assert torch.allclose(norms, torch.ones(50, dtype=torch.float64), atol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_features": 0, "max_features": 5}, "in_features must be a positive int"),
        ({"in_features": 3, "max_features": 2.5}, "max_features must be a positive int"),
    ],
)
def test_draw_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomReLUFeatures.draw(**kwargs)


def test_features_reject_bad_inputs():
    rf = RandomReLUFeatures.draw(4, 10)
    with pytest.raises(ValueError, match=r"expected inputs of shape \(n, 4\)"):
        rf.features(torch.zeros(3, 5), 2)
    with pytest.raises(ValueError, match=r"num_features must be an int in \[1, 10\]"):
        rf.features(torch.zeros(3, 4), 11)


@pytest.mark.parametrize(("n", "p"), [(30, 10), (10, 30), (20, 20)])
def test_min_norm_solve_is_the_pseudo_inverse(n, p):
    g = torch.Generator().manual_seed(n * p)
    phi = torch.randn(n, p, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    torch.testing.assert_close(min_norm_solve(phi, y), torch.linalg.pinv(phi) @ y)


def test_min_norm_solve_matches_lstsq_and_interpolates():
    g = torch.Generator().manual_seed(0)
    tall = torch.randn(40, 8, generator=g, dtype=torch.float64)
    y = torch.randn(40, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(min_norm_solve(tall, y), torch.linalg.lstsq(tall, y).solution)
    wide = torch.randn(8, 40, generator=g, dtype=torch.float64)
    theta = min_norm_solve(wide, y[:8])
    torch.testing.assert_close(wide @ theta, y[:8])  # interpolates
    # ...and is the smallest interpolant: adding a null-space direction only makes it longer.
    null = torch.linalg.svd(wide).Vh[-1]
    assert (theta[:, 0] + 0.1 * null).norm() > theta[:, 0].norm()


def test_min_norm_solve_with_ridge_is_ridge_regression():
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(15, 25, generator=g, dtype=torch.float64)
    y = torch.randn(15, generator=g, dtype=torch.float64)
    ridge = 0.3
    expected = torch.linalg.solve(phi.T @ phi + ridge * torch.eye(25, dtype=torch.float64), phi.T @ y)
    torch.testing.assert_close(min_norm_solve(phi, y, ridge), expected)


@pytest.mark.parametrize(
    ("phi", "y", "ridge", "match"),
    [
        (torch.zeros(5), torch.zeros(5), 0.0, r"features must be a matrix \(n, p\)"),
        (torch.zeros(5, 3), torch.zeros(4), 0.0, r"targets must have shape \(5,\) or \(5, k\)"),
        (torch.zeros(5, 3), torch.zeros(5), -1.0, "ridge must be a number >= 0"),
    ],
)
def test_min_norm_solve_rejects_bad_inputs(phi, y, ridge, match):
    with pytest.raises(ValueError, match=match):
        min_norm_solve(phi, y, ridge)


def test_feature_sweep_records_every_p():
    rf = RandomReLUFeatures.draw(5, 100, generator=torch.Generator().manual_seed(0))
    x, xt = _sphere(20, 5, 1), _sphere(30, 5, 2)
    y, yt = x[:, 0], xt[:, 0]
    sweep = feature_sweep(rf, (x, y), (xt, yt), [5, 20, 100])
    assert isinstance(sweep, FeatureSweep) and sweep.num_features == (5, 20, 100)
    assert len(sweep.train_mse) == len(sweep.test_mse) == len(sweep.weight_norm) == 3
    assert sweep.train_mse[2] < 1e-20  # p > n interpolates
    assert sweep.peak in sweep.num_features


def test_feature_sweep_rejects_bad_inputs():
    rf = RandomReLUFeatures.draw(5, 10)
    data = (torch.zeros(4, 5), torch.zeros(4))
    with pytest.raises(TypeError, match="RandomReLUFeatures"):
        feature_sweep("features", data, data, [2])
    with pytest.raises(ValueError, match="at least one number of features"):
        feature_sweep(rf, data, data, [])
