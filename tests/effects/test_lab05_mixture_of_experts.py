"""Chapter 5's claims, on Lab 5's own cpu-profile run."""

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("05_mixture_of_experts")


def test_at_equal_flops_the_moe_has_more_parameters_and_a_lower_loss(lab):
    v = lab["values"]
    assert v["flops_per_input"] == v["dense_flops_per_input"]
    assert v["moe_parameters"] > 3 * v["dense_parameters"]
    assert v["moe_active_parameters"] <= v["dense_parameters"]
    assert v["moe_test_mse"] < 0.5 * v["dense_test_mse"], (v["moe_test_mse"], v["dense_test_mse"])


def test_the_balancing_loss_balances_the_load(lab):
    v = lab["values"]
    load = dict(zip(v["alphas"], v["max_mean_load"], strict=True))
    assert load[0.0] > 2.0, "without it, a few experts take most inputs"
    assert load[max(v["alphas"])] < 1.3
    assert v["max_mean_load"] == sorted(v["max_mean_load"], reverse=True)


def test_unbalanced_experts_overflow_and_drop_more_inputs(lab):
    v = lab["values"]
    for cf, unbalanced, balanced in zip(
        v["capacity_factors"], v["dropped_without_balance"], v["dropped_with_balance"], strict=True
    ):
        assert balanced <= unbalanced, cf
    one = v["capacity_factors"].index(1.0)
    assert v["dropped_without_balance"][one] > 2 * v["dropped_with_balance"][one]
    assert v["dropped_with_balance"][-1] < 0.01, "a generous capacity drops almost nothing when balanced"


def test_routing_costs_time_on_a_cpu(lab):
    t = lab["timings"]
    assert t["moe_us_per_input"] > t["dense_us_per_input"], "dispatch, not FLOPs, dominates at this size"
