"""Low-rank adapters (LoRA, Hu et al. 2022) for fine-tuning a frozen network (Chapter 6).

A frozen ``nn.Linear`` computing ``W x + b`` gets a trainable low-rank update::

    y = W x + b + (alpha / r) * B (A x),   A: (r, in), B: (out, r)

``A`` starts random and ``B`` at zero, so the adapted layer starts as the original one.
Only ``A`` and ``B`` train: ``r * (in + out)`` parameters instead of ``in * out + out``.

Answer key: Lab 6 writes its own LoRA layer; :class:`LoRALinear` and :func:`add_lora` are the
oracle the tests compare against. (Lab 6's layer initialises ``A`` differently and defaults
to another ``alpha``; :func:`lora_parameter_count` is the same for both.)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from labsupport._validate import instance, module, positive_int


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update scaled by ``alpha / rank``.

    Answer key: the lab writes its own LoRA layer; this copy is the oracle the tests compare
    against.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None) -> None:
        super().__init__()
        instance("base", base, nn.Linear, "an nn.Linear (LoRALinear wraps one)")
        positive_int("rank", rank)
        self.base = base
        self.base.requires_grad_(False)
        self.rank = rank
        self.scaling = (rank if alpha is None else alpha) / rank
        device, dtype = base.weight.device, base.weight.dtype
        self.A = nn.Parameter(torch.empty(rank, base.in_features, device=device, dtype=dtype))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, device=device, dtype=dtype))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initializes its weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        return self.base(x) + self.scaling * ((x @ self.A.T) @ self.B.T)

    def merged_weight(self) -> torch.Tensor:
        """``W + (alpha / r) B A``: the single weight to deploy after fine-tuning."""
        return self.base.weight + self.scaling * self.B @ self.A


def add_lora(model: nn.Module, rank: int, alpha: float | None = None) -> nn.Module:
    """Freeze ``model`` and wrap every ``nn.Linear`` in it in a :class:`LoRALinear`, in place.

    Answer key: the lab adapts its model by hand; this copy is the oracle the tests compare
    against.
    """
    module("model", model)
    positive_int("rank", rank)
    model.requires_grad_(False)
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to adapt")
    for name, linear in linears:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if parent is linear:  # the model is itself a single Linear
            raise TypeError(
                "add_lora adapts the Linear layers inside a model; wrap a bare nn.Linear in LoRALinear"
            )
        setattr(parent, child, LoRALinear(linear, rank, alpha))
    return model


def lora_parameter_count(in_features: int, out_features: int, rank: int) -> int:
    """Trainable parameters of a rank-``rank`` adapter on an ``in -> out`` layer: ``r (in + out)``."""
    positive_int("in_features", in_features)
    positive_int("out_features", out_features)
    return positive_int("rank", rank) * (in_features + out_features)
