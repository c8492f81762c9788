"""Chapter 8's claims, on the capstone's (Lab 8's) own cpu-profile run.

Timings (training seconds, seconds per query, the crossover in seconds) are reported by the
lab and not asserted: they are measurements of this machine, not claims of the chapter.
"""

import math

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("08_capstone")


def test_the_law_fits_the_grid_and_its_optimum_is_a_size_the_grid_spans(lab, claim):
    v = lab["values"]
    claim("law_r2", v["law_r2"], ">", 0.9, "the parametric law describes the small runs")
    assert 0.3 < v["law_a"] < 0.8, "N_opt grows with compute at a Chinchilla-like rate (a ≈ 0.5)"
    assert v["bootstrap_N_low"] <= v["compute_optimal_N"] <= v["bootstrap_N_high"]
    spread = v["bootstrap_N_high"] / v["bootstrap_N_low"]
    claim("bootstrap N_opt high / low", spread, "<", 2, "the bootstrap pins N_opt within 2x")


def test_a_low_volume_favours_the_compute_optimal_size_and_a_high_one_the_smaller(lab):
    v = lab["values"]
    assert v["inference_aware_width"] < v["compute_optimal_width"]
    assert v["inference_aware_samples"] > v["compute_optimal_samples"], "smaller, trained longer"
    low = v["total_flops_compute_optimal_low"], v["total_flops_inference_aware_low"]
    high = v["total_flops_compute_optimal_high"], v["total_flops_inference_aware_high"]
    assert low[0] < low[1], "at a low query volume the compute-optimal model costs less in total"
    assert high[1] < high[0], "at a high one the inference-aware model does"
    assert v["queries_low"] < v["crossover_queries"] < v["queries_high"]
    high = math.inf if v["crossover_high"] is None else v["crossover_high"]  # None: never
    assert v["crossover_low"] <= v["crossover_queries"] <= high


def test_both_trained_models_reach_the_target_the_law_forecast(lab, claim):
    v = lab["values"]
    for name in ("compute_optimal", "inference_aware"):
        measured, predicted = v[f"{name}_loss"], v[f"{name}_predicted"]
        claim(f"{name} relative miss", abs(measured - predicted) / predicted, "<", 0.15, "the forecast holds")
    assert v["inference_aware_loss"] < 1.1 * v["compute_optimal_loss"], "the smaller one is as good"


def test_int8_fits_the_budget_at_almost_no_cost_and_fewer_bits_cost_more(lab, claim):
    v = lab["values"]
    size = dict(zip(v["formats"], v["format_bytes"], strict=True))
    loss = dict(zip(v["formats"], v["format_loss"], strict=True))
    assert size["fp32"] > v["memory_budget"] >= size[v["format_choice"]]
    claim("int8 loss", loss["int8"], "<", 1.05 * loss["fp32"], "8 bits per weight are nearly free")
    claim("int3 loss", loss["int3"], ">", 2 * loss["fp32"], "3 bits per weight are not")
    assert v["format_choice"] in ("int8", "int6")


def test_more_samples_with_a_verifier_solve_more_tasks(lab, claim):
    v = lab["values"]
    for name in ("student", "course_model"):
        # (pass@k cannot fall with k: the estimator is monotone by construction)
        curve = v[f"{name}_pass_at_k"]
        claim(f"{name} pass@{v['samples'][-1]}", curve[-1], ">", curve[0] + 0.1, "more samples solve more")
    assert v["course_model_pass_at_k"][0] > v["student_pass_at_k"][0], "one answer: bigger is better"
    claim("flops_ratio", v["flops_ratio"], ">", 4, "a course-model answer costs several student answers")
    at_equal, one = v["student_at_equal_flops"], v["student_pass_at_k"][0]
    claim("student_at_equal_flops", at_equal, ">", 2 * one, "the verifier's choice pays")
    # ... but one student answer succeeds too rarely to catch up at equal FLOPs (the lab says why)
    assert v["course_model_greedy"] > v["student_at_equal_flops"]


def test_the_decision_holds_under_the_refits_and_more_traffic_never_favours_a_larger_model(lab, claim):
    v = lab["values"]
    assert v["changed_queries"] == 10 * v["queries_high"]
    assert v["changed_width"] <= v["inference_aware_width"], "ten times the queries, no larger a model"
    assert v["changed_moves"] == (v["changed_width"] != v["inference_aware_width"])
    claim("refits_agreeing", v["refits_agreeing"], ">", 0.5, "most bootstrap refits plan the same width")
