"""Chapter 7's claims, on Lab 7's own cpu-profile run."""

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("07_serving")


def test_the_kv_cache_changes_the_time_not_the_output(lab):
    v, t = lab["values"], lab["timings"]
    assert v["same_bytes_with_and_without_cache"]
    assert t["cache_speedup_last_quarter"] > 1.3, "late in the window the cache saves recomputing it"
    assert t["uncached_step_growth"] > 1.2, "without a cache a step costs more the longer the window"


def test_the_cache_holds_two_vectors_per_layer_per_token(lab):
    v = lab["values"]
    formula = 2 * v["model_layers"] * v["model_width"] * 4  # keys and values, fp32
    assert v["cache_bytes_per_token"] == formula == v["cache_formula_bytes_per_token"]


def test_batching_multiplies_throughput_for_a_little_latency(lab):
    v, t = lab["values"], lab["timings"]
    assert v["batch_sizes"][0] == 1 and v["batch_sizes"][-1] >= 32
    gain = t["batch_throughput"][-1] / t["batch_throughput"][0]
    latency = t["batch_latency"][-1] / t["batch_latency"][0]
    assert gain > 8, "a batch of dozens decodes many times the bytes per second"
    assert latency < v["batch_sizes"][-1] / 4, "while a step slows down far less than the batch grows"


def test_speculative_greedy_decoding_gives_the_big_models_bytes(lab):
    v = lab["values"]
    assert v["speculative_greedy_identical"]
    for draft in ("student", "bigram"):
        per_pass = v[f"{draft}_bytes_per_pass"]
        assert all(b > 1 for b in per_pass), "every big-model pass yields more than one byte"
        assert per_pass == sorted(per_pass), "longer drafts, more bytes per pass"
        assert all(0.2 < a < 1 for a in v[f"{draft}_acceptance"])
    better = zip(v["student_acceptance"], v["bigram_acceptance"], strict=True)
    assert all(s > b for s, b in better), "the draft with blocks agrees with the big model more often"


def test_a_draft_must_be_cheap_as_well_as_right(lab):
    v, t = lab["values"], lab["timings"]
    assert t["student_cost_ratio"] > 0.5, "on a CPU a step costs per layer, whatever the width"
    assert t["bigram_cost_ratio"] < 0.4
    assert max(t["bigram_speedup"]) > 1.2, "the cheap draft speeds decoding up"
    assert max(t["student_speedup"]) < max(t["bigram_speedup"])
    for draft in ("student", "bigram"):  # Leviathan et al.'s formula, with alpha and c measured here
        c = t[f"{draft}_cost_ratio"]
        for k, a, measured in zip(
            v["draft_lengths"], v[f"{draft}_acceptance"], t[f"{draft}_speedup"], strict=True
        ):
            predicted = (1 - a ** (k + 1)) / ((1 - a) * (1 + k * c))
            assert 0.6 < measured / predicted < 1.6, (draft, k, measured, predicted)


def test_speculative_sampling_keeps_the_distribution_and_the_test_can_tell(lab):
    v = lab["values"]
    assert v["chain_test_p_value_verify"] > 1e-3
    assert v["chain_test_p_value_keep_everything"] < 1e-6
    assert 0.2 < v["sampled_acceptance"] < 1


def test_splitting_the_model_over_processes_keeps_its_output(lab):
    v, t = lab["values"], lab["timings"]
    d, layers = v["model_width"], v["model_layers"]
    for mode in ("tensor", "pipeline"):
        assert v[f"{mode}_same_bytes"]
        assert v[f"{mode}_logit_difference"] < 1e-4, "only rounding differs"
    assert v["tensor_bytes_per_token"] == [2 * layers * d * 4] * v["processes"], "2 all-reduces per layer"
    assert v["pipeline_bytes_per_token"] == [d * 4, 8], "one activation forward, one byte back"
    assert t["tensor_step_seconds"] > t["target_step_seconds"], (
        "at this size communication costs more than it saves"
    )
