"""labsupport.checks.scaling: Lab 2's checks of a Huber objective, the fit it drives, and a
compute-optimal size."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labsupport.checks.scaling import (
    KNOWN_LAW,
    check_huber_objective,
    check_optimal_size,
    check_recovers_law,
)
from labsupport.scaling import HOFFMANN_2022, ChinchillaLaw, fit_chinchilla


def objective(
    huber=lambda r, delta: F.huber_loss(r, torch.zeros_like(r), delta=delta, reduction="none"),
    reduce=torch.sum,
    use_E=True,
):
    """A Huber objective on log L, right by default; each argument makes one known mistake."""

    def fn(theta, log_N, log_D, log_L, delta=1e-3):
        log_A, log_B, log_E, alpha, beta = theta
        terms = [log_A - alpha * log_N, log_B - beta * log_D]
        if use_E:
            terms.append(log_E.expand_as(log_N))
        residual = torch.stack(terms).logsumexp(dim=0) - log_L
        return reduce(huber(residual, delta))

    return fn


def test_a_right_objective_passes(capsys):
    check_huber_objective(objective())
    assert "✓ huber_objective: zero at the true law" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (objective(reduce=torch.mean), "+0.00025 (below δ = 0.001): got 3.125e-08; the mean over the runs"),
        (objective(huber=lambda r, d: r**2), "got 1.25e-06; twice the quadratic part"),
        (
            objective(huber=lambda r, d: 0.5 * r**2),
            "(above δ = 0.001): got 9e-05; quadratic for a large residual",
        ),
        (
            objective(huber=lambda r, d: torch.where(r.abs() <= d, 0.5 * r**2, d * r.abs())),
            "+0.003 (above δ = 0.001): got 6e-05; the line must continue the parabola",
        ),
        (objective(use_E=False), "got 0.0"),
    ],
)
def test_known_mistakes_get_their_hint(wrong, message):
    with pytest.raises(AssertionError) as failure:
        check_huber_objective(wrong)
    assert message in str(failure.value)


def test_an_objective_without_E_is_not_zero_at_the_truth():
    with pytest.raises(AssertionError, match="at that law's own theta"):
        check_huber_objective(objective(use_E=False))


def test_an_objective_ignoring_a_constant_or_the_gradient_fails():
    def no_beta(theta, log_N, log_D, log_L, delta=1e-3):
        return objective()(
            torch.cat([theta[:4], theta[4:].detach() * 0 + KNOWN_LAW.beta]), log_N, log_D, log_L
        )

    with pytest.raises(AssertionError, match=r"moving beta away .* does not raise the objective"):
        check_huber_objective(no_beta)

    def in_numpy(theta, *logs, delta=1e-3):
        return torch.tensor(float(objective()(theta.detach(), *logs)))

    with pytest.raises(AssertionError, match="L-BFGS gets no gradient"):
        check_huber_objective(in_numpy)
    with pytest.raises(AssertionError, match=r"expected a torch tensor .*, got float"):
        check_huber_objective(lambda theta, *logs: 0.0)
    with pytest.raises(AssertionError, match=r"a 0-dimensional tensor .*, got a tensor of shape \(1,\)"):
        check_huber_objective(lambda theta, *logs, delta=1e-3: objective()(theta, *logs).reshape(1))


def test_the_wrong_huber_value_is_never_printed():
    n, c = 20, 0.003
    right = n * 1e-3 * (c - 0.5e-3)
    with pytest.raises(AssertionError) as failure:
        check_huber_objective(
            objective(huber=lambda r, d: 2 * F.huber_loss(r, 0 * r, delta=d, reduction="none"))
        )
    assert f"{right:.6g}" not in str(failure.value)


def test_the_fit_check_recovers_the_law_with_fit_chinchilla_and_rejects_a_wrong_one(capsys):
    check_recovers_law(lambda N, D, L: fit_chinchilla(N, D, L, starts=2))
    assert "✓ fit_law recovers the law" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"found alpha = 0\.340, beta = 0\.280, E = 1\.690, too far"):
        check_recovers_law(lambda N, D, L: HOFFMANN_2022)
    with pytest.raises(AssertionError, match="expected a law with E, alpha and beta"):
        check_recovers_law(lambda N, D, L: (1, 2))


def test_a_torch_lbfgs_fit_with_the_right_objective_recovers_the_law():
    """The lab's own fit: L-BFGS from the best points of Hoffmann et al.'s grid, in torch."""
    fn = objective()
    grid = torch.tensor(
        list(
            itertools.product(
                range(0, 26, 5),
                range(0, 26, 5),
                (-1, -0.5, 0, 0.5, 1),
                (0, 0.5, 1, 1.5, 2),
                (0, 0.5, 1, 1.5, 2),
            )
        ),
        dtype=torch.float64,
    )

    def fit(N, D, L):
        logs = [torch.tensor(np.log(v), dtype=torch.float64) for v in (N, D, L)]
        with torch.no_grad():
            start = grid[torch.stack([fn(t, *logs) for t in grid]).argmin()]
        theta = start.clone().requires_grad_()
        lbfgs = torch.optim.LBFGS(
            [theta], max_iter=200, tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe"
        )

        def closure():
            lbfgs.zero_grad()
            value = fn(theta, *logs)
            value.backward()
            return value

        lbfgs.step(closure)
        a, b, e, alpha, beta = theta.tolist()
        return ChinchillaLaw(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=alpha, beta=beta)

    check_recovers_law(fit)


def test_check_optimal_size_finds_the_bottom_of_the_valley(capsys):
    N = 175e9
    # N_opt = G (C/6)^a, solved for C: the oracle, here in the test only
    law = HOFFMANN_2022
    G = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    C = 6 * (N / G) ** (1 / law.a)
    check_optimal_size("C_175B", law, C, N)
    assert "✓ C_175B" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="the budget is too large") as failure:
        check_optimal_size("C_175B", law, C * 1.1, N)
    assert f"{C:.3g}" not in str(failure.value)
    with pytest.raises(AssertionError, match="the budget is too small"):
        check_optimal_size("C_175B", law, C / 1.1, N)
    check_optimal_size("C_175B", law, C * 1.01, N)  # within 1% of N
    with pytest.raises(AssertionError, match="no answer yet"):
        check_optimal_size("C_175B", law, ..., N)
    with pytest.raises(AssertionError, match="expected a positive number"):
        check_optimal_size("C_175B", law, -1.0, N)


def test_the_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    check_huber_objective(objective())
    check_recovers_law(lambda N, D, L: fit_chinchilla(N, D, L, starts=1))
    assert torch.equal(torch.random.get_rng_state(), before[0])
    assert (np.random.get_state()[1] == before[1]).all()
