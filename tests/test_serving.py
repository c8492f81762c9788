"""Tests of Lab 7's support: labsupport.lm.serve, .speculative, .parallel, the drafts and their checks."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from labsupport.cache import sha256_of
from labsupport.checks import (
    check_largest,
    check_tokens_per_pass,
    check_verifier,
)
from labsupport.checks.serving import check_kv_decode
from labsupport.lm.model import DRAFT_MODELS, ByteLM, course_model_record, load_course_model, weights_dir
from labsupport.lm.parallel import run_parallel, shares
from labsupport.lm.serve import KVCache, forward_cached, generate
from labsupport.lm.speculative import (
    MarkovChain,
    sample,
    sequence_test,
    speculative_generate,
    verify_draft,
)
from tests.conftest import ROOT

P = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]])
Q = torch.tensor([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2], [1 / 3, 1 / 3, 1 / 3]])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ByteLM(32, 2, 64).eval()


def test_the_cached_forward_equals_the_full_forward(model):
    x = torch.randint(0, 256, (3, 40))
    cache = KVCache()
    with torch.no_grad():
        parts = [forward_cached(model, x[:, a:b], cache) for a, b in ((0, 17), (17, 18), (18, 40))]
        full = model(x)
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    assert len(cache) == 40 and cache.nbytes == 2 * 2 * 32 * 40 * 3 * 4
    cache.truncate(10)
    assert len(cache) == 10 and cache.keys[0].shape[2] == 10
    with pytest.raises(ValueError, match="context=64"):
        forward_cached(model, torch.zeros(1, 60, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="positions"):
        cache.truncate(11)


def test_generation_is_the_same_with_and_without_the_cache(model):
    prompts = torch.randint(0, 256, (2, 8))
    times: list[float] = []
    cached = generate(model, prompts, 20, step_seconds=times)
    assert torch.equal(cached, generate(model, prompts, 20, use_cache=False)) and len(times) == 20
    assert torch.equal(cached[:, :8], prompts)
    sampled = [
        generate(model, prompts, 20, temperature=1.0, generator=torch.Generator().manual_seed(3))
        for _ in "ab"
    ]
    assert torch.equal(*sampled) and not torch.equal(sampled[0], cached)
    with pytest.raises(ValueError, match="new_bytes"):
        generate(model, prompts, 57)  # 8 + 57 > the 64-byte context


def test_the_course_models_cache_holds_two_vectors_per_layer_per_token():
    """Chapter 7's formula on the cache Lab 7 measures: keys and values, d floats each, per
    layer and token (fp32); configuration arithmetic, so tested here, not on the lab's run."""
    course = load_course_model()
    cache = KVCache()
    with torch.no_grad():
        forward_cached(course, torch.arange(40).view(1, 40), cache)
    layers, d = len(course.blocks), course.config.d_model
    assert cache.nbytes // len(cache) == 2 * layers * d * 4
    assert cache.nbytes % len(cache) == 0


def test_a_model_without_blocks_counts_its_positions():
    bigram = ByteLM(16, 0, 32).eval()
    cache = KVCache()
    with torch.no_grad():
        forward_cached(bigram, torch.zeros(1, 5, dtype=torch.long), cache)
    assert len(cache) == 5 and cache.nbytes == 0


def test_sample_draws_in_proportion_and_never_a_zero_weight():
    g = torch.Generator().manual_seed(0)
    draws = torch.tensor([sample(torch.tensor([0.0, 1.0, 3.0, 0.0]), g) for _ in range(4000)])
    assert set(draws.tolist()) == {1, 2}
    assert (draws == 2).float().mean() == pytest.approx(0.75, abs=0.03)
    assert sample(torch.eye(4)[2], g) == 2


def test_speculative_greedy_output_is_the_targets(model):
    torch.manual_seed(1)
    draft = ByteLM(16, 1, 64).eval()
    prompt = torch.randint(0, 256, (10,))
    alone = generate(model, prompt[None], 40)[0].tolist()
    for k in (0, 1, 3, 7):
        result = speculative_generate(model, draft, prompt, 40, k)
        assert result.tokens == alone, k
        assert result.target_passes <= 40 and result.draft_passes >= (result.target_passes - 1) * min(k, 1)
        assert 0 <= result.acceptance_rate <= 1 and result.bytes_per_target_pass >= 1
    perfect = speculative_generate(model, model, prompt, 40, 4)  # the target as its own draft
    assert perfect.tokens == alone and perfect.rejected == 0 and perfect.target_passes == 8
    # the same greedy output through the general rule (one-hot distributions)
    assert speculative_generate(model, draft, prompt, 40, 3, verify=verify_draft).tokens == alone


