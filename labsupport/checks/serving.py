"""Lab 7's checks: the KV-cache decoding step, bytes per pass and the speculative sampling rule.

:func:`check_kv_decode` tests a learner's cached step by its properties only: against the
model's own full-window forward pass, never against a cached implementation.

They import the code model's stack when they run: a lab's set-up cell (every kernel of the
suite) imports :mod:`labsupport.checks`, and that stack pulls in scipy.stats (about a second).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


def _cache_positions(cache: Any, layers: int, shape: tuple[int, int, int]) -> int:
    """Positions held by a learner's cache: one [keys, values] pair per layer, each
    ``(batch, heads, positions, head_dim)``; raises AssertionError saying what is off."""
    batch, heads, head_dim = shape
    spec = (
        f"one [keys, values] pair per layer ({layers}), each a tensor "
        f"(batch {batch}, heads {heads}, positions, head_dim {head_dim})"
    )
    if not isinstance(cache, list) or len(cache) != layers:
        got = f"{len(cache)} entries" if isinstance(cache, list) else type(cache).__name__
        raise AssertionError(f"cached_step: after a step the cache should hold {spec}; it holds {got}")
    sizes = set()
    for pair in cache:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise AssertionError(f"cached_step: the cache should hold {spec}; found {type(pair).__name__}")
        for t in pair:
            if (
                not isinstance(t, torch.Tensor)
                or t.ndim != 4
                or (t.shape[0], t.shape[1], t.shape[3]) != shape
            ):
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise AssertionError(f"cached_step: the cache should hold {spec}; found {got}")
            sizes.add(t.shape[2])
    if len(sizes) != 1:
        raise AssertionError(
            f"cached_step: every layer's keys and values should hold as many positions; found {sorted(sizes)}"
        )
    return sizes.pop()


def _logits(
    step: Callable[..., Any], model: nn.Module, new: torch.Tensor, cache: list, stage: str
) -> torch.Tensor:
    """The learner's logits for ``new`` ``(B, t)``, checked for shape."""
    logits = step(model, new, cache)
    want = (new.shape[0], new.shape[1], 256)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != want:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else repr(logits)
        raise AssertionError(
            f"cached_step, {stage}: expected logits of shape {want} (batch, new bytes, 256), got {got}"
        )
    return logits


#: What each stage of :func:`check_kv_decode` tests, and what a failure there suggests.
_HINTS = {
    "prompt": "with an empty cache the step reads the whole prompt: it is the plain forward pass",
    "one": "one new byte after the cache: its position is the number of positions cached, and its "
    "query attends over every cached key and value (and its own)",
    "several": "several new bytes after a cache: each new query sees every cached position and the "
    "new ones up to its own (the causal mask, shifted by the cache's length)",
}


def _same(got: torch.Tensor, want: torch.Tensor) -> bool:
    tol = 1e-9 if want.dtype == torch.float64 else 1e-4
    return bool(torch.allclose(got.to(want.dtype), want, rtol=tol, atol=tol))


