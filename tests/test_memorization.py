"""Chapter 3's support code: label corruption, random features, smoothness and trajectories.

Unit tests use PyTorch (pinv, lstsq, autograd, plain loops) as the oracle; the tests marked
``slow`` run the lab's experiments at a small size and assert the effects the chapter claims.
"""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from labsupport import (
    FeatureSweep,
    MLPSweep,
    RandomReLUFeatures,
    Trajectory,
    corrupt_labels,
    feature_sweep,
    input_gradient_norms,
    load_mnist1d,
    min_norm_solve,
)

# ---------------------------------------------------------------- corrupt_labels


def test_corrupt_labels_changes_the_expected_share():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (100_000,), generator=g)
    noisy = corrupt_labels(y, 0.5, 10, generator=g)
    # Half are redrawn; a redrawn label is wrong with probability 9/10: 45% +- 0.5% (many SDs).
    assert abs((noisy != y).float().mean().item() - 0.45) < 0.005
    assert noisy.dtype == torch.long and noisy.shape == y.shape
    assert noisy.min() >= 0 and noisy.max() < 10


def test_corrupt_labels_extremes_and_input_untouched():
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 3, (1_000,), generator=g)
    before = y.clone()
    same = corrupt_labels(y, 0.0, 3, generator=g)
    assert torch.equal(same, y) and same is not y
    random = corrupt_labels(y, 1.0, 3, generator=g)
    assert torch.equal(y, before)  # the input is not modified
    # With every label redrawn, agreement with the truth is chance, 1/3.
    assert abs((random == y).float().mean().item() - 1 / 3) < 0.05


def test_corrupt_labels_changes_at_most_the_chosen_count():
    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 10, (1_000,), generator=g)
    assert (corrupt_labels(y, 0.1, 10, generator=g) != y).sum() <= 100


def test_corrupt_labels_is_repeatable():
    y = torch.arange(10).repeat(50)
    a = corrupt_labels(y, 0.3, 10, generator=torch.Generator().manual_seed(3))
    b = corrupt_labels(y, 0.3, 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("labels", "fraction", "num_classes", "error", "match"),
    [
        (torch.zeros(5), 0.5, 10, TypeError, "torch.long"),
        (torch.zeros(2, 3, dtype=torch.long), 0.5, 10, TypeError, "1-D tensor"),
        ([0, 1, 2], 0.5, 10, TypeError, "got list"),
        (torch.zeros(5, dtype=torch.long), 1.5, 10, ValueError, r"fraction must be a number in \[0, 1\]"),
        (torch.zeros(5, dtype=torch.long), True, 10, ValueError, "fraction"),
        (torch.zeros(5, dtype=torch.long), 0.5, 1, ValueError, "num_classes must be an int >= 2"),
        (torch.tensor([0, 12]), 0.5, 10, ValueError, r"labels must lie in \[0, 10\)"),
    ],
)
def test_corrupt_labels_rejects_bad_inputs(labels, fraction, num_classes, error, match):
    with pytest.raises(error, match=match):
        corrupt_labels(labels, fraction, num_classes)


# ---------------------------------------------------------------- random features


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


# ---------------------------------------------------------------- input_gradient_norms


def test_gradient_norms_of_linear_maps():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g)
    w = torch.randn(4, generator=g)
    torch.testing.assert_close(input_gradient_norms(lambda z: z @ w, x), w.norm().expand(6))
    big_w = torch.randn(4, 3, generator=g)
    # A linear map's Jacobian is big_w.T everywhere; its Frobenius norm is big_w's.
    torch.testing.assert_close(input_gradient_norms(lambda z: z @ big_w, x), big_w.norm().expand(6))
    assert not x.requires_grad


def test_gradient_norms_of_a_sweep_match_each_member():
    sweep = MLPSweep([3, 5], 2, 2, depth=1, generator=torch.Generator().manual_seed(0))
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))
    norms = input_gradient_norms(sweep, x)
    assert norms.shape == (2, 7)
    for m in range(2):
        member = sweep.member(m)
        jacobians = torch.stack([torch.autograd.functional.jacobian(member, row) for row in x])  # (7, 2, 2)
        torch.testing.assert_close(norms[m], jacobians.flatten(1).norm(dim=1))