def test_speculative_sampling_keeps_the_targets_distribution():
    for k in (1, 3):
        assert sequence_test(P, Q, k=k, new_tokens=3, trials=3000, seed=k).p_value > 1e-3


def test_the_sequence_test_catches_a_rule_that_trusts_the_draft():
    def keep_everything(p, q, drafted, generator=None):
        return len(drafted), sample(p[len(drafted)], generator)

    assert sequence_test(P, Q, k=2, new_tokens=3, trials=2000, verify=keep_everything).p_value < 1e-6


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError, match="square"):
        MarkovChain(torch.ones(2, 3) / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        MarkovChain(torch.ones(2, 2))
    with pytest.raises(ValueError, match="at least one byte"):
        speculative_generate(model, model, torch.tensor([], dtype=torch.long), 4, 2)
    with pytest.raises(ValueError, match="kept"):
        speculative_generate(MarkovChain(P), MarkovChain(Q), torch.tensor([0]), 3, 2,
                             temperature=1.0, verify=lambda p, q, d, g: (5, 0))  # fmt: skip
    with pytest.raises(ValueError, match="same shape"):
        sequence_test(P, torch.eye(2), k=1, new_tokens=2, trials=10)


def test_shares_split_as_evenly_as_possible():
    assert shares(3, 2) == [range(0, 2), range(2, 3)]
    assert shares(192, 2) == [range(0, 96), range(96, 192)]
    assert [len(r) for r in shares(7, 3)] == [3, 2, 2]
    with pytest.raises(ValueError, match="cannot split"):
        shares(2, 3)


@pytest.mark.slow
def test_tensor_and_pipeline_parallel_decoding_equal_one_process(tmp_path):
    model = load_course_model()
    prompt = b"    def __init__(self, name):\n        self."
    single = generate(model, torch.tensor([list(prompt)]), 12)[0].tolist()
    runs, _ = run_parallel(prompt, 12, workdir=tmp_path)
    d, layers = model.config.d_model, model.config.n_layers
    for mode, run in runs.items():
        assert run.tokens == single, mode
        assert run.logits.shape == (12, 256)
    tensor = runs["tensor"]
    assert tensor.per_token() == [2 * layers * d * 4] * 2  # two all-reduces per layer of d floats
    assert runs["pipeline"].per_token() == [d * 4, 8]
    # what the system saw written: at p = 2 a ring sends the payload once, plus the headers
    one = tensor.ranks[0]["all_reduce_wire_bytes"]
    assert tensor.ranks[0]["ring_factor"] == pytest.approx(1, rel=0.01)
    assert one > d * 4
    assert tensor.per_token("wire_bytes") == [pytest.approx(2 * layers * one, rel=0.02)] * 2
    assert all(w > s for w, s in zip(runs["pipeline"].per_token("wire_bytes"), [d * 4, 8], strict=True))
    with pytest.raises(ValueError, match="mode"):
        run_parallel(prompt, 4, modes=("data",), workdir=tmp_path)


@pytest.mark.slow
def test_each_process_of_a_ring_all_reduce_sends_2_p_minus_1_over_p_of_the_payload(tmp_path):
    """Measured by the system's count of bytes written, at p = 3, where it is not the payload."""
    model = load_course_model()
    d, layers = model.config.d_model, model.config.n_layers
    runs, _ = run_parallel(b"def f(x):\n    return", 6, modes=("tensor",), processes=3, workdir=tmp_path)
    tensor = runs["tensor"]
    assert tensor.per_token() == [2 * layers * d * 4] * 3
    for rank in tensor.ranks:
        assert rank["ring_factor"] == pytest.approx(2 * (3 - 1) / 3, rel=0.01)
    one = tensor.ranks[0]["all_reduce_wire_bytes"]
    assert one > 2 * (3 - 1) / 3 * d * 4
    assert tensor.per_token("wire_bytes") == [pytest.approx(2 * layers * one, rel=0.02)] * 3


@pytest.mark.parametrize("name", sorted(DRAFT_MODELS))
def test_the_shipped_drafts_match_their_checksums(name):
    record = course_model_record(name=name)
    path = weights_dir() / f"{name}.pt"
    assert sha256_of(path) == record["sha256"] == (weights_dir() / f"{name}.pt.sha256").read_text().strip()
    draft = load_course_model(name=name)
    assert draft.config.context == load_course_model().config.context
    assert record["teacher"] == "course_model" and record["val_bits_per_byte"] < 4.0
    with pytest.raises(ValueError, match="no shipped model"):
        course_model_record(name="draft_giant")


@pytest.mark.slow
def test_the_draft_script_runs_end_to_end_in_smoke(tmp_path):
    script = ROOT / "tools" / "train_draft_models.py"
    run = subprocess.run(
        [sys.executable, str(script), "--profile", "smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    for name in DRAFT_MODELS:
        assert load_course_model(directory=tmp_path, name=name).config.context == 128


def test_lab_7_checks_pass_right_answers_and_fail_wrong_ones(capsys):
    check_verifier(verify_draft)

    def no_residual(p, q, drafted, generator=None):
        for i, x in enumerate(drafted.tolist()):
            if torch.rand((), generator=generator) >= p[i, x] / q[i, x]:
                return i, sample(p[i], generator)  # p instead of max(0, p - q)
        return len(drafted), sample(p[len(drafted)], generator)

    with pytest.raises(AssertionError, match="do not follow"):
        check_verifier(no_residual)
    check_tokens_per_pass(lambda alphas: sum(math.prod(alphas[:j]) for j in range(len(alphas) + 1)))
    with pytest.raises(AssertionError, match="than the average of a simulation") as failure:
        check_tokens_per_pass(lambda alphas: 1 / (1 - alphas[0]) if alphas and alphas[0] < 1 else 1.0)
    assert "2.08" not in str(failure.value)
    with pytest.raises(AssertionError, match="the target's own byte"):
        check_tokens_per_pass(lambda alphas: sum(math.prod(alphas[:j]) for j in range(1, len(alphas) + 1)))

    def one_rate(alphas):
        a = sum(alphas) / len(alphas) if alphas else 0.0
        return sum(a**j for j in range(len(alphas) + 1))

    with pytest.raises(AssertionError, match="one acceptance rate for every position"):
        check_tokens_per_pass(one_rate)
    check_largest("best", 2, {1: 1.0, 2: 3.0, 3: 2.0}.get, [1, 2, 3], what="speed-up")
    with pytest.raises(AssertionError, match="another candidate has more"):
        check_largest("best", 1, {1: 1.0, 2: 0.5, 3: 2.0}.get, [1, 2, 3], what="speed-up")
    assert "✓" in capsys.readouterr().out


def _cached_step(model, new, cache, mistake=None):
    """Lab 7's exercise 1 (a KV-cache step, the cache a list of [keys, values] per layer),
    right or with one of a learner's likely mistakes."""
    B, t = new.shape
    start = cache[0][0].shape[2] if cache else 0
    first = 0 if mistake == "positions restart" else start
    x = model.tok(new) + model.pos(torch.arange(first, first + t))
    for layer, block in enumerate(model.blocks):
        d, heads = x.shape[2], block.n_heads
        q, k, v = block.qkv(block.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(B, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
        if layer < len(cache):
            if mistake != "cache not kept":
                k = torch.cat([cache[layer][0], k], dim=2)
                v = torch.cat([cache[layer][1], v], dim=2)
            cache[layer] = [k, v]
        else:
            cache.append([k, v])
        if mistake == "is_causal":  # full_forward's line, copied: the mask aligns to the first key
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif mistake == "no mask after the prompt":  # right for one new byte, not for several
            y = F.scaled_dot_product_attention(q, k, v, is_causal=start == 0)
        else:
            seen = k.shape[2]  # start + t, unless the cache was not kept
            causal = torch.ones(t, seen, dtype=torch.bool).tril(seen - t)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal)
        x = x + block.proj(y.transpose(1, 2).reshape(B, t, d))
        x = x + block.out(F.gelu(block.fc(block.ln2(x))))
    return model.ln(x) @ model.tok.weight.T


def test_the_kv_decode_check_passes_the_step_and_names_the_stage_each_mistake_fails(model, capsys):
    prompts = torch.randint(0, 256, (2, 10), generator=torch.Generator().manual_seed(0))
    check_kv_decode(_cached_step, model, prompts)
    assert "✓ cached_step" in capsys.readouterr().out
    failures = {
        "positions restart": "its position is the number of positions cached",
        "cache not kept": "each step adds exactly its new bytes' positions",
        "is_causal": "its query attends over every cached key",
        "no mask after the prompt": "the causal mask, shifted by the cache's length",
    }
    for mistake, hint in failures.items():
        with pytest.raises(AssertionError, match="cached_step") as failure:
            check_kv_decode(lambda m, new, cache, mistake=mistake: _cached_step(m, new, cache, mistake))
        assert hint in str(failure.value), (mistake, str(failure.value))
        assert "tensor(" not in str(failure.value), "the message shows no expected logits"
    with pytest.raises(AssertionError, match="one \\[keys, values\\] pair per layer"):
        check_kv_decode(lambda m, new, cache: m(new))  # no cache at all
    with pytest.raises(AssertionError, match="expected logits of shape"):
        check_kv_decode(lambda m, new, cache: _cached_step(m, new, cache)[:, -1])
