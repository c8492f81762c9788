"""Chapter 5's claims, on Lab 5's own cpu-profile run."""

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("05_mixture_of_experts")


def test_at_equal_flops_the_moe_has_more_parameters_and_a_lower_loss(lab, claim):
    v = lab["values"]
    assert v["flops_per_input"] == v["dense_flops_per_input"]
    assert v["moe_parameters"] > 3 * v["dense_parameters"]
    assert v["moe_active_parameters"] <= v["dense_parameters"]
    claim("moe_test_mse", v["moe_test_mse"], "<", 0.5 * v["dense_test_mse"], "under half the dense MSE")


def test_at_equal_total_parameters_the_dense_model_does_more_flops_and_on_this_task_loses(lab):
    """The other half of the trade-off, on a task built for routing (the lab says so)."""
    v = lab["values"]
    assert abs(v["equal_params_dense_parameters"] - v["moe_parameters"]) <= 0.02 * v["moe_parameters"]
    assert v["equal_params_dense_flops_per_input"] > 4 * v["flops_per_input"]
    mse = v["equal_params_dense_test_mse"]
    assert mse < v["dense_test_mse"], "more parameters help the dense model too"
    assert v["moe_test_mse"] < mse, "routing still wins on eight regimes named by their context"


def test_a_batch_of_a_few_dozen_inputs_touches_every_expert(lab):
    """Review M3: a decoding step reads every expert that any input of the batch picks."""
    v = lab["values"]
    n, k = v["num_experts"], v["k"]
    sizes = v["decode_batch_sizes"]
    trained, uniform = v["experts_touched_trained"], v["experts_touched_uniform"]
    assert trained[0] == uniform[0] == k, "one input reads exactly its k experts"
    assert trained == sorted(trained)
    assert trained[sizes.index(16)] > 0.8 * n
    assert trained[-1] == n
    for b, t, u in zip(sizes, trained, uniform, strict=True):
        assert abs(t - u) <= 0.1 * u, (b, t, u)  # a balanced router touches as many as a uniform one
        expected = n * (1 - (1 - k / n) ** b)  # the chapter's exercise moe-ex-batch-reads
        assert abs(u - expected) <= 0.05 * expected, (b, u, expected)


def test_the_balancing_loss_balances_the_load(lab, claim):
    v = lab["values"]
    load = dict(zip(v["alphas"], v["max_mean_load"], strict=True))
    claim("max/mean load without balancing", load[0.0], ">", 2.0, "a few experts take most inputs")
    claim("max/mean load, strongest balancing", load[max(v["alphas"])], "<", 1.3, "balanced")
    assert v["max_mean_load"] == sorted(v["max_mean_load"], reverse=True)


def test_unbalanced_experts_overflow_and_drop_more_inputs(lab, claim):
    v = lab["values"]
    for cf, unbalanced, balanced in zip(
        v["capacity_factors"], v["dropped_without_balance"], v["dropped_with_balance"], strict=True
    ):
        assert balanced <= unbalanced, cf
    one = v["capacity_factors"].index(1.0)
    dropped = v["dropped_without_balance"][one]
    claim("dropped without balance at 1.0", dropped, ">", 2 * v["dropped_with_balance"][one], "twice as many")
    assert v["dropped_with_balance"][-1] < 0.01, "a generous capacity drops almost nothing when balanced"


def test_routing_costs_time_on_a_cpu(lab, claim):
    t = lab["timings"]
    moe = t["moe_us_per_input"]
    claim("moe_us_per_input", moe, ">", t["dense_us_per_input"], "dispatch, not FLOPs, dominates here")
    dense = t["equal_params_dense_us_per_input"]
    claim("moe_us_per_input", moe, ">", dense, "even the dense model with all its parameters is faster")
