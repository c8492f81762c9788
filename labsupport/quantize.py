"""Symmetric (absmax) weight quantization, written out plainly (Chapter 6).

A weight tensor is rounded onto a grid of ``2**bits - 1`` integer codes ``-qmax .. qmax``
(``qmax = 2**(bits - 1) - 1``) spaced ``scale`` apart, with ``scale = absmax / qmax``. The
scale is shared by the whole tensor (``"tensor"``), by each output channel, i.e. each row of
a ``(out, in)`` weight (``"channel"``), or by each group of ``group_size`` consecutive weights
of a row (``"group"``)::

    q = quantize(layer.weight, bits=4, granularity="group", group_size=32)
    w_hat = q.dequantize()  # fake quantization: same shape and dtype, values on the grid
    quantized_bytes(q)  # what storing the codes and scales would take

``torch.ao.quantization`` is deprecated in torch 2.14; this module needs none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

GRANULARITIES: tuple[str, ...] = ("tensor", "channel", "group")


@dataclass(frozen=True)
class Quantized:
    """A quantized tensor: integer ``codes`` and the ``scales`` that map them back to floats.

    ``codes`` has the weight's shape (int8, whatever ``bits``); ``scales`` broadcasts against
    it: shape ``()`` per tensor, ``(out, 1)`` per channel, ``(out, in // group_size)`` per group.
    """

    codes: torch.Tensor
    scales: torch.Tensor
    bits: int
    granularity: str
    group_size: int | None = None

    @property
    def num_scales(self) -> int:
        """How many scales are stored."""
        return self.scales.numel()

    def dequantize(self) -> torch.Tensor:
        """The float tensor the codes stand for: ``codes * scale``, in the scales' dtype."""
        if self.granularity == "group":
            out, inp = self.codes.shape
            grouped = self.codes.reshape(out, inp // self.group_size, self.group_size)
            return (grouped.to(self.scales.dtype) * self.scales.unsqueeze(-1)).reshape(out, inp)
        return self.codes.to(self.scales.dtype) * self.scales


def qmax(bits: int) -> int:
    """The largest code of a symmetric ``bits``-bit grid: ``2**(bits - 1) - 1`` (127 for int8)."""
    _check_bits(bits)
    return 2 ** (bits - 1) - 1


def _check_bits(bits: object) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an int from 2 to 8, got {bits!r}")


def quantize(
    weight: torch.Tensor, bits: int = 8, granularity: str = "tensor", group_size: int | None = None
) -> Quantized:
    """Round ``weight`` onto a symmetric absmax grid of ``bits`` bits.

    Args:
        weight: a floating-point tensor; ``"channel"`` and ``"group"`` need a 2-D ``(out, in)`` one.
        bits: 2 to 8; the codes lie in ``[-qmax, qmax]`` with ``qmax = 2**(bits - 1) - 1``.
        granularity: ``"tensor"``, ``"channel"`` (one scale per row) or ``"group"``.
        group_size: for ``"group"`` only: consecutive weights of a row sharing a scale; it
            must divide the number of columns.

    Returns:
        a :class:`Quantized` holding the codes (int8) and the scales (the weight's dtype).
        A group whose weights are all zero gets scale 1 (its codes are 0).
    """
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError(f"weight must be a floating-point tensor, got {_describe(weight)}")
    _check_bits(bits)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {granularity!r}")
    if (granularity == "group") != (group_size is not None):
        raise ValueError(f"group_size is needed with granularity 'group' and only then; got {group_size!r}")
    if granularity != "tensor" and weight.ndim != 2:
        raise ValueError(
            f"granularity {granularity!r} needs a 2-D (out, in) weight, got shape {tuple(weight.shape)}"
        )
    top = qmax(bits)
    w = weight.detach()
    if granularity == "group":
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"group_size must be a positive int, got {group_size!r}")
        if w.shape[1] % group_size:
            raise ValueError(
                f"group_size {group_size} does not divide the {w.shape[1]} columns of the weight"
            )
        w = w.reshape(w.shape[0], -1, group_size)  # (out, groups, group_size)
    # one absmax for the tensor, or one per row / group: shape (), (out, 1) or (out, groups, 1)
    absmax = w.abs().amax() if granularity == "tensor" else w.abs().amax(dim=-1, keepdim=True)
    scales = torch.where(absmax > 0, absmax / top, torch.ones_like(absmax))
    codes = torch.round(w / scales).clamp(-top, top).to(torch.int8)
    if granularity == "group":
        codes, scales = codes.reshape(weight.shape), scales.squeeze(-1)
    return Quantized(codes, scales, bits, granularity, group_size)


def fake_quantize(
    weight: torch.Tensor, bits: int = 8, granularity: str = "tensor", group_size: int | None = None
) -> torch.Tensor:
    """``quantize(...).dequantize()``: the float weights a quantized model computes with."""
    return quantize(weight, bits, granularity, group_size).dequantize()


def quantized_bytes(q: Quantized, scale_bytes: int = 2) -> float:
    """Bytes to store ``q``: ``bits / 8`` per code plus ``scale_bytes`` per scale.

    ``scale_bytes=2`` counts the scales as fp16, the usual storage format (this module keeps
    them in the weight's dtype for the arithmetic).
    """
    if not isinstance(q, Quantized):
        raise TypeError(f"expected a Quantized, got {_describe(q)}")
    if isinstance(scale_bytes, bool) or not isinstance(scale_bytes, int) or scale_bytes < 1:
        raise ValueError(f"scale_bytes must be a positive int, got {scale_bytes!r}")
    return q.codes.numel() * q.bits / 8 + q.num_scales * scale_bytes


def check_fake_quantizer(
    name: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    bits: int,
    granularity: str,
    group_size: int | None = None,
) -> None:
    """Check a learner's ``fn(weight) -> fake-quantized weight`` against :func:`fake_quantize`.

    Prints a confirmation, or raises ``AssertionError`` saying where the answer differs.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    cases = [
        torch.randn(16, 32, generator=g),
        torch.randn(8, 64, generator=g)
        * torch.logspace(-2, 1, 8).unsqueeze(1),  # rows of very different size
        torch.cat([torch.zeros(1, 32), torch.randn(3, 32, generator=g)]),  # an all-zero row
    ]
    for weight in cases:
        got = fn(weight.clone())
        want = fake_quantize(weight, bits, granularity, group_size)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            raise AssertionError(
                f"{name}: expected a tensor of shape {tuple(want.shape)}, got {_describe(got)}"
            )
        if not torch.allclose(got.float(), want, rtol=1e-5, atol=1e-7):
            row = int((got.float() - want).abs().amax(dim=1).argmax())
            raise AssertionError(
                f"{name}: differs from the reference on a {tuple(weight.shape)} weight, e.g. row {row}:"
                f" got {got[row, :4].tolist()}, expected {want[row, :4].tolist()}"
            )
    print(f"✓ {name}: matches the reference on all {len(cases)} cases")


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__
