"""Unit tests of labsupport.routing and labsupport.moe (Chapter 5), bad inputs included."""

import math
from collections import Counter

import pytest
import torch
from torch import nn

import labsupport
from labsupport import (
    DenseMLP,
    LoadStats,
    MoELayer,
    Split,
    check_moe_layer,
    count_flops,
    count_parameters,
    dense_mlp_cost,
    dropped_fraction,
    evaluate_moe,
    expert_capacity,
    expert_load,
    load_balancing_loss,
    load_ratio,
    load_stats,
    make_regime_task,
    matched_dense_width,
    moe_mlp_cost,
    mse_with_balance,
    routed_cost,
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


# --- capacity ---------------------------------------------------------------------------


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
        (dict(num_tokens=8, num_experts=4, capacity_factor=0.0), ValueError, "positive finite"),
        (dict(num_tokens=8, num_experts=4, capacity_factor=-1.0), ValueError, "positive finite"),
        (dict(num_tokens=8, num_experts=4, capacity_factor=float("inf")), ValueError, "positive finite"),
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


# --- load statistics --------------------------------------------------------------------


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


# --- parameters and FLOPs ---------------------------------------------------------------


def test_routed_cost_mixtral():
    # Mixtral 8x7B: 46.7B total, 12.9B active, 2 of 8 experts (Jiang et al., 2024)
    expert = (46.7e9 - 12.9e9) / 6
    cost = routed_cost(
        expert_params=round(expert), num_experts=8, k=2, shared_params=round(12.9e9 - 2 * expert)
    )
    assert cost.total_params == pytest.approx(46.7e9, rel=1e-6)
    assert cost.active_params == pytest.approx(12.9e9, rel=1e-6)
    assert cost.flops_per_token == 2 * cost.active_params  # default: two FLOPs per active parameter
    assert cost.active_fraction == pytest.approx(12.9 / 46.7, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(expert_params=10, num_experts=4, k=5), "at most num_experts=4"),
        (dict(expert_params=-1, num_experts=4, k=1), "expert_params must be a non-negative int"),
        (dict(expert_params=10, num_experts=4, k=1, shared_params=1.5), "shared_params must be"),
        (dict(expert_params=0, num_experts=4, k=1), "both 0"),
        (dict(expert_params=10, num_experts=4, k=1, expert_flops=-3), "expert_flops must be"),
    ],
)
def test_routed_cost_rejects_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        routed_cost(**kwargs)


@pytest.mark.parametrize(
    ("d_in", "h", "d_out", "E", "k"), [(3, 8, 1, 8, 1), (5, 4, 2, 6, 2), (2, 3, 3, 4, 4)]
)
def test_moe_mlp_cost_matches_pytorch(d_in, h, d_out, E, k):
    layer = MoELayer(d_in, h, d_out, E, k)
    cost = moe_mlp_cost(d_in, h, d_out, E, k)
    assert cost.total_params == count_parameters(layer)
    x = torch.randn(64, d_in)
    assert count_flops(layer, x) == 64 * cost.flops_per_token  # experts run on their inputs only
    expert = count_parameters(layer.experts[0])
    assert cost.active_params == d_in * E + k * expert


def test_dense_cost_and_matched_width():
    dense = DenseMLP(3, 14, 1)
    cost = dense_mlp_cost(3, 14, 1)
    assert cost.total_params == cost.active_params == count_parameters(dense)
    assert count_flops(dense, torch.randn(10, 3)) == 10 * cost.flops_per_token
    target = moe_mlp_cost(3, 8, 1, 8, 1).flops_per_token
    width = matched_dense_width(target, 3, 1)
    assert (
        dense_mlp_cost(3, width, 1).flops_per_token
        >= target
        > dense_mlp_cost(3, width - 1, 1).flops_per_token
    )
    with pytest.raises(ValueError, match="flops_per_token must be a positive int"):
        matched_dense_width(0, 3, 1)
    with pytest.raises(ValueError, match="d_hidden must be a positive int"):
        dense_mlp_cost(3, 0, 1)


# --- the reference layer ----------------------------------------------------------------


def test_moe_layer_with_all_experts_is_the_softmax_mixture():
    torch.manual_seed(0)
    layer = MoELayer(4, 5, 2, num_experts=3, k=3)
    x = torch.randn(16, 4)
    y, _ = layer(x)
    probs = layer.router(x).softmax(dim=1)
    want = sum(probs[:, e, None] * layer.experts[e](x) for e in range(3))
    assert torch.allclose(y, want, atol=1e-6)


def test_moe_layer_top1_uses_one_expert_per_input():
    torch.manual_seed(1)
    layer = MoELayer(4, 5, 2, num_experts=4, k=1)
    x = torch.randn(16, 4)
    y, balance = layer(x)
    probs = layer.router(x).softmax(dim=1)
    best = probs.argmax(dim=1)
    for t in range(16):
        want = probs[t, best[t]] * layer.experts[int(best[t])](x[t : t + 1])[0]
        assert torch.allclose(y[t], want, atol=1e-6)
    assert balance.item() == pytest.approx(load_balancing_loss(probs, best[:, None]).item())


