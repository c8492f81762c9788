"""Speculative decoding: a small draft model proposes, the large model checks.

The draft proposes ``k`` bytes one at a time; the large (target) model scores all of them in
one pass, keeps a prefix and adds one byte of its own (Leviathan et al. 2023; Chen et al.
2023). Each drafted byte ``x`` is kept with probability ``min(1, p(x) / q(x))`` (``p`` the
target's distribution, ``q`` the draft's: Leviathan et al.'s letters), and a rejected one is
replaced by a sample of ``max(0, p - q)``: the output then has exactly the target's
distribution, sampled or greedy (:func:`verify_draft`). :func:`sequence_test` checks that on a
vocabulary small enough to count every sequence.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from labsupport._validate import function, int_in, module, non_negative_int, number_in, positive_int, tensor
from labsupport.lm.model import ByteLM
from labsupport.lm.serve import KVCache, forward_cached, next_distribution

#: ``verify(p, q, drafted, generator) -> (accepted, next_byte)``: see :func:`verify_draft`.
Verifier = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator | None], tuple[int, int]]


def sample(probs: torch.Tensor, generator: torch.Generator | None = None) -> int:
    """One draw from ``probs`` ``(V,)`` (weights; they need not sum to 1), by inverting the CDF."""
    cdf = probs.cumsum(0)
    u = torch.rand((), generator=generator, dtype=cdf.dtype) * cdf[-1]
    return min(int(torch.searchsorted(cdf, u, right=True)), len(probs) - 1)


def verify_draft(
    p: torch.Tensor, q: torch.Tensor, drafted: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[int, int]:
    """Speculative sampling's rule: how many drafted bytes to keep, and the byte that follows them.

    Args:
        p: the large model's next-byte probabilities at each drafted position and one more,
            ``(k + 1, V)``.
        q: the draft's probabilities, ``(k, V)``, from which ``drafted`` ``(k,)`` was sampled.

    Byte ``i`` is kept with probability ``min(1, p_i(x) / q_i(x))``; at the first rejection the
    next byte is drawn from ``max(0, p_i - q_i)`` renormalised, and if all ``k`` are kept, from
    ``p_k``. Greedy decoding is the case of one-hot ``p`` and ``q``.
    """
    k = len(drafted)
    rows = torch.arange(k)
    ratio = p[rows, drafted] / q[rows, drafted]
    u = torch.rand(k, generator=generator, dtype=p.dtype)
    kept = int((u < ratio).long().cumprod(0).sum())  # up to the first rejection
    if kept == k:
        return k, sample(p[k], generator)
    return kept, sample((p[kept] - q[kept]).clamp(min=0), generator)


class CachedLM:
    """A model and its cache, one sequence: :meth:`feed` bytes, get their next-byte logits."""

    def __init__(self, model: ByteLM) -> None:
        self.model = module("model", model)
        self.device = next(model.parameters()).device
        self.cache = KVCache()
        self.passes = 0  # forward passes made

    def __len__(self) -> int:
        return len(self.cache)

    @torch.no_grad()
    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``(t, 256)`` after each of ``tokens`` ``(t,)``, which follow the cached positions."""
        self.passes += 1
        return forward_cached(self.model, tokens[None].to(self.device), self.cache)[0].float().cpu()

    def rewind(self, positions: int) -> None:
        """Forget every position from ``positions`` on."""
        self.cache.truncate(positions)


class MarkovChain:
    """A toy "model" whose next token depends on the last one only: ``probs[last]`` (rows sum to 1).

    It feeds and rewinds like :class:`CachedLM`, so speculative decoding can be tested on a
    vocabulary small enough to check the output distribution exactly.
    """

    def __init__(self, probs: torch.Tensor) -> None:
        tensor("probs", probs, ndim=2)
        if probs.shape[0] != probs.shape[1] or (probs < 0).any():
            raise ValueError(
                f"probs must be a square matrix of probabilities, got shape {tuple(probs.shape)}"
            )
        if not torch.allclose(probs.sum(1), torch.ones(len(probs), dtype=probs.dtype)):
            raise ValueError("each row of probs must sum to 1")
        self.logits, self.length, self.passes = probs.log(), 0, 0

    def __len__(self) -> int:
        return self.length

    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        self.length += len(tokens)
        self.passes += 1
        return self.logits[tokens]

    def rewind(self, positions: int) -> None:
        self.length = int_in("positions", positions, 0, self.length)


@dataclass
class SpeculativeResult:
    """What :func:`speculative_generate` produced and what it cost."""

    tokens: list[int]  # the prompt and the new bytes
    prompt_bytes: int
    target_passes: int  # forward passes of the large model
    draft_passes: int
    drafted: int  # bytes the draft proposed
    accepted: int  # of which the large model kept
    rejected: int  # rounds that ended in a rejection (the others kept every proposal)
    seconds: float

    @property
    def acceptance_rate(self) -> float:
        """Leviathan et al.'s alpha: of the proposals the target judged, the share it kept.

        Proposals after a rejection are never judged, so this is kept / (kept + rejected).
        """
        return self.accepted / max(1, self.accepted + self.rejected)

    @property
    def bytes_per_target_pass(self) -> float:
        return (len(self.tokens) - self.prompt_bytes) / max(1, self.target_passes)


