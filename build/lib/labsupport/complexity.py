"""Measuring how big a network is: parameters, FLOPs and memory (Chapter 1).

* :func:`parameter_table` lists the parameters of every layer;
* :func:`count_flops` counts the floating-point operations of one forward pass with
  PyTorch's own ``FlopCounterMode`` (a multiply-add counts as two FLOPs);
* :func:`memory_bytes` gives the memory the weights take at a given precision;
* closed forms without building a model: :func:`mlp_parameters` for a stack of ``nn.Linear``
  layers, and for routed models (Chapter 5) :func:`routed_cost` (total versus active
  parameters and FLOPs per token), :func:`moe_mlp_cost` and :func:`dense_mlp_cost` for layers
  of two-layer MLPs, and :func:`matched_dense_width` for a dense layer of equal active compute.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labsupport._validate import module, non_negative_int, one_of, positive_int, top_k

#: Bytes per parameter for the precisions the course discusses.
BYTES_PER_PARAM: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}


@dataclass(frozen=True)
class LayerRow:
    """One row of a parameter table: a module with parameters of its own."""

    name: str
    kind: str
    shapes: tuple[tuple[int, ...], ...]
    parameters: int


@dataclass(frozen=True)
class ParameterTable:
    """Per-layer parameter counts; ``str()`` gives a printable table."""

    rows: tuple[LayerRow, ...]

    @property
    def total(self) -> int:
        """Total number of parameters over all rows."""
        return sum(r.parameters for r in self.rows)

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [5])
        lines = [f"{'layer':<{width}}  {'type':<20} {'shapes':<28} {'params':>12}"]
        for r in self.rows:
            shapes = ", ".join("x".join(map(str, s)) for s in r.shapes)
            lines.append(f"{r.name:<{width}}  {r.kind:<20} {shapes:<28} {r.parameters:>12,}")
        lines.append(f"{'total':<{width}}  {'':<20} {'':<28} {self.total:>12,}")
        return "\n".join(lines)


def parameter_table(model: nn.Module) -> ParameterTable:
    """A row for every module that owns parameters directly (shared tensors counted once)."""
    module("model", model)
    seen: set[int] = set()
    rows = []
    for name, layer in model.named_modules():
        own = [p for p in layer.parameters(recurse=False) if id(p) not in seen]
        if not own:
            continue
        seen.update(id(p) for p in own)
        rows.append(
            LayerRow(
                name=name or "(root)",
                kind=type(layer).__name__,
                shapes=tuple(tuple(p.shape) for p in own),
                parameters=sum(p.numel() for p in own),
            )
        )
    return ParameterTable(tuple(rows))


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters in ``model`` (each shared tensor once)."""
    module("model", model)
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


@contextlib.contextmanager
def _countable_attention() -> Iterator[None]:
    """Make attention visible to ``FlopCounterMode`` on every device.

    On the CPU, fused scaled-dot-product attention and ``nn.MultiheadAttention``'s
    inference fast path run kernels the counter has no formula for, so their FLOPs would be
    silently missing. Inside this context both fall back to plain matmuls.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def count_flops(model: nn.Module, *inputs: torch.Tensor, backward: bool = False) -> int:
    """FLOPs of one forward pass (plus the backward pass if ``backward``) on ``inputs``.

    Counts matrix multiplications and convolutions (two FLOPs per multiply-add), which is
    where nearly all of a network's arithmetic is; element-wise work is not counted.
    """
    module("model", model)
    if not inputs or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise TypeError("count_flops needs at least one example input tensor")
    counter = FlopCounterMode(display=False)
    with _countable_attention(), counter:
        if backward:
            out = model(*inputs)
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
        else:
            with torch.no_grad():
                model(*inputs)
    return int(counter.get_total_flops())


def memory_bytes(num_params: int, precision: str = "fp32") -> float:
    """Bytes needed to store ``num_params`` weights at ``precision`` (see ``BYTES_PER_PARAM``)."""
    one_of("precision", precision, BYTES_PER_PARAM)
    non_negative_int("num_params", num_params)
    return num_params * BYTES_PER_PARAM[precision]


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``: binary units, one decimal."""
    if n < 0:
        raise ValueError(f"a size in bytes cannot be negative, got {n}")
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TiB"


def format_count(n: float) -> str:
    """``175e9`` -> ``'175.0B'``: counts in thousands (K), millions (M), billions (B), trillions (T)."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}"


# --- closed forms: MLPs and routed models (Chapter 5) ---------------------------------


def mlp_parameters(dims: Sequence[int]) -> int:
    """Parameters (weights and biases) of ``nn.Linear`` layers ``dims[0] -> dims[1] -> ... -> dims[-1]``.

    ``mlp_parameters([d_in] + [width] * depth + [d_out])`` counts an MLP with ``depth`` hidden
    layers of ``width`` units; activations have no parameters.
    """
    dims = list(dims)
    if len(dims) < 2:
        raise ValueError(f"dims must list at least an input and an output size, got {dims!r}")
    for d in dims:
        positive_int("every size in dims", d)
    return sum(a * b + b for a, b in pairwise(dims))


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
    k, num_experts = top_k(k, num_experts)
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
    dims = (d_in, d_hidden, d_out)
    return mlp_parameters(dims), 2 * sum(a * b for a, b in pairwise(dims))


def moe_mlp_cost(d_in: int, d_hidden: int, d_out: int, num_experts: int, k: int) -> RoutedCost:
    """Cost of an MoE layer: a bias-free linear router and ``num_experts`` two-layer MLP experts, top-``k``.

    FLOPs count the matrix multiplications (two per multiply-add), as ``count_flops`` does.
    """
    k, num_experts = top_k(k, num_experts)
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
