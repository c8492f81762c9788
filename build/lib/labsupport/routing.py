"""Routing arithmetic for mixture-of-experts layers (Chapter 5).

Generic pieces that do not depend on what an expert computes:

* capacity: :func:`expert_capacity` (how many assignments an expert may take from a batch) and
  :func:`within_capacity` (which assignments fit, first come first served);
* load statistics: :func:`expert_load`, :func:`load_ratio`, :func:`dropped_fraction` and
  :func:`load_stats`, plus the Switch Transformer's auxiliary loss
  :func:`load_balancing_loss`, :math:`N \\sum_i f_i P_i`.

What a routed model costs (total versus active parameters, FLOPs per token) is accounting, and
lives with the rest of it in :mod:`labsupport.complexity` (:func:`~labsupport.complexity.routed_cost`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from labsupport._validate import non_negative_int, number_in, positive_int, tensor, top_k


def _check_index(expert_index: object, num_experts: int) -> torch.Tensor:
    tensor("expert_index", expert_index, what="torch.Tensor of expert ids")
    tensor("expert_index", expert_index, dtype="integer", what="tensor of integer expert ids")
    if expert_index.numel() and (expert_index.min() < 0 or expert_index.max() >= num_experts):
        raise ValueError(
            f"expert ids must lie in [0, {num_experts - 1}], got values from "
            f"{int(expert_index.min())} to {int(expert_index.max())}"
        )
    return expert_index


def _check_load(load: object) -> torch.Tensor:
    if not isinstance(load, torch.Tensor):
        load = torch.as_tensor(load)
    if load.ndim != 1 or load.numel() == 0:
        raise ValueError(
            f"load must be a 1-D sequence with one count per expert, got shape {tuple(load.shape)}"
        )
    if (load < 0).any():
        raise ValueError(f"a load counts assignments and cannot be negative, got {load.tolist()}")
    return load


# --- capacity ---------------------------------------------------------------------------


def expert_capacity(num_tokens: int, num_experts: int, k: int = 1, capacity_factor: float = 1.0) -> int:
    """Assignments one expert may take from a batch: ``ceil(capacity_factor * k * T / E)``.

    With ``capacity_factor = 1`` a perfectly balanced router fills every expert exactly;
    the Switch Transformer used factors of 1.0 to 1.25 (Chapter 5).
    """
    num_tokens = positive_int("num_tokens", num_tokens)
    k, num_experts = top_k(k, num_experts)
    if isinstance(capacity_factor, bool) or not isinstance(capacity_factor, (int, float)):
        raise TypeError(f"capacity_factor must be a number, got {type(capacity_factor).__name__}")
    number_in("capacity_factor", capacity_factor, 0, low_open=True)
    return math.ceil(capacity_factor * k * num_tokens / num_experts)


def within_capacity(expert_index: torch.Tensor, num_experts: int, capacity: int) -> torch.Tensor:
    """Which (token, choice) assignments fit in their expert's capacity: a bool tensor like ``expert_index``.

    ``expert_index`` has shape ``(T, k)``: the experts each token chose, best first. Each
    expert takes assignments first come, first served: all tokens' first choices in batch
    order, then all second choices, and so on (as in GShard); the rest are dropped.
    """
    num_experts = positive_int("num_experts", num_experts)
    capacity = non_negative_int("capacity", capacity)
    expert_index = _check_index(expert_index, num_experts)
    if expert_index.ndim != 2:
        raise ValueError(f"expert_index must have shape (tokens, k), got {tuple(expert_index.shape)}")
    T, k = expert_index.shape
    queue = expert_index.T.reshape(-1)  # (k*T,) first choices of all tokens, then second choices
    onehot = F.one_hot(queue, num_experts)  # (k*T, E)
    position = (onehot.cumsum(dim=0) * onehot).sum(dim=1) - 1  # place in the expert's queue
    return (position < capacity).view(k, T).T


# --- load statistics --------------------------------------------------------------------


def expert_load(expert_index: torch.Tensor, num_experts: int) -> torch.Tensor:
    """How many assignments each expert received: a histogram of length ``num_experts``."""
    num_experts = positive_int("num_experts", num_experts)
    expert_index = _check_index(expert_index, num_experts)
    return torch.bincount(expert_index.reshape(-1).long().cpu(), minlength=num_experts)


def load_ratio(load: torch.Tensor) -> float:
    """Max over mean of an expert load: 1 is perfect balance, ``E`` is total collapse onto one expert."""
    load = _check_load(load).double()
    if load.sum() == 0:
        raise ValueError("the load is all zeros: no assignments, so no ratio")
    return float(load.max() / load.mean())


def dropped_fraction(load: torch.Tensor, capacity: int) -> float:
    """Fraction of a batch's assignments that do not fit: ``sum(max(0, load - capacity)) / sum(load)``."""
    load = _check_load(load).double()
    capacity = non_negative_int("capacity", capacity)
    total = load.sum()
    if total == 0:
        raise ValueError("the load is all zeros: no assignments, so nothing can be dropped")
    return float((load - capacity).clamp(min=0).sum() / total)


@dataclass(frozen=True)
class LoadStats:
    """How evenly a router spread its assignments over the experts."""

    load: tuple[int, ...]  # assignments per expert
    max_mean_ratio: float  # 1 = perfectly balanced
    idle_experts: int  # experts that received nothing
    dropped_fraction: float | None  # share of assignments over capacity (None: no capacity given)

    def __str__(self) -> str:
        dropped = "" if self.dropped_fraction is None else f", dropped {self.dropped_fraction:.1%}"
        return (
            f"load {list(self.load)}, max/mean {self.max_mean_ratio:.2f}, "
            f"idle experts {self.idle_experts}{dropped}"
        )


def load_stats(expert_index: torch.Tensor, num_experts: int, capacity: int | None = None) -> LoadStats:
    """Load histogram, max/mean ratio, idle experts and (given a per-batch ``capacity``) dropped fraction.

    ``capacity`` applies to one batch: pass the expert choices of a single batch with it.
    """
    load = expert_load(expert_index, num_experts)
    return LoadStats(
        load=tuple(int(n) for n in load),
        max_mean_ratio=load_ratio(load),
        idle_experts=int((load == 0).sum()),
        dropped_fraction=None if capacity is None else dropped_fraction(load, capacity),
    )


def load_balancing_loss(probs: torch.Tensor, expert_index: torch.Tensor) -> torch.Tensor:
    """The Switch Transformer's auxiliary loss ``E * sum_i f_i * P_i`` (multiply by alpha yourself).

    Args:
        probs: ``(T, E)`` router probabilities (softmax over the experts).
        expert_index: ``(T, k)`` the experts each token was sent to.

    ``f_i`` is the fraction of the ``T * k`` assignments that went to expert ``i`` and
    ``P_i`` the mean router probability of expert ``i``. The loss is 1 for a uniform router
    and at most ``E``; only ``P`` carries a gradient.
    """
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2:
        raise ValueError(f"probs must be a (tokens, experts) tensor, got {getattr(probs, 'shape', probs)!r}")
    T, E = probs.shape
    expert_index = _check_index(expert_index, E)
    if expert_index.ndim != 2 or expert_index.shape[0] != T:
        raise ValueError(
            f"expert_index must have shape ({T}, k) to match probs, got {tuple(expert_index.shape)}"
        )
    f = F.one_hot(expert_index, E).to(probs.dtype).mean(dim=(0, 1))  # (E,) share of assignments
    P = probs.mean(dim=0)  # (E,) mean router probability
    return E * (f * P).sum()
