"""labsupport.checks.double_descent: Lab 3's checks pass right answers, fail known wrong ones with
the intended hint, and never show the expected value."""

import numpy as np
import pytest
import torch

from labsupport import RandomReLUFeatures
from labsupport.checks.double_descent import (
    check_matches_min_norm_solve,
    check_min_norm_interpolant,
    check_peak_judgement,
)


@pytest.fixture(scope="module")
def cases():
    """The lab's setting, small: random ReLU features of points on the sphere, at and past p = n."""
    g = torch.Generator().manual_seed(0)
    d, n = 10, 40
    rf = RandomReLUFeatures.draw(d, 8 * n, generator=g)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    x /= x.norm(dim=1, keepdim=True)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    return [(rf.features(x, p), y) for p in (n, 2 * n, 4 * n)]


def interpolant(phi, y):
    """The right answer, as a learner would write it."""
    return phi.T @ torch.linalg.solve(phi @ phi.T, y)


def ridge(phi, y, lam=1e-3):
    return phi.T @ torch.linalg.solve(phi @ phi.T + lam * torch.eye(len(y), dtype=phi.dtype), y)


def test_the_right_answers_pass(cases, capsys):
    check_min_norm_interpolant(interpolant, cases)
    check_min_norm_interpolant(lambda phi, y: torch.linalg.pinv(phi) @ y, cases)
    u_s_vh = torch.linalg.svd
    check_min_norm_interpolant(
        lambda phi, y: (lambda u, s, vh: vh.T @ ((u.T @ y) / s))(*u_s_vh(phi, full_matrices=False)), cases
    )
    check_matches_min_norm_solve(interpolant, *cases[-1])
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda phi, y: torch.linalg.solve(phi.T @ phi, phi.T @ y), "normal equations"),
        (lambda phi, y: torch.linalg.inv(phi.T @ phi) @ phi.T @ y, "normal equations"),
        (ridge, "a ridge left in?"),
        (lambda phi, y: ridge(phi, y, 1e-8), "a ridge left in?"),
        (lambda phi, y: torch.linalg.solve(phi @ phi.T, y), "one weight per feature"),
        (  # an interpolant on n of the p columns: it fits, but is not the shortest
            lambda phi, y: torch.cat(
                [torch.linalg.solve(phi[:, : len(y)], y), torch.zeros(phi.shape[1] - len(y), dtype=phi.dtype)]
            ),
            "not the shortest",
        ),
        (lambda phi, y: phi.T @ y, "misses y"),
        (lambda phi, y: (phi.T @ torch.linalg.solve(phi @ phi.T, y)).tolist(), "expected a tensor"),
    ],
)
def test_known_mistakes_fail_with_their_hint(cases, wrong, hint):
    with pytest.raises(AssertionError, match="min_norm_interpolant") as error:
        check_min_norm_interpolant(wrong, cases)
    assert hint in str(error.value)


def test_a_singular_solve_is_explained(cases):
    def normal_equations_in_float32(phi, y):
        a = (phi.T @ phi).float()
        a[:, 0] = 0  # exactly singular, so that solve raises
        return torch.linalg.solve(a, (phi.T @ y).float()).double()

    with pytest.raises(AssertionError, match="LinAlgError") as error:
        check_min_norm_interpolant(normal_equations_in_float32, cases)
    assert "p <= n" in str(error.value)


def test_the_oracle_fails_a_ridge(cases):
    with pytest.raises(AssertionError, match="differs from the minimum-norm solution"):
        check_matches_min_norm_solve(ridge, *cases[-1])


def test_bad_cases_are_refused(cases):
    phi, y = cases[0]
    with pytest.raises(ValueError, match="p >= n"):
        check_min_norm_interpolant(interpolant, [(phi[:, :10], y)])


def resolved_peak(by_seed, classical):
    """The lab's solution."""
    mean = by_seed.mean(axis=0)
    spread = by_seed.max(axis=0) - by_seed.min(axis=0)
    if classical + 1 >= len(mean) - 1:
        return None
    i = classical + 1 + int(np.argmax(mean[classical + 1 : -1]))
    local_max = mean[i] >= max(mean[i - 1], mean[i + 1])
    above_u = mean[i] - mean[classical] > max(spread[i], spread[classical])
    descends = mean[i] - mean[-1] > max(spread[i], spread[-1])
    return i if local_max and above_u and descends else None


def with_standard_error(by_seed, classical):
    """Another fair rule: two standard errors instead of the spread."""
    mean = by_seed.mean(axis=0)
    se = by_seed.std(axis=0, ddof=1) / np.sqrt(len(by_seed))
    i = classical + 1 + int(np.argmax(mean[classical + 1 : -1]))
    stands = min(mean[i] - mean[classical], mean[i] - mean[-1]) > 2 * max(se[i], se[classical], se[-1])
    return i if stands and mean[i] >= max(mean[i - 1], mean[i + 1]) else None


def test_fair_judgements_pass_and_see_the_learners_sweep(capsys):
    own = (np.array([[0.5, 0.45, 0.47, 0.44], [0.51, 0.46, 0.46, 0.43]]), 1)
    check_peak_judgement(resolved_peak, own=own)
    check_peak_judgement(with_standard_error)
    out = capsys.readouterr().out
    assert out.count("✓") == 2 and "no peak resolved" in out


def mean_argmax_past(by_seed, classical):
    mean = by_seed.mean(axis=0)
    return classical + 1 + int(np.argmax(mean[classical + 1 : -1]))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda b, c: None, "says None"),
        (lambda b, c: int(np.argmax(b.mean(axis=0))), "at or before the classical minimum"),
        (mean_argmax_past, "Compare the peak's height with the seed-to-seed spread"),
        (  # the spread ignored, the last width allowed
            lambda b, c: c + 1 + int(np.argmax(b.mean(axis=0)[c + 1 :])),
            "seed-to-seed spread",
        ),
        (lambda b, c: 4.0, "an int"),
        (lambda b, c: 99, "not an index"),
        (  # one seed's verdict: the first seed's curve alone
            lambda b, c: resolved_peak(np.repeat(b[:1], 2, axis=0), c),
            "within what another seed could change",
        ),
    ],
)
def test_wrong_judgements_fail_with_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match="resolved_peak") as error:
        check_peak_judgement(wrong)
    assert hint in str(error.value)


def test_a_rising_or_flat_curve_is_no_peak():
    def ignores_the_descent(by_seed, classical):
        mean = by_seed.mean(axis=0)
        spread = by_seed.max(axis=0) - by_seed.min(axis=0)
        i = classical + 1 + int(np.argmax(mean[classical + 1 :]))
        return i if mean[i] - mean[classical] > max(spread[i], spread[classical]) else None

    with pytest.raises(AssertionError, match="keeps rising"):
        check_peak_judgement(ignores_the_descent)

    def any_local_maximum(by_seed, classical):
        mean = by_seed.mean(axis=0)
        spread = by_seed.max(axis=0) - by_seed.min(axis=0)
        i = classical + 1 + int(np.argmax(mean[classical + 1 : -1]))
        return i if mean[i] - mean[classical] > spread[i] or resolved_peak(by_seed, classical) else None

    with pytest.raises(AssertionError, match="keeps rising"):
        check_peak_judgement(any_local_maximum)


def test_the_stub_is_left_to_the_learner():
    def stub(by_seed, classical):
        raise NotImplementedError("write resolved_peak")

    with pytest.raises(NotImplementedError):
        check_peak_judgement(stub)
