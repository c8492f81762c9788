"""Tests of labsupport.quantize and labsupport.lora (Chapter 6), against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from labsupport import count_parameters
from labsupport.lora import LoRALinear, add_lora, lora_parameter_count
from labsupport.quantize import (
    Quantized,
    check_fake_quantizer,
    fake_quantize,
    quantize,
    quantized_bytes,
)


def weight(seed: int = 0, shape: tuple[int, int] = (6, 16)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * torch.logspace(-1, 1, shape[0]).unsqueeze(1)


def oracle(w: torch.Tensor, bits: int, block: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Codes and per-element scales in NumPy float32, one block of `block` weights at a time
    (block None = the whole tensor)."""
    a = w.numpy().astype(np.float32)
    flat = a.reshape(-1) if block is None else a.reshape(-1, block)
    flat = flat.reshape(1, -1) if block is None else flat
    top = np.float32(2 ** (bits - 1) - 1)
    scale = (np.abs(flat).max(axis=1, keepdims=True) / top).astype(np.float32)
    codes = np.clip(np.round(flat / scale), -top, top)  # np.round rounds half to even, like torch
    return codes.reshape(a.shape), np.broadcast_to(scale, flat.shape).reshape(a.shape)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize(
    ("granularity", "group_size", "block"), [("tensor", None, None), ("channel", None, 16), ("group", 4, 4)]
)
def test_codes_and_values_match_a_numpy_oracle(bits, granularity, group_size, block):
    w = weight(bits)
    q = quantize(w, bits, granularity, group_size)
    codes, scales = oracle(w, bits, block)
    assert q.codes.dtype == torch.int8
    np.testing.assert_array_equal(q.codes.numpy(), codes)
    np.testing.assert_allclose(q.dequantize().numpy(), codes * scales, rtol=1e-6, atol=0)
    assert q.codes.abs().max().item() == 2 ** (bits - 1) - 1  # absmax lands on the top code


def test_scale_shapes_and_bytes():
    w = weight(shape=(8, 32))
    assert quantize(w, 8).scales.shape == ()
    assert quantize(w, 8, "channel").scales.shape == (8, 1)
    assert quantize(w, 4, "group", 8).scales.shape == (8, 4)
    assert quantized_bytes(quantize(w, 8)) == 256 + 2
    assert quantized_bytes(quantize(w, 8, "channel"), scale_bytes=4) == 256 + 8 * 4
    assert quantized_bytes(quantize(w, 4, "group", 8)) == 128 + 32 * 2


def test_rounding_error_is_at_most_half_a_step_and_finer_scales_help():
    w = weight(1, (32, 64))
    errors = {}
    for how in [("tensor", None), ("channel", None), ("group", 8)]:
        q = quantize(w, 4, *how)
        err = (q.dequantize() - w).abs()
        step = q.scales if how[0] != "group" else q.scales.repeat_interleave(8, dim=1)
        assert (err <= step / 2 + 1e-6).all()
        errors[how[0]] = err.pow(2).mean().item()
    assert errors["group"] < errors["channel"] < errors["tensor"]


def test_zero_rows_and_8_bit_round_trip():
    w = weight(2)
    w[0] = 0
    q = quantize(w, 8, "channel")
    assert q.scales[0].item() == 1.0 and (q.codes[0] == 0).all()
    torch.testing.assert_close(
        fake_quantize(w, 8, "channel"), w, rtol=0, atol=(w.abs().amax() / 127 / 2).item()
    )
    assert isinstance(q, Quantized) and q.num_scales == 6


def test_quantize_rejects_bad_inputs():
    w = weight()
    with pytest.raises(ValueError, match="bits must be an int from 2 to 8, got 9"):
        quantize(w, 9)
    with pytest.raises(ValueError, match="bits must be an int from 2 to 8, got 1"):
        quantize(w, 1)
    with pytest.raises(ValueError, match="group_size 5 does not divide the 16 columns"):
        quantize(w, 4, "group", 5)
    with pytest.raises(ValueError, match="granularity must be one of tensor, channel, group; got 'row'"):
        quantize(w, 4, "row")
    with pytest.raises(ValueError, match="group_size is needed with granularity 'group'"):
        quantize(w, 4, "group")
    with pytest.raises(ValueError, match=r"needs a 2-D \(out, in\) weight, got shape \(16,\)"):
        quantize(w[0], 4, "channel")
    with pytest.raises(TypeError, match=r"floating-point tensor, got a torch\.int64 tensor"):
        quantize(torch.arange(4), 8)
    with pytest.raises(
        TypeError, match=r"expected a Quantized, got a torch.float32 tensor of shape \(6, 16\)"
    ):
        quantized_bytes(w)
    with pytest.raises(ValueError, match="scale_bytes must be a positive int, got 0"):
        quantized_bytes(quantize(w), scale_bytes=0)


def test_check_fake_quantizer_accepts_the_reference_and_rejects_per_tensor(capsys):
    check_fake_quantizer("ok", lambda w: fake_quantize(w, 8, "channel"), 8, "channel")
    assert "✓" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="differs from the reference"):
        check_fake_quantizer("per tensor", lambda w: fake_quantize(w, 8), 8, "channel")


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
    with pytest.raises(ValueError, match="rank must be an int >= 1, got 0"):
        LoRALinear(nn.Linear(3, 3), rank=0)
    with pytest.raises(TypeError, match=r"LoRALinear wraps an nn\.Linear, got Conv1d"):
        LoRALinear(nn.Conv1d(3, 3, 1), rank=1)
    with pytest.raises(ValueError, match=r"has no nn\.Linear layer"):
        add_lora(nn.Sequential(nn.ReLU()), rank=1)
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.Module, got int"):
        add_lora(3, rank=1)
    with pytest.raises(ValueError, match="in_features must be an int >= 1, got 0"):
        lora_parameter_count(0, 3, 1)