def speculative_generate(
    target: ByteLM | CachedLM | MarkovChain,
    draft: ByteLM | CachedLM | MarkovChain,
    prompt: torch.Tensor,
    new_bytes: int,
    k: int,
    *,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    verify: Verifier | None = None,
) -> SpeculativeResult:
    """Continue ``prompt`` ``(T,)`` by ``new_bytes``: ``draft`` proposes ``k`` bytes, ``target`` checks them.

    Each round costs ``k`` draft passes and one target pass over the ``k`` proposals, and yields
    between 1 and ``k + 1`` bytes. ``k = 0`` is plain decoding with the target. ``verify``
    decides what is kept (Lab 7's exercise passes its own). Without one, sampling uses
    :func:`verify_draft`, and greedy decoding keeps the drafted bytes up to the first that is
    not the target's argmax: the same rule for one-hot distributions, without building them.
    """
    tensor("prompt", prompt, ndim=1)
    if not len(prompt):
        raise ValueError("prompt must hold at least one byte")
    non_negative_int("k", k)
    number_in("temperature", temperature, 0, None)
    if verify is not None:
        function("verify", verify)
    greedy = verify is None and temperature == 0
    target, draft = (m if isinstance(m, (CachedLM, MarkovChain)) else CachedLM(m) for m in (target, draft))
    limit = len(prompt) + new_bytes
    if isinstance(target, CachedLM):
        int_in("new_bytes", new_bytes, 1, target.model.config.context - len(prompt))
    seq, drafted_total, accepted_total, rejected = prompt.tolist(), 0, 0, 0
    start = time.perf_counter()
    while len(seq) < limit:
        kk = min(k, limit - len(seq) - 1)  # the last round drafts no more than fits
        drafted, qs = [], []
        for _ in range(kk):
            logits = draft.feed(torch.tensor((seq + drafted)[len(draft) :]))[-1]
            if greedy:
                drafted.append(int(logits.argmax()))
            else:
                qs.append(next_distribution(logits, temperature))
                drafted.append(sample(qs[-1], generator))
        fed = len(target)
        logits = target.feed(torch.tensor((seq + drafted)[fed:]))[len(seq) - 1 - fed :]  # (kk + 1, V)
        if greedy:
            choices = logits.argmax(-1).tolist()
            n = next((i for i in range(kk) if drafted[i] != choices[i]), kk)
            following = choices[n]
        else:
            p = next_distribution(logits, temperature)
            q = torch.stack(qs) if qs else p.new_empty(0, p.shape[1])
            n, following = (verify or verify_draft)(p, q, torch.tensor(drafted, dtype=torch.long), generator)
            if not (0 <= n <= kk and 0 <= following < p.shape[1]):
                raise ValueError(
                    f"verify must return (kept, next byte) with 0 <= kept <= {kk} and 0 <= next byte "
                    f"< {p.shape[1]}, got ({n}, {following})"
                )
        seq += [*drafted[:n], following]
        drafted_total, accepted_total, rejected = drafted_total + kk, accepted_total + n, rejected + (n < kk)
        target.rewind(len(seq) - 1)
        draft.rewind(min(len(draft), len(seq) - 1))
    return SpeculativeResult(
        seq,
        len(prompt),
        target.passes,
        draft.passes,
        drafted_total,
        accepted_total,
        rejected,
        time.perf_counter() - start,
    )


@dataclass(frozen=True)
class SequenceTest:
    """A chi-square test of speculative sampling's output against the target's exact distribution."""

    observed: dict[tuple[int, ...], int]  # each possible sequence -> how often it came out
    expected: dict[tuple[int, ...], float]  # -> how often the target alone would give it
    statistic: float
    p_value: float  # small (say < 0.001): the output is not the target's distribution


def sequence_test(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    *,
    k: int,
    new_tokens: int,
    trials: int,
    seed: int = 0,
    verify: Verifier = verify_draft,
) -> SequenceTest:
    """Sample ``trials`` sequences by speculative sampling between two :class:`MarkovChain` s; test them.

    Every sequence of ``new_tokens`` tokens after token 0 is a cell; the target chain's
    probability of each is exact, so a chi-square test says whether the speculative output
    follows it. Keep ``trials`` large enough that every cell expects at least 5.
    """
    positive_int("new_tokens", new_tokens)
    positive_int("trials", trials)
    chains = MarkovChain(target_probs), MarkovChain(draft_probs)
    if chains[0].logits.shape != chains[1].logits.shape:
        raise ValueError(
            f"target_probs and draft_probs must have the same shape, got "
            f"{tuple(target_probs.shape)} and {tuple(draft_probs.shape)}"
        )
    vocab = len(target_probs)
    generator = torch.Generator().manual_seed(seed)
    cells = list(itertools.product(range(vocab), repeat=new_tokens))
    observed = dict.fromkeys(cells, 0)
    for _ in range(trials):
        target, draft = MarkovChain(target_probs), MarkovChain(draft_probs)
        result = speculative_generate(
            target,
            draft,
            torch.tensor([0]),
            new_tokens,
            k,
            temperature=1.0,
            generator=generator,
            verify=verify,
        )
        observed[tuple(result.tokens[1:])] += 1
    exact = target_probs.double()
    chance = {cell: float(torch.prod(exact[(0, *cell[:-1]), cell])) for cell in cells}
    total = sum(chance.values())  # 1 up to rounding
    expected = {cell: trials * c / total for cell, c in chance.items()}
    from scipy import stats  # imported here: it takes about a second

    statistic, p_value = stats.chisquare([observed[c] for c in cells], [expected[c] for c in cells])
    return SequenceTest(observed, expected, float(statistic), float(p_value))
