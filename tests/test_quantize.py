"""labsupport.quantize (Chapter 6), against a NumPy oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labsupport.quantize import Quantized, fake_quantize, pack_codes, quantize, quantized_bytes, unpack_codes


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
    with pytest.raises(ValueError, match=r"bits must be an int in \[2, 8\], got 9"):
        quantize(w, 9)
    with pytest.raises(ValueError, match=r"bits must be an int in \[2, 8\], got 1"):
        quantize(w, 1)
    with pytest.raises(ValueError, match="group_size 5 does not divide the 16 columns"):
        quantize(w, 4, "group", 5)
    with pytest.raises(
        ValueError, match=r"granularity must be one of \['tensor', 'channel', 'group'\], got 'row'"
    ):
        quantize(w, 4, "row")
    with pytest.raises(ValueError, match="group_size is needed with granularity 'group'"):
        quantize(w, 4, "group")
    with pytest.raises(ValueError, match=r"needs a 2-D \(out, in\) weight, got shape \(16,\)"):
        quantize(w[0], 4, "channel")
    with pytest.raises(TypeError, match=r"weight must be a floating-point tensor, got a torch\.int64 tensor"):
        quantize(torch.arange(4), 8)
    with pytest.raises(
        TypeError, match=r"q must be a Quantized, got a torch.float32 tensor of shape \(6, 16\)"
    ):
        quantized_bytes(w)
    with pytest.raises(ValueError, match="scale_bytes must be a positive int, got 0"):
        quantized_bytes(quantize(w), scale_bytes=0)
    with pytest.raises(ValueError, match="bits must be an int in"):
        quantize(w, True)
    with pytest.raises(ValueError, match="scale_bytes must be a positive int, got True"):
        quantized_bytes(quantize(w), scale_bytes=True)


@pytest.mark.parametrize("bits", [8, 6, 4, 3, 2])
def test_packed_codes_take_bits_over_eight_bytes_per_weight_and_unpack_exactly(bits):
    w = torch.randn(7, 9, generator=torch.Generator().manual_seed(bits))
    q = quantize(w, bits, "channel")
    packed = pack_codes(q)
    assert packed.dtype in (torch.uint8, torch.int8)
    assert len(packed) == (63 if bits > 4 else 32)  # 63 codes: one byte each, or two per byte
    assert torch.equal(unpack_codes(packed, bits, (7, 9)), q.codes)


def test_quantize_model_fake_quantizes_every_linear_and_counts_its_bytes():
    from torch import nn

    from labsupport.quantize import quantize_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    x = torch.randn(32, 8)
    int8, int8_bytes = quantize_model(model, 8, "channel")
    # codes: 1 byte per weight; one fp16 scale per row; biases fp32
    assert int8_bytes == (8 * 16 + 16 * 2) + 2 * (16 + 2) + 4 * (16 + 2)
    assert torch.allclose(int8(x), model(x), atol=0.02), "8 bits stay close to the original"
    int3, int3_bytes = quantize_model(model, 3, "channel")
    assert int3_bytes < int8_bytes
    assert (int3(x) - model(x)).abs().mean() > (int8(x) - model(x)).abs().mean()
    assert torch.equal(model[0].weight, model[0].weight.clone()), "the original is left alone"
    bare = nn.Linear(8, 4)
    _, bare_bytes = quantize_model(bare, 8)
    assert bare_bytes == 8 * 4 + 2 * 4 + 4 * 4, "a bare Linear's weight is quantized too"
    with pytest.raises(TypeError):
        quantize_model("not a model", 8)


def test_packed_4_bit_files_of_the_course_model_are_smaller_on_disk():
    """Lab 6 part 4's file sizes follow from the format: packed codes plus fp16 scales for every
    Linear weight, the rest in fp32 (configuration arithmetic, so a unit test)."""
    import io

    from labsupport.lm.model import load_course_model

    model = load_course_model()

    def saved(bits: int | None, granularity: str = "channel", group_size: int | None = None) -> int:
        state = {}
        for name, value in model.state_dict().items():
            layer = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else None
            if bits and isinstance(layer, torch.nn.Linear) and name.endswith(".weight"):
                q = quantize(value, bits, granularity, group_size)
                state[name] = {"codes": pack_codes(q), "scales": q.scales.half()}
            else:
                state[name] = value
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return len(buffer.getvalue())

    fp32, int8, int4 = saved(None), saved(8), saved(4, "group", 16)
    assert int4 < int8 < 0.55 * fp32
    assert int4 < 0.45 * fp32
