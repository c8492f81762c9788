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

import copy
from dataclasses import dataclass

import torch
from torch import nn

from labsupport._validate import instance, int_in, module, one_of, positive_int, tensor

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


def _check_bits(bits: object) -> int:
    return int_in("bits", bits, 2, 8)


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
    tensor("weight", weight, dtype="floating")
    _check_bits(bits)
    one_of("granularity", granularity, GRANULARITIES)
    if (granularity == "group") != (group_size is not None):
        raise ValueError(f"group_size is needed with granularity 'group' and only then; got {group_size!r}")
    if granularity != "tensor" and weight.ndim != 2:
        raise ValueError(
            f"granularity {granularity!r} needs a 2-D (out, in) weight, got shape {tuple(weight.shape)}"
        )
    top = qmax(bits)
    w = weight.detach()
    if granularity == "group":
        positive_int("group_size", group_size)
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
    """``quantize(...).dequantize()``: the float weights a quantized model computes with.

    Answer key: Lab 6 writes its own fake quantizers; this copy is the oracle the exercise check
    (:func:`labsupport.checks.check_fake_quantizer`) and tests compare against.
    """
    return quantize(weight, bits, granularity, group_size).dequantize()


def quantized_bytes(q: Quantized, scale_bytes: int = 2) -> float:
    """Bytes to store ``q``: ``bits / 8`` per code plus ``scale_bytes`` per scale.

    ``scale_bytes=2`` counts the scales as fp16, the usual storage format (this module keeps
    them in the weight's dtype for the arithmetic).
    """
    instance("q", q, Quantized)
    positive_int("scale_bytes", scale_bytes)
    return q.codes.numel() * q.bits / 8 + q.num_scales * scale_bytes


def pack_codes(q: Quantized) -> torch.Tensor:
    """``q``'s codes as the bytes a file stores: one per int8 code, two int4 codes per byte.

    Codes of 5 to 8 bits take a byte each, codes of 2 to 4 bits are offset to be unsigned
    and packed two per byte (an odd count gets a zero nibble at the end).
    """
    instance("q", q, Quantized)
    flat = q.codes.flatten()
    if q.bits > 4:
        return flat.clone()
    nibbles = (flat.to(torch.int16) + 8).to(torch.uint8)  # -7..7 -> 1..15
    if len(nibbles) % 2:
        nibbles = torch.cat([nibbles, torch.zeros(1, dtype=torch.uint8)])
    return nibbles[0::2] | (nibbles[1::2] << 4)


def unpack_codes(packed: torch.Tensor, bits: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The inverse of :func:`pack_codes`: int8 codes of ``shape``."""
    tensor("packed", packed, ndim=1)
    _check_bits(bits)
    count = 1
    for size in shape:
        count *= positive_int("shape entries", size)
    if bits > 4:
        return packed[:count].to(torch.int8).reshape(shape)
    nibbles = torch.stack([packed & 0x0F, packed >> 4], dim=1).flatten()[:count]
    return (nibbles.to(torch.int16) - 8).to(torch.int8).reshape(shape)


def quantize_model(
    model: nn.Module, bits: int, granularity: str = "channel", group_size: int | None = None
) -> tuple[nn.Module, float]:
    """A copy of ``model`` with every ``nn.Linear`` weight fake-quantized, and its weight bytes.

    The bytes count each quantized weight as :func:`quantized_bytes` (codes and fp16 scales)
    and every other parameter (biases, norms, embeddings) at its own precision. Used by the
    capstone to compress a model to a memory budget with Lab 6's quantizer.
    """
    module("model", model)
    out = copy.deepcopy(model)
    total = 0.0
    with torch.no_grad():
        for name, param in out.named_parameters():
            owner = out.get_submodule(name.rsplit(".", 1)[0]) if "." in name else out
            if isinstance(owner, nn.Linear) and name.rsplit(".", 1)[-1] == "weight":
                q = quantize(param, bits, granularity, group_size)
                param.copy_(q.dequantize())
                total += quantized_bytes(q)
            else:
                total += param.numel() * param.element_size()
    return out, total
