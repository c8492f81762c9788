"""Chapter 7's claims, on Lab 7's own cpu-profile run.

The timing ratios are measured interleaved in the lab (the two sides take turns), and
``make test`` runs Lab 7 in cpu before its two test streams start, alone on the machine.
The speed-ups are wall-clock ratios, each prompt's fastest of the lab's rounds; the lab also
reports the spread over single rounds. The bytes a split process sends are checked against
the model's shape and against what the operating system counted it writing, not against the
counter that produced them.
"""

from statistics import median

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("07_serving")


def test_the_kv_cache_changes_the_time_not_the_output(lab, claim):
    v, t = lab["values"], lab["timings"]
    assert v["same_bytes_with_and_without_cache"]
    speedup, growth = t["cache_speedup_last_quarter"], t["uncached_step_growth"]
    claim("cache_speedup_last_quarter", speedup, ">", 1.3, "late in the window the cache saves recomputing")
    claim("uncached_step_growth", growth, ">", 1.2, "without a cache a step costs more as the window grows")


def test_batching_multiplies_throughput_for_a_little_latency(lab, claim):
    v, t = lab["values"], lab["timings"]
    assert v["batch_sizes"][0] == 1 and v["batch_sizes"][-1] >= 32
    gain = t["batch_throughput"][-1] / t["batch_throughput"][0]
    latency = t["batch_latency"][-1] / t["batch_latency"][0]
    claim("batch throughput gain", gain, ">", 8, "a batch of dozens decodes many times the bytes per second")
    claim("batch latency cost", latency, "<", v["batch_sizes"][-1] / 4, "a step slows far less than it grows")


def test_speculative_greedy_decoding_gives_the_big_models_bytes(lab, claim):
    v = lab["values"]
    assert v["speculative_greedy_identical"]
    for draft in ("student", "bigram"):
        per_pass = v[f"{draft}_bytes_per_pass"]
        claim(f"{draft} fewest bytes per pass", min(per_pass), ">", 1, "every pass yields more than one byte")
        assert per_pass == sorted(per_pass), "longer drafts, more bytes per pass"
        assert all(0.2 < a < 1 for a in v[f"{draft}_acceptance"])
    better = zip(v["student_acceptance"], v["bigram_acceptance"], strict=True)
    assert all(s > b for s, b in better), "the draft with blocks agrees with the big model more often"


def test_a_draft_must_be_cheap_as_well_as_right(lab, claim):
    v, t = lab["values"], lab["timings"]
    claim("student_cost_ratio", t["student_cost_ratio"], ">", 0.5, "on a CPU a step costs per layer")
    claim("bigram_cost_ratio", t["bigram_cost_ratio"], "<", 0.4, "a draft without blocks is cheap")
    bigram, student = max(t["bigram_speedup"]), max(t["student_speedup"])
    # 1.1, not 1.2: measured in turn with decoding alone (no longer after it), the best speed-up
    # on this 2-core VM was 1.19-1.86 over five runs (1.28, 1.86, 1.19, 1.45, 1.20)
    claim("best bigram speed-up", bigram, ">", 1.1, "the cheap draft speeds decoding up")
    claim("best student speed-up", student, "<", bigram, "the dearer draft less")
    # Chapter 8: "a draft that is not cheap enough slows decoding down (Lab 7)". Measured, each
    # prompt's fastest of 5 rounds; the median single round says the same.
    claim("best student speed-up", student, "<", 1, "the student draft slows decoding down")
    rounds = t["student_round_speedups"]
    claim("median round's best student speed-up", median(rounds), "<", 1, "in a single round too")
    for draft in ("student", "bigram"):  # Leviathan et al.'s formula, with alpha and c measured here
        c = t[f"{draft}_cost_ratio"]
        for k, a, measured in zip(
            v["draft_lengths"], v[f"{draft}_acceptance"], t[f"{draft}_speedup"], strict=True
        ):
            predicted = (1 - a ** (k + 1)) / ((1 - a) * (1 + k * c))
            claim(f"{draft} k={k} measured / predicted", measured / predicted, ">", 0.6, "the formula holds")
            claim(f"{draft} k={k} measured / predicted", measured / predicted, "<", 1.6, "the formula holds")


def test_speculative_sampling_keeps_the_distribution_and_the_test_can_tell(lab, claim):
    v = lab["values"]
    claim("chain_test_p_value_verify", v["chain_test_p_value_verify"], ">", 1e-3, "the same distribution")
    claim("p_value_keep_everything", v["chain_test_p_value_keep_everything"], "<", 1e-6, "the test can tell")
    assert 0.2 < v["sampled_acceptance"] < 1


def test_splitting_the_model_over_processes_keeps_its_output_and_only_adds_time(lab, claim):
    v, t = lab["values"], lab["timings"]
    for mode in ("tensor", "pipeline"):
        assert v[f"{mode}_same_bytes"]
        claim(f"{mode}_logit_difference", v[f"{mode}_logit_difference"], "<", 1e-4, "only rounding differs")
        step, target = t[f"{mode}_step_seconds"], t["target_step_seconds"]
        claim(
            f"{mode}_step_seconds", step, ">", target, "at this size communication costs more than it saves"
        )


def test_each_process_sends_the_ring_share_of_the_all_reduce_payload(lab, claim):
    v = lab["values"]
    p, d, layers = v["processes"], v["model_width"], v["model_layers"]
    payload = 2 * layers * d * 4  # per token: two all-reduces per layer of one fp32 d-vector
    assert v["tensor_payload_per_token"] == [payload] * p, "the payload follows the model's shape"
    # the system's count of bytes written (gloo's sockets), independent of the lab's counter
    ring, one = 2 * (p - 1) / p, v["all_reduce_written_bytes"]
    claim("ring_factor", v["ring_factor"], ">", 0.98 * ring, "each process sends 2(p-1)/p of the payload")
    claim("ring_factor", v["ring_factor"], "<", 1.02 * ring, "each process sends 2(p-1)/p of the payload")
    claim("one all-reduce written / its ring share", one / (ring * d * 4), ">", 1, "a header comes on top")
    for written in v["tensor_written_per_token"]:
        share = written / (2 * layers * one)
        claim("written per token / 2 layers' all-reduces", share, ">", 0.98, "a token sends its all-reduces")
        claim("written per token / 2 layers' all-reduces", share, "<", 1.02, "and nothing else")
