"""Lab 5's checks: a learner's balance loss, capacity-limited router and mixture-of-experts layer.

The exercises' checks (:func:`check_balance_loss`, :func:`check_capacity_router`) test
properties of the answer (its value on balanced and collapsed routings, where its gradient
goes, which assignments an expert keeps), never the library's own function, which serves as
the oracle only in the labs' hidden tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labsupport._validate import describe
from labsupport.moe import MoELayer


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


# --- Exercise 1: the balance loss ---------------------------------------------------------


def _loss_value(
    fn: Callable[[torch.Tensor, torch.Tensor], Any], probs: torch.Tensor, chosen: torch.Tensor
) -> float:
    """``fn(probs, chosen)`` as a float, after checking that it is a one-number tensor."""
    got = fn(probs, chosen)
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        raise AssertionError(
            f"balance_loss must return a one-number tensor (so that training can add it to the "
            f"task loss and backpropagate), got {describe(got)}"
        )
    value = float(got)
    if not math.isfinite(value):
        raise AssertionError(f"balance_loss: got {value}, not a finite number")
    return value


def _compare(case: str, value: float, right: float, mistakes: dict[str, float]) -> None:
    if math.isclose(value, right, rel_tol=1e-5, abs_tol=1e-7):
        return
    for hint, wrong in mistakes.items():
        if math.isclose(value, wrong, rel_tol=1e-5, abs_tol=1e-7):
            raise AssertionError(f"balance_loss on {case}: got {value:.6g}; {hint}")
    side = "too large" if value > right else "too small"
    raise AssertionError(f"balance_loss on {case}: got {value:.6g}, which is {side}")


def check_balance_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check a learner's Switch balance loss ``fn(probs (T, N), chosen (T, k))`` by its properties.

    Without computing the loss the same way: perfectly balanced routing gives 1 (for k = 1 and
    k = 2), all inputs on one expert with certain probabilities gives N, a two-input hand case
    with k = 2, and the gradient reaches the router probabilities, only through the experts
    that were chosen, most through the busiest. Known mistakes (the factor N, f not divided by
    k, only the first choice counted) get a hint. Prints a confirmation or raises AssertionError.
    """
    if not callable(fn):
        raise AssertionError(f"balance_loss: expected a function, got {type(fn).__name__}")
    N, T = 4, 8
    for k in (1, 2):
        uniform = torch.full((T, N), 1 / N)
        spread = (torch.arange(T)[:, None] + torch.arange(k)) % N  # every expert chosen equally
        value = _loss_value(fn, uniform, spread)
        _compare(
            f"a perfectly balanced routing ({N} experts, k = {k})",
            value,
            1.0,
            {
                "the factor N (the number of experts) forgotten?": 1 / N,
                "f does not sum to 1: with k choices an input makes k assignments, so divide "
                "the counts by T·k": float(k) if k > 1 else math.nan,
            },
        )
    collapsed = F.one_hot(torch.zeros(T, dtype=torch.long), N).float()
    value = _loss_value(fn, collapsed, torch.zeros(T, 1, dtype=torch.long))
    _compare(
        f"every input sent to expert 0 with probability 1 ({N} experts)",
        value,
        float(N),
        {
            "the value of a balanced router: is P one mean per expert, over the batch (dim 0)?": 1.0,
        },
    )
    # a case small enough to work out by hand
    probs = torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1]])
    chosen = torch.tensor([[0, 1], [0, 2]])
    value = _loss_value(fn, probs, chosen)
    _compare(
        "2 inputs, k = 2: probs (0.4, 0.3, 0.2, 0.1) for both, chosen [[0, 1], [0, 2]]",
        value,
        1.3,
        {
            "only the first choice counted: each of the k choices is an assignment": 1.6,
            "f does not sum to 1: with k choices an input makes k assignments, so divide "
            "the counts by T·k": 2.6,
            "the factor N (the number of experts) forgotten?": 1.3 / 4,
        },
    )
    _check_balance_gradient(fn)
    print(
        "✓ balance_loss: 1 when balanced, N when collapsed, right by hand for k = 2, and its gradient"
        " pushes on the busiest expert's probability"
    )


