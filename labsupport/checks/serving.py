"""Lab 7's checks: the KV cache's size, bytes per pass and the speculative sampling rule.

They import the code model's stack when they run: a lab's set-up cell (every kernel of the
suite) imports :mod:`labsupport.checks`, and that stack pulls in scipy.stats (about a second).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch


def check_kv_cache_formula(fn: Callable[..., Any]) -> None:
    """Check ``fn(n_layers, n_kv_heads, head_dim, positions, batch, bytes_per_value)`` against real caches.

    Each case runs a :class:`~labsupport.lm.model.ByteLM` over a batch of windows with a
    :class:`~labsupport.lm.serve.KVCache` and compares the answer with the bytes the cache holds.
    """
    from labsupport.lm.model import ByteLM
    from labsupport.lm.serve import KVCache, forward_cached

    if not callable(fn):
        raise AssertionError(f"kv_cache_bytes: expected a function, got {type(fn).__name__}")
    for d_model, n_layers, positions, batch, dtype in [
        (48, 2, 100, 1, torch.float32),
        (32, 3, 17, 4, torch.float32),
        (64, 1, 40, 2, torch.bfloat16),
    ]:
        torch.manual_seed(0)
        model = ByteLM(d_model, n_layers, 128).to(dtype)
        cache = KVCache()
        with torch.no_grad():
            forward_cached(model, torch.zeros(batch, positions, dtype=torch.long), cache)
        heads, size = d_model // 16, torch.empty(0, dtype=dtype).element_size()
        case = (n_layers, heads, 16, positions, batch, size)
        got = fn(*case)
        if got is None or float(got) != cache.nbytes:
            raise AssertionError(
                f"kv_cache_bytes{case}: got {got!r}, {_compared(got, cache.nbytes)} than the bytes a real "
                f"cache of a {n_layers}-layer model with {heads} heads of 16 dimensions holds for "
                f"{batch} sequence(s) of {positions} positions at {size} bytes per value"
            )
    print("✓ kv_cache_bytes: equals the bytes of real caches in all 3 cases")


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


def check_tokens_per_pass(fn: Callable[[float, int], float]) -> None:
    """Check ``fn(alpha, k)``, the expected bytes per target pass, against a simulation.

    The simulation drafts ``k`` bytes, keeps each with probability ``alpha`` until the first
    rejection, and always adds the target's own byte.
    """
    if not callable(fn):
        raise AssertionError(f"bytes_per_pass: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    for alpha, k in [(0.3, 1), (0.6, 3), (0.9, 6), (0.5, 0), (1.0, 4)]:
        kept = (torch.rand(200_000, k, generator=g) < alpha).cumprod(dim=1).sum(dim=1)
        simulated = float((kept + 1).double().mean())
        got = fn(alpha, k)
        if got is None or not math.isclose(float(got), simulated, rel_tol=0.01):
            raise AssertionError(
                f"bytes_per_pass({alpha}, {k}): got {got!r}, {_compared(got, simulated)} than the average "
                "of a simulation of 200,000 rounds"
            )
    print("✓ bytes_per_pass: agrees with the simulation in all 5 cases")


def _compared(got: Any, want: float) -> str:
    """ "more" or "fewer" than ``want``; an answer that is not a number fails here, saying so."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"expected a number, got {got!r}") from None
    return "more" if value > want else "fewer"
