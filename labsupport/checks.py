"""Every check of the labs' exercises: it tells a learner whether an answer is right.

Each check prints a short confirmation when the answer is right and raises an
``AssertionError`` that says what was expected when it is not, so an autograder
(nbgrader) and a learner read the same verdict.

* :func:`check_close`: a number; :func:`check_function`: a function of numbers;
* :func:`check_tensor_function`: a function of tensors, against a reference function;
* :func:`check_smallest`, :func:`check_closest` and :func:`check_largest`: the result of an open experiment (the
  smallest setting that meets a condition, the setting closest to a target), checked by
  testing the learner's answer and its rivals, so the check holds no answer;
* :func:`check_fake_quantizer` (Lab 6) and :func:`check_moe_layer` (Lab 5): a learner's
  quantizer or MoE layer against the library's answer key;
* Lab 7's :func:`check_kv_cache_formula` (against real caches), :func:`check_verifier` (greedy
  cases, then a chi-square test of its samples) and :func:`check_tokens_per_pass` (against a
  simulation).

(The argument checks that raise ``ValueError``/``TypeError`` for bad inputs are a different
thing, in ``labsupport._validate``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from labsupport._validate import describe
from labsupport.moe import MoELayer
from labsupport.quantize import fake_quantize

# Lab 7's checks import the code model's stack when they run: a lab's set-up cell (every
# kernel of the suite) imports this module, and that stack pulls in scipy.stats (about a second).


def check_close(name: str, answer: float, expected: float, *, rtol: float = 1e-6, atol: float = 0.0) -> None:
    """Check a number against the expected value within ``rtol``/``atol``."""
    if answer is None:
        raise AssertionError(f"{name}: no answer yet (got None); fill in the exercise cell first")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number, got {type(answer).__name__}") from None
    if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        raise AssertionError(
            f"{name}: got {value:.6g}, expected {expected:.6g} (relative tolerance {rtol:g})"
        )
    print(f"✓ {name}: {value:.6g} is right")


def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Sequence[Any]],
    *,
    rtol: float = 1e-6,
) -> None:
    """Check ``fn(*case)`` against ``reference(*case)`` for every case."""
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("check_function needs at least one case")
    for case in cases:
        got, want = fn(*case), reference(*case)
        if got is None or not math.isclose(float(got), float(want), rel_tol=rtol):
            raise AssertionError(f"{name}{tuple(case)}: got {got!r}, expected {want!r}")
    print(f"✓ {name}: right on all {len(cases)} cases")


def _no_answer(name: str, answer: Any) -> None:
    if answer is None or answer is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {answer!r}); fill in the exercise cell first")


def check_smallest(
    name: str,
    answer: Any,
    satisfies: Callable[[Any], bool],
    smaller: Iterable[Any],
    *,
    condition: str,
) -> None:
    """Check that ``answer`` meets a condition and that no smaller candidate does.

    ``satisfies(x)`` says whether ``x`` meets ``condition`` (a phrase such as "drops under 1%");
    ``smaller`` holds the candidates below ``answer`` that it must beat: every smaller point of a
    grid, or ``[answer / 2]`` for a search to within a factor of 2.
    """
    _no_answer(name, answer)
    if not satisfies(answer):
        raise AssertionError(f"{name} = {answer!r}: expected a value that {condition}; this one does not")
    for rival in smaller:
        if satisfies(rival):
            raise AssertionError(
                f"{name} = {answer!r} {condition}, but it is not the smallest: {rival!r} does too"
            )
    print(f"✓ {name} = {answer!r}: it {condition}, and nothing smaller that was tried does")


def check_closest(name: str, answer: Any, distance: Callable[[Any], float], rivals: Iterable[Any]) -> None:
    """Check that ``distance(answer)`` is no larger than ``distance(rival)`` for every rival."""
    _no_answer(name, answer)
    mine = distance(answer)
    for rival in rivals:
        if (theirs := distance(rival)) < mine:
            raise AssertionError(
                f"{name} = {answer!r} is {mine:g} away from the target, but {rival!r} is closer ({theirs:g})"
            )
    print(f"✓ {name} = {answer!r} is the closest ({mine:g} away)")


def check_largest(
    name: str, answer: Any, value: Callable[[Any], float], rivals: Iterable[Any], *, what: str
) -> None:
    """Check that ``value(answer)`` (``what`` it measures) is at least ``value(rival)`` for every rival."""
    _no_answer(name, answer)
    mine = value(answer)
    for rival in rivals:
        if (theirs := value(rival)) > mine:
            raise AssertionError(
                f"{name} = {answer!r} has {what} {mine:.4g}, but {rival!r} has more ({theirs:.4g})"
            )
    print(f"✓ {name} = {answer!r} has the largest {what} ({mine:.4g})")


def check_tensor_function(
    name: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    reference: Callable[[torch.Tensor], torch.Tensor],
    cases: Iterable[torch.Tensor],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Check ``fn(x)`` against ``reference(x)`` for every tensor ``x`` in ``cases``.

    ``fn`` gets a copy of each case, so an answer that changes its input in place is still
    compared fairly. The outputs must have the same shape and agree within ``rtol``/``atol``.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("check_tensor_function needs at least one case")
    for x in cases:
        got, want = fn(x.clone()), reference(x)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            raise AssertionError(
                f"{name}: expected a tensor of shape {tuple(want.shape)}, got {describe(got)}"
            )
        if not torch.allclose(got.float(), want.float(), rtol=rtol, atol=atol):
            error = (got.float() - want.float()).abs()
            if x.ndim == 2:  # a weight matrix: show the start of the worst row
                row = int(error.amax(dim=1).argmax())
                where, shown_got, shown_want = f"row {row}", got[row, :4].tolist(), want[row, :4].tolist()
            else:
                i = int(error.flatten().argmax())
                where, shown_got, shown_want = f"entry {i}", got.flatten()[i].item(), want.flatten()[i].item()
            raise AssertionError(
                f"{name}: differs from the reference on a {tuple(x.shape)} input, e.g. {where}:"
                f" got {shown_got}, expected {shown_want}"
            )
    print(f"✓ {name}: matches the reference on all {len(cases)} cases")


def check_fake_quantizer(
    name: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    bits: int,
    granularity: str,
    group_size: int | None = None,
) -> None:
    """Check a learner's ``fn(weight) -> fake-quantized weight`` against :func:`labsupport.fake_quantize`.

    Prints a confirmation, or raises ``AssertionError`` saying where the answer differs.
    """
    g = torch.Generator().manual_seed(0)
    cases = [
        torch.randn(16, 32, generator=g),
        torch.randn(8, 64, generator=g)
        * torch.logspace(-2, 1, 8).unsqueeze(1),  # rows of very different size
        torch.cat([torch.zeros(1, 32), torch.randn(3, 32, generator=g)]),  # an all-zero row
    ]
    check_tensor_function(
        name, fn, lambda weight: fake_quantize(weight, bits, granularity, group_size), cases
    )


def check_moe_layer(layer_cls: type[nn.Module], *, atol: float = 1e-5) -> None:
    """Check a learner's MoE layer class against :class:`labsupport.moe.MoELayer` with the same weights.

    The class must take ``(d_in, d_hidden, d_out, num_experts, k)``, name its modules
    ``router`` and ``experts`` like :class:`MoELayer`, and return ``(output, balance_loss)``
    from ``forward(x, capacity_factor=None)``. Prints a confirmation or raises AssertionError.
    """
    if not isinstance(layer_cls, type) or not issubclass(layer_cls, nn.Module):
        raise AssertionError(f"expected an nn.Module class, got {layer_cls!r}")
    g = torch.Generator().manual_seed(0)
    for d_in, d_hidden, d_out, num_experts, k in [(3, 5, 1, 4, 1), (6, 4, 2, 5, 2)]:
        reference = MoELayer(d_in, d_hidden, d_out, num_experts, k)
        mine = layer_cls(d_in, d_hidden, d_out, num_experts, k)
        try:
            mine.load_state_dict(reference.state_dict())
        except RuntimeError as exc:
            raise AssertionError(f"the layer's parameters are not named like MoELayer's: {exc}") from None
        x = torch.randn(64, d_in, generator=g)
        for cf in (None, 0.5, 1.0):
            with torch.no_grad():
                want_y, want_balance = reference(x, capacity_factor=cf)
                got = mine(x) if cf is None else mine(x, capacity_factor=cf)
            if not (isinstance(got, tuple) and len(got) == 2):
                raise AssertionError(f"forward must return (output, balance_loss), got {type(got).__name__}")
            got_y, got_balance = got
            where = f"(E={num_experts}, k={k}, capacity_factor={cf})"
            if got_y.shape != want_y.shape or not torch.allclose(got_y, want_y, atol=atol):
                raise AssertionError(f"outputs differ from labsupport.MoELayer {where}")
            if not torch.allclose(
                torch.as_tensor(got_balance, dtype=want_balance.dtype), want_balance, atol=atol
            ):
                raise AssertionError(
                    f"balance loss {float(got_balance):.6g} differs from {float(want_balance):.6g} {where}"
                )
    print("✓ MoELayer: same outputs and balance loss as labsupport.MoELayer, with and without capacity")


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
                f"kv_cache_bytes{case}: got {got!r}, but a real cache of a {n_layers}-layer model with "
                f"{heads} heads of 16 dimensions, {batch} sequence(s) of {positions} positions at "
                f"{size} bytes per value holds {cache.nbytes:,} bytes"
            )
    print("✓ kv_cache_bytes: equals the bytes of real caches in all 3 cases")


def check_verifier(fn: Callable[..., Any], *, trials: int = 3000, seed: int = 1) -> None:
    """Check a speculative-sampling rule ``fn(p, q, drafted, generator) -> (kept, next)``.

    Greedy (one-hot) cases must give what :func:`~labsupport.lm.speculative.verify_draft` gives; on
    a three-token Markov chain, the sequences it produces must pass a chi-square test against
    the target's exact distribution (:func:`~labsupport.lm.speculative.sequence_test`).
    """
    from labsupport.lm.speculative import sequence_test, verify_draft

    if not callable(fn):
        raise AssertionError(f"verify: expected a function, got {type(fn).__name__}")
    eye = torch.eye(5)
    for target, drafted in [([1, 2, 3], [1, 2]), ([1, 2, 3], [1, 4]), ([0, 2, 3, 4], [3, 2, 3]), ([4], [])]:
        p, q = eye[target], eye[drafted] if drafted else torch.empty(0, 5)
        case = f"greedy: target picks {target}, draft proposed {drafted}"
        got = fn(p, q, torch.tensor(drafted, dtype=torch.long), torch.Generator().manual_seed(0))
        want = verify_draft(p, q, torch.tensor(drafted, dtype=torch.long), torch.Generator().manual_seed(0))
        if not (isinstance(got, tuple) and len(got) == 2) or tuple(int(v) for v in got) != want:
            raise AssertionError(f"verify, {case}: got {got!r}, expected {want} (kept, next token)")
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
                f"bytes_per_pass({alpha}, {k}): got {got!r}, but a simulation of 200,000 rounds averages "
                f"{simulated:.4f}"
            )
    print("✓ bytes_per_pass: agrees with the simulation in all 5 cases")
