"""labsupport.checks.lora: Lab 6's merge check passes the right answer and fails known wrong
ones with the intended hint."""

import copy

import pytest
import torch
from torch import nn

from labsupport.checks.lora import check_lora_merge
from labsupport.lora import LoRALinear


class LoRA(nn.Module):
    """Lab 6's layer: W x + b + (alpha / r) B A x."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float = 8.0):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scaling = alpha / rank

    def forward(self, x):
        return self.base(x) + self.scaling * (x @ self.A.T) @ self.B.T


def merge(layer, scaling=None, transpose=False, keep_bias=True):
    """The right merge, with knobs for the mistakes."""
    update = (layer.scaling if scaling is None else scaling) * layer.B @ layer.A
    merged = copy.deepcopy(layer.base)
    with torch.no_grad():
        merged.weight += update.T if transpose else update
        if not keep_bias and merged.bias is not None:
            merged.bias.zero_()
    return merged


def test_check_lora_merge_accepts_the_right_answer(capsys):
    check_lora_merge(merge, LoRA)
    check_lora_merge(merge, LoRALinear)  # the library's twin has the same attributes

    def with_merged_weight(layer):
        base = layer.base
        out = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(base.weight + layer.scaling * layer.B @ layer.A)
            if base.bias is not None:
                out.bias.copy_(base.bias)
        return out

    check_lora_merge(with_merged_weight, LoRA)
    assert capsys.readouterr().out.count("✓") == 3


def _in_place(layer):
    with torch.no_grad():
        layer.base.weight += layer.scaling * layer.B @ layer.A
    return layer.base


def _shared(layer):
    merged = nn.Linear(layer.base.in_features, layer.base.out_features, bias=layer.base.bias is not None)
    merged.weight = layer.base.weight  # the same Parameter
    merged.bias = layer.base.bias
    with torch.no_grad():
        merged.weight.data = merged.weight.data + layer.scaling * layer.B @ layer.A
    return merged


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda layer: merge(layer, scaling=1.0), "the scaling alpha / r forgotten"),
        (lambda layer: merge(layer, keep_bias=False), "the bias dropped"),
        (lambda layer: merge(layer, transpose=True), "the update transposed"),
        (lambda layer: layer, "plain nn.Linear"),
        (lambda layer: copy.deepcopy(layer.base), "outputs differ"),
        (_in_place, "changed the LoRA layer"),
        (lambda layer: nn.Linear(layer.base.in_features, layer.base.out_features), "B = 0"),
        (lambda layer: nn.Linear(layer.base.in_features, layer.base.out_features, bias=False), "bias"),
    ],
)
def test_check_lora_merge_names_the_mistake(wrong, hint):
    with pytest.raises(AssertionError, match="merge_lora") as error:
        check_lora_merge(wrong, LoRA)
    assert hint in str(error.value)


def test_check_lora_merge_catches_a_weight_shared_with_the_base():
    def shares(layer):
        merged = merge(layer)
        merged.bias = layer.base.bias  # the same Parameter as the frozen base's
        return merged

    with pytest.raises(AssertionError, match="shares its weight"):
        check_lora_merge(shares, LoRA)


def test_check_lora_merge_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    check_lora_merge(merge, LoRA)
    assert torch.equal(torch.random.get_rng_state(), state)
