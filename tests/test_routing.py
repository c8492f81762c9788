"""labsupport.routing (Chapter 5): capacity, loads and the balancing loss, against Python loops and definitions."""

import math
from collections import Counter

import pytest
import torch

from labsupport.routing import (
    LoadStats,
    dropped_fraction,
    expert_capacity,
    expert_load,
    load_balancing_loss,
    load_ratio,
    load_stats,
    within_capacity,
)


def _within_capacity_by_loop(chosen: torch.Tensor, capacity: int) -> torch.Tensor:
    """Oracle: walk the assignments in GShard's order (all first choices, then second ...)."""
    T, k = chosen.shape
    taken: Counter = Counter()
    keep = torch.zeros(T, k, dtype=torch.bool)
    for slot in range(k):
        for t in range(T):
            e = int(chosen[t, slot])
            if taken[e] < capacity:
                keep[t, slot] = True
            taken[e] += 1
    return keep


@pytest.mark.parametrize(
    ("T", "E", "k", "cf", "want"),
    [
        (256, 8, 1, 1.0, 32),
        (256, 8, 1, 1.25, 40),
        (512, 8, 2, 1.25, 160),
        (10, 3, 1, 1.0, 4),
        (7, 7, 7, 0.1, 1),
    ],
)
def test_expert_capacity(T, E, k, cf, want):
    assert expert_capacity(T, E, k, cf) == want == math.ceil(cf * k * T / E)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(num_tokens=8, num_experts=4, k=5), ValueError, "at most num_experts=4"),
        (dict(num_tokens=8, num_experts=4, k=0), ValueError, "k must be a positive int"),
        (dict(num_tokens=0, num_experts=4), ValueError, "num_tokens must be a positive int"),
        (dict(num_tokens=8, num_experts=0), ValueError, "num_experts must be a positive int"),
        (
            dict(num_tokens=8, num_experts=4, capacity_factor=0.0),
            ValueError,
            "capacity_factor must be a number > 0",
        ),
        (
            dict(num_tokens=8, num_experts=4, capacity_factor=-1.0),
            ValueError,
            "capacity_factor must be a number > 0",
        ),
        (
            dict(num_tokens=8, num_experts=4, capacity_factor=float("inf")),
            ValueError,
            "capacity_factor must be a number > 0",
        ),
        (dict(num_tokens=True, num_experts=4), ValueError, "num_tokens must be a positive int, got True"),
        (dict(num_tokens=8, num_experts=4, capacity_factor="1"), TypeError, "must be a number"),
        (dict(num_tokens=8, num_experts=4, capacity_factor=True), TypeError, "must be a number"),
    ],
)
def test_expert_capacity_rejects_bad_inputs(kwargs, error, match):
    with pytest.raises(error, match=match):
        expert_capacity(**kwargs)


def test_within_capacity_first_come_first_served():
    chosen = torch.tensor([[0], [1], [0], [0], [2], [0]])
    keep = within_capacity(chosen, 3, 2)
    assert keep.squeeze(1).tolist() == [True, True, True, False, True, False]


@pytest.mark.parametrize(
    ("T", "E", "k", "capacity"), [(50, 4, 1, 10), (64, 8, 2, 12), (30, 3, 3, 0), (5, 5, 2, 9)]
)
def test_within_capacity_matches_a_python_loop(T, E, k, capacity):
    g = torch.Generator().manual_seed(T + E)
    chosen = torch.rand(T, E, generator=g).topk(k, dim=1).indices
    keep = within_capacity(chosen, E, capacity)
    assert torch.equal(keep, _within_capacity_by_loop(chosen, capacity))
    kept_load = torch.bincount(chosen[keep], minlength=E)
    assert (kept_load <= capacity).all()


def test_within_capacity_serves_first_choices_before_second_choices():
    # token 1's first choice (expert 0) comes before token 0's second choice (also expert 0)
    chosen = torch.tensor([[1, 0], [0, 1]])
    assert within_capacity(chosen, 2, 1).tolist() == [[True, False], [True, False]]


@pytest.mark.parametrize(
    ("chosen", "E", "capacity", "error", "match"),
    [
        (torch.tensor([0, 1]), 2, 1, ValueError, r"shape \(tokens, k\)"),
        (torch.tensor([[0], [3]]), 3, 1, ValueError, r"lie in \[0, 2\]"),
        (torch.tensor([[-1], [0]]), 3, 1, ValueError, r"lie in \[0, 2\]"),
        (torch.tensor([[0.0], [1.0]]), 2, 1, TypeError, "integer expert ids"),
        ([[0], [1]], 2, 1, TypeError, "must be a torch.Tensor"),
        (torch.tensor([[0], [1]]), 2, -1, ValueError, "capacity must be a non-negative int"),
    ],
)
def test_within_capacity_rejects_bad_inputs(chosen, E, capacity, error, match):
    with pytest.raises(error, match=match):
        within_capacity(chosen, E, capacity)


