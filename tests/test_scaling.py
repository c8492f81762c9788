"""labsupport.scaling (Chapter 2): fits recover known constants; autograd checks the objective's gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from labsupport.scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    _chinchilla_objective,
    chinchilla_grid,
    fit_chinchilla,
    fit_power_law,
    isoflop_minimum,
)

# ---------------------------------------------------------------- power law with irreducible term


def test_power_law_recovers_known_constants():
    rng = np.random.default_rng(0)
    x = np.logspace(3, 6, 8)
    y = (1.5 + 30.0 * x**-0.4) * np.exp(rng.normal(0, 1e-3, len(x)))  # 0.1% noise
    law = fit_power_law(x, y)
    assert pytest.approx(1.5, abs=0.02) == law.E
    assert law.alpha == pytest.approx(0.4, abs=0.02)
    assert pytest.approx(30.0, rel=0.1) == law.A
    assert law.r2 > 0.999 and law.rms_log_error < 2e-3
    np.testing.assert_allclose(law(x), y, rtol=5e-3)


def test_pure_power_law_is_the_log_log_line():
    x = np.array([10.0, 100.0, 1000.0])
    law = fit_power_law(x, 3.0 * x**-0.2, irreducible=False)
    assert (law.E, law.A, law.alpha) == (0.0, pytest.approx(3.0), pytest.approx(0.2))
    assert law.r2 == pytest.approx(1.0)


def test_goodness_of_fit_drops_when_the_law_is_wrong():
    x = np.logspace(2, 5, 8)
    y = 1.0 + 5.0 * x**-0.3
    y[3] *= 1.3  # one run 30% off the law
    assert fit_power_law(x, y).r2 < 0.95 < fit_power_law(x, 1.0 + 5.0 * x**-0.3).r2


# ---------------------------------------------------------------- Chinchilla parametric law


def test_objective_gradient_matches_autograd():
    rng = np.random.default_rng(1)
    N, D = np.logspace(6, 9, 12), np.logspace(8, 11, 12)[rng.permutation(12)]
    L = HOFFMANN_2022(N, D) * np.exp(rng.normal(0, 0.01, 12))  # residuals on both sides of delta
    theta = np.array([5.0, 6.0, 0.4, 0.3, 0.25])
    value, grad = _chinchilla_objective(theta, np.log(N), np.log(D), np.log(L), 1e-3)

    t = torch.tensor(theta, requires_grad=True, dtype=torch.float64)
    log_N, log_D, log_L = (torch.tensor(np.log(v)) for v in (N, D, L))
    pred = torch.logsumexp(torch.stack([t[0] - t[3] * log_N, t[1] - t[4] * log_D, t[2].expand(12)]), dim=0)
    loss = F.huber_loss(pred, log_L, delta=1e-3, reduction="sum")  # torch's Huber: the same definition
    loss.backward()
    assert value[0] == pytest.approx(loss.item(), rel=1e-10)
    np.testing.assert_allclose(grad[0], t.grad.numpy(), rtol=1e-8)


def test_chinchilla_fit_recovers_known_constants():
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 10, 6), 5)
    D = np.tile(np.logspace(9, 12, 5), 6)
    L = HOFFMANN_2022(N, D) * np.exp(rng.normal(0, 0.002, len(N)))  # 0.2% noise
    law = fit_chinchilla(N, D, L, starts=8)
    assert pytest.approx(1.69, abs=0.03) == law.E
    assert law.alpha == pytest.approx(0.34, abs=0.02)
    assert law.beta == pytest.approx(0.28, abs=0.02)
    assert law.r2 > 0.999 and law.huber < 1e-3
    # what matters downstream: the allocation it implies
    assert law.a == pytest.approx(HOFFMANN_2022.a, abs=0.02)


def test_grid_is_the_papers():
    grid = chinchilla_grid()
    assert grid.shape == (6 * 6 * 5 * 5 * 5, 5)
    assert sorted(set(grid[:, 0])) == [0, 5, 10, 15, 20, 25]
    assert sorted(set(grid[:, 3])) == [0, 0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize("law", [HOFFMANN_2022, BESIROGLU_2024], ids=["hoffmann", "besiroglu"])
def test_compute_optimal_minimises_the_law_at_fixed_compute(law):
    C = 5.76e23
    N_opt, D_opt = law.compute_optimal(C)
    assert 6 * N_opt[0] * D_opt[0] == pytest.approx(C)
    N = np.logspace(9, 12, 20001)  # brute force along the iso-compute line
    best = N[np.argmin(law(N, C / (6 * N)))]
    assert N_opt[0] == pytest.approx(best, rel=1e-3)
    # the exponents: N_opt grows like C**a
    N_big, _ = law.compute_optimal(C * 1000)
    assert math.log(N_big[0] / N_opt[0], 1000) == pytest.approx(law.a)


def test_published_exponents():
    # Hoffmann et al. Table 2 gives a = 0.46 for approach 3 (from unrounded constants);
    # Besiroglu et al. report a = 0.513.
    assert HOFFMANN_2022.a == pytest.approx(0.46, abs=0.01)
    assert BESIROGLU_2024.a == pytest.approx(0.513, abs=0.002)
    assert HOFFMANN_2022.a + HOFFMANN_2022.b == pytest.approx(1.0)


def test_isoflop_minimum_finds_the_vertex():
    N = np.logspace(2, 4, 7)
    loss = 0.3 * (np.log(N) - np.log(700.0)) ** 2 + 1.0
    assert isoflop_minimum(N, loss) == pytest.approx(700.0, rel=1e-6)
    with pytest.raises(ValueError, match="not U-shaped"):
        isoflop_minimum(N, 5.0 - loss)  # a hill, not a valley


def test_bad_inputs():
    with pytest.raises(ValueError, match="needs at least 4 points"):
        fit_power_law([1, 2, 3], [3, 2, 1])
    with pytest.raises(ValueError, match="must be finite and positive"):
        fit_power_law([1, 2, 3, 4], [3, 2, 0, 1])
    with pytest.raises(ValueError, match="must be finite and positive"):
        fit_power_law([1, -2, 3, 4], [4, 3, 2, 1])
    with pytest.raises(ValueError, match="the same length"):
        fit_power_law([1, 2, 3, 4], [5, 4, 3, 2, 1])
    with pytest.raises(ValueError, match="at least two different values"):
        fit_power_law([2, 2, 2, 2], [4, 3, 2, 1])
    with pytest.raises(ValueError, match="one-dimensional"):
        fit_power_law(np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(TypeError, match="sequence of numbers"):
        fit_power_law(["a", "b", "c", "d"], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="needs at least 6 points"):
        fit_chinchilla([1e6] * 5, [1e9] * 5, [3.0] * 5)
    with pytest.raises(ValueError, match="the same length"):
        fit_chinchilla([1e6] * 6, [1e9] * 7, [3.0] * 6)
    with pytest.raises(ValueError, match="delta must be a number > 0, got 0"):
        fit_chinchilla([1e6] * 6, [1e9] * 6, [3.0] * 6, delta=0)
    with pytest.raises(ValueError, match="starts must be a positive int, got 0"):
        fit_chinchilla([1e6] * 6, [1e9] * 6, [3.0] * 6, starts=0)
    with pytest.raises(ValueError, match="C must be finite and positive"):
        HOFFMANN_2022.compute_optimal(-1.0)
    with pytest.raises(ValueError, match="flops_per_param_token must be a number > 0, got 0"):
        HOFFMANN_2022.compute_optimal(1e20, flops_per_param_token=0)
    with pytest.raises(ValueError, match="needs at least 3 points"):
        isoflop_minimum([1, 2], [2, 1])
