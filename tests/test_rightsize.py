"""The capstone's plumbing: the runs, the bootstrap, the law's inversion, and the teacher task."""

import math

import numpy as np
import pytest
import torch

from labsupport import HOFFMANN_2022
from labsupport.rightsize import Grid, Run, bootstrap_laws, tokens_for_loss
from labsupport.scaling import ChinchillaLaw
from labsupport.teacher import make_teacher, teacher_sampler


def test_tokens_for_loss_inverts_the_law_and_says_when_a_size_cannot_reach_it():
    for N, target in [(70e9, 1.94), (1e9, 2.3), (7e9, 2.05)]:
        D = tokens_for_loss(HOFFMANN_2022, N, target)
        assert float(HOFFMANN_2022(N, D)) == pytest.approx(target, rel=1e-9)
    floor = HOFFMANN_2022.E + HOFFMANN_2022.A / 1e9**HOFFMANN_2022.alpha
    assert tokens_for_loss(HOFFMANN_2022, 1e9, 0.999 * floor) == math.inf
    with pytest.raises(ValueError, match="N"):
        tokens_for_loss(HOFFMANN_2022, 0, 2.0)
    with pytest.raises(ValueError, match="target"):
        tokens_for_loss(HOFFMANN_2022, 1e9, float("nan"))


def _synthetic_grid(noise: float = 0.0, seed: int = 0) -> Grid:
    law = ChinchillaLaw(E=0.5, A=30.0, B=200.0, alpha=0.5, beta=0.5)
    rng = np.random.default_rng(seed)
    runs = [
        Run(0, N, D, float(law(N, D)) * math.exp(noise * rng.standard_normal()))
        for N in (100, 300, 1000, 3000)
        for D in (1e4, 3e4, 1e5)
    ]
    return Grid(runs)


def test_the_bootstrap_recovers_a_known_law_and_spreads_with_noise():
    quiet = bootstrap_laws(_synthetic_grid(noise=0.002), samples=2, seed=0, starts=2)
    assert len(quiet) == 2
    for law in quiet:
        assert law.alpha == pytest.approx(0.5, abs=0.05) and law.beta == pytest.approx(0.5, abs=0.05)
    noisy = bootstrap_laws(_synthetic_grid(noise=0.05), samples=4, seed=0, starts=2)
    N_opt = [float(law.compute_optimal(1e9)[0][0]) for law in noisy]
    assert np.std(np.log(N_opt)) > 0.01, "noise in the runs shows up as spread in the answer"
    with pytest.raises(ValueError, match="samples"):
        bootstrap_laws(_synthetic_grid(), samples=0)
    with pytest.raises(ValueError, match="at least 6 runs"):
        bootstrap_laws(Grid(_synthetic_grid().runs[:5]), samples=2)


def test_the_teacher_task_is_seeded_and_standardised():
    teacher = make_teacher(4, 16, seed=0)
    assert all(not p.requires_grad for p in teacher.parameters())
    same = make_teacher(4, 16, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(teacher.parameters(), same.parameters(), strict=True))
    sample = teacher_sampler(teacher, 4)
    x, y = sample(50_000, torch.Generator().manual_seed(0))
    assert x.shape == (50_000, 4) and y.shape == (50_000, 1)
    assert abs(float(y.mean())) < 0.05 and abs(float(y.std()) - 1) < 0.05
    with pytest.raises(ValueError, match="width"):
        make_teacher(4, 0, seed=0)