def test_expert_load_is_a_histogram():
    chosen = torch.tensor([[0, 2], [2, 3], [2, 0]])
    load = expert_load(chosen, 5)
    counts = Counter(chosen.flatten().tolist())
    assert load.tolist() == [counts[e] for e in range(5)] == [2, 0, 3, 1, 0]


def test_load_ratio_and_dropped_fraction():
    assert load_ratio(torch.tensor([5, 5, 5, 5])) == pytest.approx(1.0)
    assert load_ratio(torch.tensor([8, 0, 0, 0])) == pytest.approx(4.0)  # total collapse: ratio = E
    assert load_ratio([3, 1]) == pytest.approx(1.5)  # a list is fine
    load = torch.tensor([200, 150, 150, 100, 100, 100, 100, 124])
    assert dropped_fraction(load, 160) == pytest.approx(40 / 1024)
    assert dropped_fraction(load, 0) == pytest.approx(1.0)
    assert dropped_fraction(load, 1000) == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: load_ratio(torch.zeros(4)), "all zeros"),
        (lambda: load_ratio(torch.tensor([1, -1])), "cannot be negative"),
        (lambda: load_ratio(torch.ones(2, 2)), "1-D sequence"),
        (lambda: load_ratio(torch.tensor([])), "1-D sequence"),
        (lambda: dropped_fraction(torch.zeros(3), 1), "all zeros"),
        (lambda: dropped_fraction(torch.ones(3), -2), "non-negative int"),
        (lambda: expert_load(torch.tensor([[4]]), 4), r"lie in \[0, 3\]"),
        (lambda: expert_load(torch.tensor([[0]]), 0), "num_experts must be a positive int"),
    ],
)
def test_load_statistics_reject_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_load_stats_bundles_the_statistics():
    chosen = torch.tensor([[0], [0], [0], [1], [0], [1]])
    stats = load_stats(chosen, 3, capacity=2)
    assert isinstance(stats, LoadStats)
    assert stats.load == (4, 2, 0)
    assert stats.max_mean_ratio == pytest.approx(2.0)
    assert stats.idle_experts == 1
    assert stats.dropped_fraction == pytest.approx(2 / 6)
    assert "max/mean 2.00" in str(stats) and "dropped 33.3%" in str(stats)
    assert load_stats(chosen, 3).dropped_fraction is None


def test_load_balancing_loss_against_its_definition():
    g = torch.Generator().manual_seed(0)
    T, E, k = 40, 6, 2
    probs = (2 * torch.randn(T, E, generator=g)).softmax(dim=1).requires_grad_()
    chosen = probs.topk(k, dim=1).indices
    f = [sum(int(e == i) for e in chosen.flatten().tolist()) / (T * k) for i in range(E)]
    P = [probs[:, i].mean().item() for i in range(E)]
    want = E * sum(fi * Pi for fi, Pi in zip(f, P, strict=True))
    loss = load_balancing_loss(probs, chosen)
    assert loss.item() == pytest.approx(want, rel=1e-6)
    loss.backward()  # only P carries a gradient: d loss / d p[t, i] = E * f_i / T
    assert torch.allclose(probs.grad, (E * torch.tensor(f) / T).expand(T, E), atol=1e-7)


def test_load_balancing_loss_bounds():
    E = 4
    uniform = torch.full((8, E), 1 / E)
    assert load_balancing_loss(uniform, torch.arange(8).remainder(E)[:, None]).item() == pytest.approx(1.0)
    collapsed = torch.nn.functional.one_hot(torch.zeros(8, dtype=torch.long), E).float()
    assert load_balancing_loss(collapsed, torch.zeros(8, 1, dtype=torch.long)).item() == pytest.approx(E)


def test_load_balancing_loss_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"\(tokens, experts\) tensor"):
        load_balancing_loss(torch.ones(4), torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(4, k\)"):
        load_balancing_loss(torch.ones(4, 2) / 2, torch.zeros(3, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        load_balancing_loss(torch.ones(4, 2) / 2, torch.full((4, 1), 2))
