"""Measuring how big a network is: parameters, FLOPs and memory (Chapter 1).

* :func:`parameter_table` lists the parameters of every layer;
* :func:`count_flops` counts the floating-point operations of one forward pass with
  PyTorch's own ``FlopCounterMode`` (a multiply-add counts as two FLOPs);
* :func:`memory_bytes` gives the memory the weights take at a given precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labsupport.validate import module as check_module

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
    check_module(model)
    seen: set[int] = set()
    rows = []
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        if not own:
            continue
        seen.update(id(p) for p in own)
        rows.append(
            LayerRow(
                name=name or "(root)",
                kind=type(module).__name__,
                shapes=tuple(tuple(p.shape) for p in own),
                parameters=sum(p.numel() for p in own),
            )
        )
    return ParameterTable(tuple(rows))


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters in ``model`` (each shared tensor once)."""
    check_module(model)
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
    check_module(model)
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
    if precision not in BYTES_PER_PARAM:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(BYTES_PER_PARAM)}")
    if not isinstance(num_params, int) or num_params < 0:
        raise ValueError(f"num_params must be a non-negative int, got {num_params!r}")
    return num_params * BYTES_PER_PARAM[precision]


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``: binary units, one decimal."""
    if n < 0:
        raise ValueError(f"a size in bytes cannot be negative, got {n}")
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_count(n: float) -> str:
    """``175e9`` -> ``'175.0B'``: counts in thousands (K), millions (M), billions (B), trillions (T)."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}"