def _decode_properties(
    step: Callable[..., Any], model: nn.Module, prompts: torch.Tensor, new_bytes: int, name: str
) -> None:
    """Greedy decoding with ``step`` against the full window, on ``model`` (``name``)."""
    block = model.blocks[0]
    heads, layers, B = block.n_heads, len(model.blocks), prompts.shape[0]
    shape = (B, heads, model.config.d_model // heads)
    cache: list = []
    logits = _logits(step, model, prompts, cache, "the prompt's pass")
    if not _same(logits, model(prompts)):
        raise AssertionError(
            f"cached_step on {name}: the logits of the prompt's pass differ from the full window's; {_HINTS['prompt']}"
        )
    seq = prompts
    for s in range(1, new_bytes + 1):
        full = model(seq)[:, -1]  # the full window's scores of the next byte
        if _cache_positions(cache, layers, shape) != seq.shape[1]:
            raise AssertionError(
                f"cached_step on {name}: after {seq.shape[1]} bytes the cache holds "
                f"{_cache_positions(cache, layers, shape)} positions; each step adds exactly its new bytes' positions"
            )
        hint = _HINTS["prompt" if s == 1 else "one"]
        if not _same(logits[:, -1], full):
            raise AssertionError(
                f"cached_step on {name}: at decoding step {s} the logits differ from the full window's; {hint}"
            )
        chosen, wanted = logits[:, -1].argmax(-1, keepdim=True), full.argmax(-1, keepdim=True)
        if not torch.equal(chosen, wanted):
            raise AssertionError(
                f"cached_step on {name}: at decoding step {s} greedy decoding chose another byte than the full window's; {hint}"
            )
        seq = torch.cat([seq, wanted], dim=1)
        logits = _logits(step, model, wanted, cache, f"decoding step {s}")
    cache = []
    cut = prompts.shape[1] // 2
    _logits(step, model, prompts[:, :cut], cache, "the first half of the prompt")
    rest = _logits(step, model, prompts[:, cut:], cache, "the second half of the prompt")
    if not _same(rest, model(prompts)[:, cut:]):
        raise AssertionError(
            f"cached_step on {name}: fed the prompt in two halves, the second half's logits differ from the full window's; {_HINTS['several']}"
        )


def check_kv_decode(
    step: Callable[..., Any],
    model: nn.Module | None = None,
    prompts: torch.Tensor | None = None,
    *,
    new_bytes: int = 8,
) -> None:
    """Check a KV-cache decoding step ``step(model, new, cache) -> logits (B, t, 256)`` by its properties.

    On two small random :class:`~labsupport.lm.model.ByteLM` in float64 (where rounding never
    flips a choice), and on ``model`` with ``prompts`` ``(B, T)`` if given, greedy decoding
    with the step must give the full window's logits and choose exactly its bytes for
    ``new_bytes`` steps; the cache, a list of one ``[keys, values]`` pair per layer, must grow
    by one position per step; and a prompt fed in two halves must give the full window's
    logits at every position of the second (several new bytes after a cache). The reference
    is the model's own forward pass over the whole window; a failure names the stage that
    failed and what it suggests, never the expected numbers.
    """
    from labsupport.lm.model import ByteLM

    if not callable(step):
        raise AssertionError(f"cached_step: expected a function, got {type(step).__name__}")
    cases = []
    for seed, (d_model, layers) in enumerate([(32, 2), (48, 3)]):
        torch.manual_seed(seed)
        small = ByteLM(d_model, layers, 64).double().eval()
        tokens = torch.randint(0, 256, (3, 6), generator=torch.Generator().manual_seed(seed))
        cases.append((small, tokens, f"a random {layers}-layer model"))
    if model is not None:
        if prompts is None:
            raise ValueError("check_kv_decode: give prompts with the model")
        device = next(model.parameters()).device
        cases.append((model.eval(), prompts.to(device).long(), "the course model"))
    with torch.no_grad():
        for m, p, name in cases:
            _decode_properties(step, m, p, new_bytes, name)
    print(
        f"✓ cached_step: greedy decoding with your cache gives the full window's logits and bytes "
        f"({len(cases)} models, {new_bytes} steps each); the cache grows by one position per step"
    )


def check_verifier(fn: Callable[..., Any], *, trials: int = 3000, seed: int = 1) -> None:
    """Check a speculative-sampling rule ``fn(p, q, drafted, generator) -> (kept, next)``.

    Greedy (one-hot) cases must keep the drafted tokens the target would pick; on
    a three-token Markov chain, the sequences it produces must pass a chi-square test against
    the target's exact distribution (:func:`~labsupport.lm.speculative.sequence_test`).
    """
    from labsupport.lm.speculative import sequence_test

    if not callable(fn):
        raise AssertionError(f"verify: expected a function, got {type(fn).__name__}")
    eye = torch.eye(5)
    # (the target's greedy picks, the draft's proposals) -> (drafted tokens kept, the next token)
    greedy = {((1, 2, 3), (1, 2)): (2, 3), ((1, 2, 3), (1, 4)): (1, 2), ((0, 2, 3, 4), (3, 2, 3)): (0, 0)}
    greedy[((4,), ())] = (0, 4)
    for (target, drafted), want in greedy.items():
        p, q = eye[list(target)], eye[list(drafted)] if drafted else torch.empty(0, 5)
        case = f"greedy: target picks {list(target)}, draft proposed {list(drafted)}"
        got = fn(p, q, torch.tensor(drafted, dtype=torch.long), torch.Generator().manual_seed(0))
        if not (isinstance(got, tuple) and len(got) == 2) or tuple(int(v) for v in got) != want:
            raise AssertionError(
                f"verify, {case}: got {got!r}; a greedy draft token is kept while it is the target's "
                "own pick, and the first rejection is replaced by the target's pick"
            )
    P = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]])
    Q = torch.tensor([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    test = sequence_test(P, Q, k=2, new_tokens=3, trials=trials, seed=seed, verify=fn)
    if test.p_value < 1e-4:
        raise AssertionError(
            f"verify: {trials} sampled sequences do not follow the target's distribution "
            f"(chi-square p = {test.p_value:.2g}); check the acceptance probability and the residual"
        )
    print(
        f"✓ verify: greedy cases right; sampled output matches the target (chi-square p = {test.p_value:.2f})"
    )


def check_tokens_per_pass(fn: Callable[[Sequence[float]], float]) -> None:
    """Check ``fn(alphas)``, the expected bytes per target pass, against a simulation.

    ``alphas[i]`` is the probability that drafted byte ``i`` is accepted when every byte before
    it was; a round drafts ``len(alphas)`` bytes, keeps them until the first rejection and
    always adds the target's own byte. Hints name the usual mistakes: the target's byte left
    out, one acceptance rate used for every position.
    """
    if not callable(fn):
        raise AssertionError(f"bytes_per_pass: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    cases = [[0.3], [0.6, 0.6, 0.6], [0.9, 0.7, 0.5, 0.3], [], [1.0] * 4, [0.95, 0.2, 0.9], [0.5, 0.0, 1.0]]
    for alphas in cases:
        accept = torch.rand(200_000, len(alphas), generator=g) < torch.tensor(alphas)
        simulated = float((accept.cumprod(dim=1).sum(dim=1) + 1).double().mean())
        got = fn(list(alphas))
        if got is not None and math.isclose(float(got), simulated, rel_tol=0.01):
            continue
        value = _compared(got, simulated)
        hint = ""
        if math.isclose(float(got) + 1, simulated, rel_tol=0.01):
            hint = "; the target's own byte (a correction or a bonus) is one more every round"
        elif alphas and len(set(alphas)) > 1:
            mean = sum(alphas) / len(alphas)
            same = sum(mean**j for j in range(len(alphas) + 1))
            if math.isclose(float(got), same, rel_tol=0.01):
                hint = "; that is one acceptance rate for every position: byte j is kept only if bytes 1..j all are"
        raise AssertionError(
            f"bytes_per_pass({alphas}): got {got!r}, {value} than the average of a simulation of "
            f"200,000 rounds{hint}"
        )
    print(f"✓ bytes_per_pass: agrees with the simulation in all {len(cases)} cases")


def _compared(got: Any, want: float) -> str:
    """ "more" or "fewer" than ``want``; an answer that is not a number fails here, saying so."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"expected a number, got {got!r}") from None
    return "more" if value > want else "fewer"