def test_gradient_norms_reject_bad_inputs():
    with pytest.raises(TypeError, match="fn must be callable"):
        input_gradient_norms("f", torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"floating-point tensor of shape \(n, d\)"):
        input_gradient_norms(lambda z: z, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="n=3"):
        input_gradient_norms(lambda z: z.sum(), torch.zeros(3, 2))


# ---------------------------------------------------------------- Trajectory


def test_trajectory_of_one_model_matches_a_manual_record():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trajectory = Trajectory(list(model.parameters()))
    start = torch.cat([p.detach().flatten() for p in model.parameters()])
    previous, length = start.clone(), 0.0
    for _ in range(5):
        loss = model(torch.randn(4, 3)).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trajectory.update()
        now = torch.cat([p.detach().flatten() for p in model.parameters()])
        length += (now - previous).norm().item()
        previous = now
    assert trajectory.length.ndim == 0
    assert trajectory.length.item() == pytest.approx(length, rel=1e-6)
    assert trajectory.distance.item() == pytest.approx((previous - start).norm().item(), rel=1e-6)
    assert trajectory.distance <= trajectory.length  # a path is never shorter than its chord


def test_trajectory_per_model_for_a_sweep():
    sweep = MLPSweep([4, 4, 8], 1, 1, depth=1, generator=torch.Generator().manual_seed(0))
    members_before = [sweep.member(m) for m in range(3)]
    params, index = zip(*sweep.parameters_by_model(), strict=True)
    trajectory = Trajectory(params, index)
    optimizer = torch.optim.SGD(sweep.parameters(), lr=0.05)
    x = torch.linspace(-1, 1, 16)[:, None]
    target = torch.stack([torch.sin(k * x) for k in (1.0, 2.0, 3.0)])  # (3, 16, 1)
    for _ in range(3):
        loss = (sweep(x) - target).pow(2).mean(dim=(1, 2)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trajectory.update()
    assert trajectory.length.shape == trajectory.distance.shape == (3,)
    for m in range(3):
        before = torch.cat([p.flatten() for p in members_before[m].parameters()])
        after = torch.cat([p.flatten() for p in sweep.member(m).parameters()])
        # Padding stays at zero, so a member's own distance is the per-model distance.
        assert trajectory.distance[m].item() == pytest.approx((after - before).norm().item(), rel=1e-5)


def test_trajectory_rejects_bad_inputs():
    with pytest.raises(TypeError, match="non-empty sequence of tensors"):
        Trajectory([])
    p = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="one tensor per parameter"):
        Trajectory([p, p], [torch.zeros(3, dtype=torch.long)])
    with pytest.raises(ValueError, match="one entry per row"):
        Trajectory([p], [torch.zeros(2, dtype=torch.long)])


# ---------------------------------------------------------------- the lab's effects on real runs


def _mlp(width: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(40, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, 10),
    )


def _fit_until_memorized(model, x, y, generator, max_epochs=200):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(max_epochs):
        for idx in torch.randperm(len(y), generator=generator).split(100):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            train_accuracy = (model(x).argmax(1) == y).float().mean().item()
        if train_accuracy == 1.0:
            break
    return train_accuracy


@pytest.mark.slow
def test_random_labels_are_memorized_and_test_is_at_chance():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    data = load_mnist1d()
    x, y = data.train.x[:500], data.train.y[:500]
    initial = _mlp(256)
    results = {}
    for name, labels in [("true", y), ("random", corrupt_labels(y, 1.0, 10, generator=generator))]:
        model = copy.deepcopy(initial)
        train_accuracy = _fit_until_memorized(model, x, labels, generator)
        with torch.no_grad():
            test_accuracy = (model(data.test.x).argmax(1) == data.test.y).float().mean().item()
        results[name] = (train_accuracy, test_accuracy)
    assert results["random"][0] == 1.0 and results["true"][0] == 1.0  # both fully memorized
    # Chance is 10%; with 1,000 test points its standard deviation is about 1%, so 16% is far out.
    assert results["random"][1] < 0.16
    # True labels generalize (measured: 34% here), far above chance.
    assert results["true"][1] > 0.25


