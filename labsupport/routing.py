"""Routing arithmetic for mixture-of-experts layers (Chapter 5).

Generic pieces that do not depend on what an expert computes:

* capacity: :func:`expert_capacity` (how many assignments an expert may take from a batch) and
  :func:`within_capacity` (which assignments fit, first come first served);
* load statistics: :func:`expert_load`, :func:`load_ratio`, :func:`dropped_fraction` and
  :func:`load_stats`, plus the Switch Transformer's auxiliary loss
  :func:`load_balancing_loss`, :math:`N \\sum_i f_i P_i`;
* accounting that understands routing: :func:`routed_cost` (total versus active parameters
  and FLOPs per token), :func:`moe_mlp_cost` and :func:`dense_mlp_cost` for layers of
  two-layer MLPs, and :func:`matched_dense_width` for a dense layer of equal active compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from labsupport.validate import non_negative_int, positive_int


def _check_k(k: object, num_experts: object) -> tuple[int, int]:
    num_experts = positive_int("num_experts", num_experts)
    k = positive_int("k", k)
    if k > num_experts:
        raise ValueError(f"k (experts per token) must be at most num_experts={num_experts}, got k={k}")
    return k, num_experts


def _check_index(expert_index: object, num_experts: int) -> torch.Tensor:
    if not isinstance(expert_index, torch.Tensor):
        raise TypeError(
            f"expert_index must be a torch.Tensor of expert ids, got {type(expert_index).__name__}"
        )
    if expert_index.dtype.is_floating_point or expert_index.dtype == torch.bool:
        raise TypeError(f"expert_index must hold integer expert ids, got dtype {expert_index.dtype}")
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
    k, num_experts = _check_k(k, num_experts)
    if isinstance(capacity_factor, bool) or not isinstance(capacity_factor, (int, float)):
        raise TypeError(f"capacity_factor must be a number, got {type(capacity_factor).__name__}")
    if not math.isfinite(capacity_factor) or capacity_factor <= 0:
        raise ValueError(f"capacity_factor must be a positive finite number, got {capacity_factor!r}")
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


# --- parameters and FLOPs ---------------------------------------------------------------


@dataclass(frozen=True)
class RoutedCost:
    """What a routed model stores (total parameters) and what one token uses (active parameters, FLOPs)."""

    total_params: int
    active_params: int
    flops_per_token: int  # forward FLOPs of the active part, two per multiply-add

    @property
    def active_fraction(self) -> float:
        """Active over total parameters."""
        return self.active_params / self.total_params

    def __str__(self) -> str:
        return (
            f"total {self.total_params:,} params, active {self.active_params:,} "
            f"({self.active_fraction:.0%}), {self.flops_per_token:,} FLOPs/token"
        )


def routed_cost(
    *,
    expert_params: int,
    num_experts: int,
    k: int,
    shared_params: int = 0,
    expert_flops: int | None = None,
    shared_flops: int | None = None,
) -> RoutedCost:
    """Total and active parameters, and forward FLOPs per token, of a model with routed experts.

    Every token uses all ``shared_params`` (attention, embeddings, the router) and ``k`` of the
    ``num_experts`` experts. FLOPs default to two per active parameter, the rule of Chapter 1;
    pass ``expert_flops``/``shared_flops`` (per token) when you know them exactly.
    """
    k, num_experts = _check_k(k, num_experts)
    expert_params = non_negative_int("expert_params", expert_params)
    shared_params = non_negative_int("shared_params", shared_params)
    expert_flops = (
        2 * expert_params if expert_flops is None else non_negative_int("expert_flops", expert_flops)
    )
    shared_flops = (
        2 * shared_params if shared_flops is None else non_negative_int("shared_flops", shared_flops)
    )
    if shared_params + expert_params == 0:
        raise ValueError("a model needs some parameters: expert_params and shared_params are both 0")
    return RoutedCost(
        total_params=shared_params + num_experts * expert_params,
        active_params=shared_params + k * expert_params,
        flops_per_token=shared_flops + k * expert_flops,
    )


def _mlp_sizes(d_in: int, d_hidden: int, d_out: int) -> tuple[int, int]:
    """(parameters, matmul FLOPs per token) of Linear(d_in, d_hidden) -> Linear(d_hidden, d_out)."""
    for name, value in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out)):
        positive_int(name, value)
    params = d_in * d_hidden + d_hidden + d_hidden * d_out + d_out
    return params, 2 * (d_in * d_hidden + d_hidden * d_out)


def moe_mlp_cost(d_in: int, d_hidden: int, d_out: int, num_experts: int, k: int) -> RoutedCost:
    """Cost of an MoE layer: a bias-free linear router and ``num_experts`` two-layer MLP experts, top-``k``.

    FLOPs count the matrix multiplications (two per multiply-add), as ``count_flops`` does.
    """
    k, num_experts = _check_k(k, num_experts)
    params, flops = _mlp_sizes(d_in, d_hidden, d_out)
    router_params = d_in * num_experts
    return routed_cost(
        expert_params=params,
        expert_flops=flops,
        num_experts=num_experts,
        k=k,
        shared_params=router_params,
        shared_flops=2 * router_params,
    )


def dense_mlp_cost(d_in: int, d_hidden: int, d_out: int) -> RoutedCost:
    """Cost of a dense two-layer MLP: every parameter is active for every token."""
    params, flops = _mlp_sizes(d_in, d_hidden, d_out)
    return RoutedCost(total_params=params, active_params=params, flops_per_token=flops)


def matched_dense_width(flops_per_token: int, d_in: int, d_out: int) -> int:
    """The smallest hidden width of a dense two-layer MLP whose FLOPs per token reach ``flops_per_token``."""
    flops_per_token = positive_int("flops_per_token", flops_per_token)
    positive_int("d_in", d_in)
    positive_int("d_out", d_out)
    return math.ceil(flops_per_token / (2 * (d_in + d_out)))