def test_moe_layer_drops_overflowing_inputs():
    torch.manual_seed(2)
    layer = MoELayer(4, 5, 1, num_experts=4, k=1)
    x = torch.randn(64, 4)
    full, _ = layer(x)
    capped, _ = layer(x, capacity_factor=0.5)
    _, _, chosen = layer.route(x)
    keep = within_capacity(chosen, 4, expert_capacity(64, 4, 1, 0.5))[:, 0]
    assert torch.equal(capped[~keep], torch.zeros_like(capped[~keep]))  # dropped: no expert output
    assert torch.allclose(capped[keep], full[keep])
    assert (~keep).any()  # the test would be empty otherwise


def test_moe_layer_rejects_bad_sizes():
    with pytest.raises(ValueError, match="at most num_experts=4"):
        MoELayer(3, 8, 1, num_experts=4, k=5)
    with pytest.raises(ValueError, match="d_hidden must be a positive int"):
        MoELayer(3, 0, 1, num_experts=4)


def test_check_moe_layer_accepts_the_reference_and_catches_a_wrong_layer(capsys):
    check_moe_layer(MoELayer)
    assert "✓" in capsys.readouterr().out

    class Renormalized(MoELayer):
        """Gates renormalized over the top k (Mixtral's choice): different outputs for k=1."""

        def route(self, x):
            probs, gate, chosen = super().route(x)
            return probs, gate / gate.sum(dim=1, keepdim=True), chosen

    with pytest.raises(AssertionError, match="outputs differ"):
        check_moe_layer(Renormalized)

    class Renamed(nn.Module):
        def __init__(self, d_in, d_hidden, d_out, num_experts, k):
            super().__init__()
            self.gate = nn.Linear(d_in, num_experts, bias=False)

    with pytest.raises(AssertionError, match="not named like MoELayer"):
        check_moe_layer(Renamed)


def test_mse_with_balance_and_evaluate_moe():
    torch.manual_seed(3)
    prediction, target, balance = torch.randn(8, 1), torch.randn(8, 1), torch.tensor(1.5)
    loss = mse_with_balance(0.2)((prediction, balance), target)
    assert loss.item() == pytest.approx(torch.nn.functional.mse_loss(prediction, target).item() + 0.3)
    with pytest.raises(ValueError, match="alpha must be a non-negative number"):
        mse_with_balance(-0.1)

    data = Split(torch.randn(100, 3), torch.randn(100, 1))
    layer = MoELayer(3, 4, 1, num_experts=4)
    plain = evaluate_moe(layer, data, batch_size=32)
    assert set(plain) == {"loss"}
    with torch.no_grad():
        want = torch.nn.functional.mse_loss(layer(data.x)[0], data.y).item()
    assert plain["loss"] == pytest.approx(want, rel=1e-5)
    capped = evaluate_moe(layer, data, batch_size=32, capacity_factor=1.0)
    assert 0.0 <= capped["dropped_fraction"] < 1.0
    assert "dropped_fraction" not in evaluate_moe(DenseMLP(3, 4, 1), data, batch_size=32)
    with pytest.raises(TypeError, match="labsupport Split"):
        evaluate_moe(layer, (data.x, data.y), batch_size=32)


# --- the task ---------------------------------------------------------------------------


def test_make_regime_task():
    task = make_regime_task(2000, 500, num_regimes=6, seed=3)
    assert task.train.x.shape == (2000, 3) and task.test.y.shape == (500, 1)
    assert abs(task.train.y.mean().item()) < 1e-5 and task.train.y.std().item() == pytest.approx(
        1.0, rel=1e-5
    )
    # the targets are exactly each regime's wave at the input's z
    assert torch.allclose(task.target(task.train_regime, task.train.x[:, 2]), task.train.y, atol=1e-5)
    # the context sits near the regime's point on the circle
    clean = task.inputs(task.test_regime, task.test.x[:, 2])
    assert (task.test.x[:, :2] - clean[:, :2]).abs().max() < 0.5
    assert set(task.train_regime.tolist()) == set(range(6))
    again = make_regime_task(2000, 500, num_regimes=6, seed=3)
    assert torch.equal(task.train.x, again.train.x) and torch.equal(task.test.y, again.test.y)
    assert not torch.equal(task.train.x, make_regime_task(2000, 500, num_regimes=6, seed=4).train.x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_train=0, num_test=10), "num_train must be a positive int"),
        (dict(num_train=10, num_test=10, num_regimes=0), "num_regimes must be a positive int"),
        (dict(num_train=10, num_test=10, context_noise=-0.1), "context_noise must be >= 0"),
        (dict(num_train=10, num_test=10, cycles=(2.0, 1.0)), "0 < low <= high"),
    ],
)
def test_make_regime_task_rejects_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regime_task(**kwargs)


def test_public_api_is_exported():
    for name in (
        "MoELayer",
        "DenseMLP",
        "make_regime_task",
        "expert_capacity",
        "within_capacity",
        "load_stats",
        "load_balancing_loss",
        "routed_cost",
        "moe_mlp_cost",
        "matched_dense_width",
        "check_moe_layer",
    ):
        assert name in labsupport.__all__ and hasattr(labsupport, name)