def _teacher_data(n, d, noise, seed):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(d, generator=g, dtype=torch.float64)
    teacher /= teacher.norm()
    x = _sphere(n, d, seed + 1)
    xt = _sphere(1_000, d, seed + 2)
    y = math.sqrt(d) * x @ teacher + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return (x, y), (xt, math.sqrt(d) * xt @ teacher)


@pytest.mark.slow
def test_random_features_test_error_peaks_at_the_interpolation_threshold():
    n, d = 100, 20
    train, test = _teacher_data(n, d, noise=0.5, seed=0)
    rf = RandomReLUFeatures.draw(d, 5_000, generator=torch.Generator().manual_seed(1))
    ps = sorted({10, 20, 40, 60, 80, 90, n, 110, 125, 150, 200, 400, 1_000, 2_000, 5_000})
    sweep = feature_sweep(rf, train, test, ps)
    # "Near p = n": within the grid points next to it.
    assert 90 <= sweep.peak <= 110
    peak = max(sweep.test_mse)
    # A real peak: ten times the best error on either side (measured: 100x or more).
    assert peak > 10 * min(sweep.test_mse[: ps.index(60) + 1])
    assert peak > 10 * min(sweep.test_mse[ps.index(200) :])
    # A ridge removes it: the worst error with ridge 0.1 is far below the ridgeless peak.
    assert max(feature_sweep(rf, train, test, ps, ridge=0.1).test_mse) < peak / 10


@pytest.mark.slow
def test_interpolants_get_smoother_past_the_threshold():
    n, d = 100, 20
    x = _sphere(n, d, 0)
    y = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(1)).double() * 2 - 1
    probe = _sphere(300, d, 2)
    rf = RandomReLUFeatures.draw(d, n * d, generator=torch.Generator().manual_seed(3))
    grad = {}
    for p in (n, 2 * n, 4 * n, n * d):
        theta = min_norm_solve(rf.features(x, p), y)
        assert (rf.features(x, p) @ theta - y).abs().max() < 1e-6  # every p >= n interpolates
        grad[p] = (
            input_gradient_norms(lambda z, p=p, theta=theta: rf.features(z, p) @ theta, probe).mean().item()
        )
    # Smoothness improves past the threshold (measured: about 1100 -> 9.5 -> 6.6 -> 5.0).
    assert grad[n] > 2 * grad[4 * n]
    assert grad[2 * n] > grad[4 * n] > grad[n * d]
    # The law of robustness is a lower bound: the measured norm stays above sqrt(nd/p).
    for p, g in grad.items():
        assert g > math.sqrt(n * d / p)


@pytest.mark.slow
def test_longer_trajectories_for_more_complex_fits():
    freqs = torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0])
    x = torch.linspace(-1, 1, 64)[:, None]
    target = torch.sin(math.pi * freqs[:, None, None] * x)
    sweep = MLPSweep(
        [64] * len(freqs), 1, 1, depth=2, activation="tanh", generator=torch.Generator().manual_seed(0)
    )
    optimizer = torch.optim.Adam(sweep.parameters(), lr=3e-3)
    params, index = zip(*sweep.parameters_by_model(), strict=True)
    trajectory = Trajectory(params, index)
    for _ in range(800):
        losses = (sweep(x) - target).pow(2).mean(dim=(1, 2))
        optimizer.zero_grad()
        losses.sum().backward()
        optimizer.step()
        trajectory.update()
    assert (losses < 1e-2).all()  # every run fits, so none is excluded
    complexity = input_gradient_norms(sweep, torch.linspace(-1, 1, 500)[:, None]).mean(dim=1)
    # Rank correlation 1 means strictly increasing; the lab measures 0.99 over 18 runs.
    assert spearmanr(complexity.detach(), trajectory.length).statistic > 0.8
    assert spearmanr(complexity.detach(), trajectory.distance).statistic > 0.8
