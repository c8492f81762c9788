"""labsupport.lora (Chapter 6): the reference LoRA layer, checked against the formula computed another way."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labsupport.complexity import count_parameters
from labsupport.lora import LoRALinear, add_lora, lora_parameter_count


def test_lora_starts_as_the_base_layer_and_counts_its_parameters():
    torch.manual_seed(0)
    base = nn.Linear(12, 5)
    layer = LoRALinear(base, rank=3, alpha=6.0)
    x = torch.randn(4, 12)
    torch.testing.assert_close(layer(x), base(x))  # B starts at zero
    assert count_parameters(layer, trainable_only=True) == lora_parameter_count(12, 5, 3) == 3 * 17
    assert not base.weight.requires_grad
    with torch.no_grad():
        layer.B.normal_()
    expected = base(x) + 2.0 * x @ (layer.B @ layer.A).T  # alpha / r = 2, computed another way
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(x @ layer.merged_weight().T + base.bias, expected)


def test_add_lora_wraps_every_linear_and_trains_only_adapters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    add_lora(model, rank=2)
    assert isinstance(model[0], LoRALinear) and isinstance(model[2], LoRALinear)
    assert count_parameters(model, trainable_only=True) == 2 * (8 + 16) + 2 * (16 + 4)
    model(torch.randn(3, 8)).sum().backward()
    assert model[0].base.weight.grad is None and model[0].A.grad is not None


def test_lora_rejects_bad_inputs():
    with pytest.raises(ValueError, match="rank must be a positive int, got 0"):
        LoRALinear(nn.Linear(3, 3), rank=0)
    with pytest.raises(TypeError, match=r"base must be an nn\.Linear \(LoRALinear wraps one\), got Conv1d"):
        LoRALinear(nn.Conv1d(3, 3, 1), rank=1)
    with pytest.raises(ValueError, match=r"has no nn\.Linear layer"):
        add_lora(nn.Sequential(nn.ReLU()), rank=1)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got int"):
        add_lora(3, rank=1)
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        lora_parameter_count(0, 3, 1)
    with pytest.raises(ValueError, match="rank must be a positive int, got True"):
        lora_parameter_count(3, 3, True)


def test_lora_r8_trains_about_a_tenth_of_lab_6s_small_mlp():
    """Review §1.3: far from 'a fraction of a percent', because the layers are tiny. Lab 6's
    MLP in cpu (40 -> 256 -> 256 -> 10) at rank 8: configuration arithmetic, so a unit test."""
    shapes = [(40, 256), (256, 256), (256, 10)]
    full = sum(i * o + o for i, o in shapes)
    lora = sum(lora_parameter_count(i, o, 8) for i, o in shapes)
    assert 0.05 < lora / full < 0.2
