"""Chapter 8's claims, on the capstone's (Lab 8's) own cpu-profile run.

Timings (training seconds, seconds per query, the crossover in seconds) are reported by the
lab and not asserted: they are measurements of this machine, not claims of the chapter.
"""

import itertools
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
        # (pass@k cannot fall with k on the same samples; the gain must be large)
        curve = v[f"{name}_pass_at_k"]
        claim(f"{name} pass@{v['samples'][-1]}", curve[-1], ">", curve[0] + 0.1, "more samples solve more")
    assert v["course_model_pass_at_k"][0] > v["student_pass_at_k"][0], "one answer: bigger is better"
    claim("flops_ratio", v["flops_ratio"], ">", 4, "a course-model answer costs several student answers")
    at_equal, one = v["student_at_equal_flops"], v["student_pass_at_k"][0]
    claim("student_at_equal_flops", at_equal, ">", 2 * one, "the verifier's choice pays")


def test_the_student_does_not_catch_up_at_equal_flops_and_nearly_does_at_more(lab, claim):
    """Chapter 8: "does not catch up at equal FLOPs on this task; at about 1.5x the FLOPs it
    nearly does". The lead is paired over the same tasks; its standard error is over tasks."""
    v = lab["values"]
    (lead_equal, lead_more), (se_equal, se_more) = (
        v["course_model_lead"],
        v["course_model_lead_standard_error"],
    )
    claim("course-model lead at equal FLOPs, in s.e.", lead_equal / se_equal, ">", 2, "not caught up")
    more_flops = v["samples"][-1] / v["flops_ratio"]
    assert 1 < more_flops < 2, f"the largest k should cost 1-2 course-model answers, got {more_flops:.2f}"
    claim("course-model lead at the largest k, in s.e.", abs(lead_more) / se_more, "<", 2, "nearly caught up")


def test_the_longer_trained_model_loses_more_at_few_bits_and_neither_much_at_8(lab, claim):
    """Kumar et al. 2025 and Ouyang et al. 2025: quantization hurts more after more training
    (and at smaller size; the inference-aware model is both). Over the lab's copies of each."""
    v = lab["values"]
    assert v["quant_seeds"] >= 32, "a difference this small needs many copies of each model"
    assert v["samples_per_parameter_inference_aware"] > 2 * v["samples_per_parameter_compute_optimal"]
    bits = v["quant_bits"]
    co, ia = v["quant_increase_compute_optimal"], v["quant_increase_inference_aware"]
    se = v["quant_difference_standard_error"]
    at = {b: i for i, b in enumerate(bits)}
    claim(
        "int8 loss increase, larger of the two",
        max(co[at[8]], ia[at[8]]),
        "<",
        0.02,
        "8 bits nearly free for both",
    )
    for b in (4, 3):
        z = (ia[at[b]] - co[at[b]]) / se[at[b]]
        claim(
            f"int{b}: inference-aware minus compute-optimal, in s.e.", z, ">", 2, "longer-trained loses more"
        )
        assert v["quant_loses_more"][at[b]] == "inference-aware"


def test_counting_samples_favours_the_student_only_where_it_needs_few(lab, claim):
    """Roberts et al. 2026 count k in the total cost. Here the student (smaller, more bytes per
    parameter) is cheapest where it needs fewer samples than one course-model answer buys; at
    the hardest target it needs more, and at the high volume the course model answering once wins."""
    v = lab["values"]
    rows = list(
        zip(*(v[f"k_search_{f}"] for f in ("target", "queries", "most_k", "model", "k")), strict=True)
    )
    one_answer = {t: m for t, q, most, m, k in rows if most == 1}
    assert all(m != "student" for m in one_answer.values()), "one student answer reaches no target"
    counted = {(t, q): (m, k) for t, q, most, m, k in rows if most > 1}
    low, high, hard = v["queries_low"], v["queries_high"], max(v["success_targets"])
    for target in v["success_targets"]:
        model, k = counted[(target, high)]
        if model == "student":
            assert k < v["flops_ratio"], "the student wins at high volume only on fewer samples per query"
    assert counted[(min(v["success_targets"]), high)][0] == "student", "an easy target: the student"
    hard_low, hard_high = counted[(hard, low)], counted[(hard, high)]
    assert hard_low[0] == "student" and hard_low[1] > v["flops_ratio"], (
        "hard: many samples, cheap at low volume"
    )
    assert hard_high == ("course model", 1), "hard target, high volume: the course model answering once"


def test_the_decision_holds_under_the_refits_and_more_traffic_never_favours_a_larger_model(lab, claim):
    v = lab["values"]
    assert v["changed_queries"] == 10 * v["queries_high"]
    assert v["changed_width"] <= v["inference_aware_width"], "ten times the queries, no larger a model"
    assert v["changed_moves"] == (v["changed_width"] != v["inference_aware_width"])
    claim("refits_agreeing", v["refits_agreeing"], ">", 0.5, "most bootstrap refits plan the same width")


def test_the_best_learning_rate_drifts_with_width_under_sp_and_stays_put_under_mup(lab, claim):
    """Chapter 2, "Tuning a model too big to tune" (Yang et al. 2022): under the standard
    parametrization the best Adam rate falls as the width grows; under μP it stays within one
    grid step. Read from the mean over seeds of log loss, on a factor-2 grid of rates."""
    v = lab["values"]
    widths, lrs = v["transfer_widths"], v["transfer_lrs"]
    assert widths[-1] >= 16 * widths[0], "the grid spans a factor of 16 in width at least"
    assert all(b / a == 2 for a, b in itertools.pairwise(lrs)), "rates a factor of 2 apart"
    assert v["transfer_seeds"] >= 2, "a move must stand out of the seeds' spread"
    sp, mup = v["sp_best_index"], v["mup_best_index"]
    claim("SP: grid steps the best rate falls, smallest to largest width", sp[0] - sp[-1], ">=", 2, "drifts")
    claim(
        "μP: grid steps the best rate moves, smallest to largest width",
        abs(mup[-1] - mup[0]),
        "<=",
        1,
        "stays",
    )
    # not the mean of a few outliers: every seed of the largest width prefers a lower rate
    assert v["sp_best_index_seed_max"][-1] < sp[0], "every seed of the largest width falls"


def test_a_rate_tuned_small_and_transferred_under_mup_nearly_matches_tuning_the_largest(lab, claim):
    """Tune at the smallest width, train the largest once at that rate (μP): its loss is within
    15% of tuning the largest width directly, for a fraction of the FLOPs. The margin: the
    seeds at the direct best alone spread by about 6% of their mean in the course's cpu run
    (0.0076 to 0.0081), and one grid step off a valley's flat bottom costs about as much again,
    so a tighter margin would test the seeds and the grid, not the transfer. The seeds' spread
    is asserted to stay below the margin. Under SP the same recipe must cost more."""
    v = lab["values"]
    margin = 0.15
    transferred, direct = v["mup_transferred"], v["mup_direct"]
    claim("μP: transferred loss / directly tuned loss", transferred / direct, "<=", 1 + margin, "transfers")
    seeds = v["mup_direct_seeds"]
    relative_spread = (max(seeds) - min(seeds)) / direct
    assert relative_spread < margin, "the seeds agree more closely than the margin"
    sp_penalty = v["sp_transferred"] / v["sp_direct"]
    claim(
        "SP: transferred loss / directly tuned loss",
        sp_penalty,
        ">",
        transferred / direct,
        "SP transfers worse",
    )
    claim("tuning FLOPs, transfer / direct", v["transfer_flops"] / v["direct_flops"], "<", 0.2, "far cheaper")