def _check_balance_gradient(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """The gradient reaches ``probs``, zero for experts nobody chose, largest for the busiest."""
    g = torch.Generator().manual_seed(0)
    probs = torch.randn(8, 4, generator=g).softmax(dim=-1).requires_grad_(True)
    chosen = torch.tensor([[0], [0], [0], [0], [0], [1], [1], [2]])  # expert 3 idle
    loss = fn(probs, chosen)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise AssertionError(
            "balance_loss: no gradient reaches the router's probabilities; compute P from `probs` "
            "without .item(), .detach() or torch.no_grad()"
        )
    (grad,) = torch.autograd.grad(loss.sum(), probs, allow_unused=True)
    if grad is None or not grad.abs().sum() > 0:
        raise AssertionError("balance_loss: no gradient reaches the router's probabilities")
    per_expert = grad.sum(dim=0)
    if per_expert[3].abs() > 1e-7:
        raise AssertionError(
            "balance_loss: the gradient moves the probability of an expert no input chose; f counts "
            "the choices (it has no gradient), only P should carry one"
        )
    if not per_expert[0] > per_expert[1] > per_expert[2] > 0:
        raise AssertionError(
            "balance_loss: the gradient should push hardest on the busiest expert's probability "
            "(expert 0 here, then 1, then 2)"
        )


# --- Exercise 2: the capacity-limited router ----------------------------------------------


def _router_case(T: int, E: int, k: int, g: torch.Generator) -> torch.Tensor:
    """(T, k) distinct experts per input, drawn so that some experts are much busier."""
    scores = torch.rand(T, E, generator=g) + torch.linspace(0, 1, E)  # higher ids are favoured
    return scores.topk(k, dim=-1).indices


def _kept(
    name: str, fn: Callable[..., Any], chosen: torch.Tensor, num_experts: int, capacity: int
) -> torch.Tensor:
    given = chosen.clone()
    keep = fn(given, num_experts, capacity)
    if not torch.equal(given, chosen):
        raise AssertionError(f"{name} changed its input `chosen`; return a new mask instead")
    if not isinstance(keep, torch.Tensor) or keep.shape != chosen.shape or keep.dtype != torch.bool:
        raise AssertionError(
            f"{name} must return a bool tensor shaped like `chosen` {tuple(chosen.shape)}, "
            f"got {describe(keep)}"
        )
    return keep


def _queue_order(
    chosen: torch.Tensor, keep: torch.Tensor, by_choice: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The assignments in arrival order: all first choices, then all second choices (or input by input)."""
    if by_choice:
        return chosen.T.reshape(-1), keep.T.reshape(-1)
    return chosen.reshape(-1), keep.reshape(-1)


def _first_come(
    chosen: torch.Tensor, keep: torch.Tensor, num_experts: int, capacity: int, by_choice: bool
) -> bool:
    """Whether every expert keeps exactly the first min(load, capacity) assignments of its queue."""
    queue, kept = _queue_order(chosen, keep, by_choice)
    for e in range(num_experts):
        mine = kept[queue == e]
        n = min(len(mine), capacity)
        if not (mine[:n].all() and not mine[n:].any()):
            return False
    return True


def check_capacity_router(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> None:
    """Check a learner's ``fn(chosen (T, k), num_experts, capacity) -> kept (T, k) bool`` by its properties.

    On random routings (k = 1, 2, 3) and capacities from 0 to T: no expert keeps more than its
    capacity; none drops an assignment while it has a free slot; each keeps its assignments
    first come, first served (all first choices in input order, then all second choices, ...);
    nothing is dropped when the capacity is at least the number of inputs; and a hand case.
    Prints a confirmation or raises AssertionError saying which property fails.
    """
    name = "keep_within_capacity"
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    for T, E, k in [(40, 4, 1), (48, 6, 2), (30, 5, 3)]:
        chosen = _router_case(T, E, k, g)
        load = torch.bincount(chosen.reshape(-1), minlength=E)
        for capacity in (0, 1, T * k // E // 2, T * k // E, int(load.max()) - 1, T):
            keep = _kept(name, fn, chosen, E, capacity)
            where = f"({T} inputs, {E} experts, k = {k}, capacity {capacity})"
            kept_load = torch.bincount(chosen[keep], minlength=E)
            over = (kept_load > capacity).nonzero().flatten().tolist()
            if over:
                raise AssertionError(f"{name} {where}: expert {over[0]} keeps more than its capacity")
            if capacity >= T and not keep.all():
                raise AssertionError(
                    f"{name} {where}: dropped an assignment although the capacity is at least "
                    "the number of inputs, so every expert has room for all of them"
                )
            short = (kept_load < load.clamp(max=capacity)).nonzero().flatten().tolist()
            if short:
                raise AssertionError(
                    f"{name} {where}: expert {short[0]} drops an assignment while it still has a free slot"
                )
            if not _first_come(chosen, keep, E, capacity, by_choice=True):
                hint = (
                    " You queued each input's k choices together; queue all first choices (in input "
                    "order) before any second choice."
                    if k > 1 and _first_come(chosen, keep, E, capacity, by_choice=False)
                    else ""
                )
                raise AssertionError(
                    f"{name} {where}: an expert keeps a later arrival and drops an earlier one; "
                    f"first come, first served.{hint}"
                )
    # by hand, with k = 2: expert 0 is the first choice of inputs 0 and 2, the second of 1 and 3
    chosen = torch.tensor([[0, 1], [1, 0], [0, 2], [2, 0]])
    keep = _kept(name, fn, chosen, 3, 2)
    if keep.tolist() != [[True, True], [True, False], [True, True], [True, False]]:
        raise AssertionError(
            f"{name}: wrong on the hand case chosen = {chosen.tolist()}, 3 experts, capacity 2 "
            "(work out on paper which assignments expert 0 keeps)"
        )
    print(f"✓ {name}: no expert over capacity, first come first served, nothing dropped needlessly")
