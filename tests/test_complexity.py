"""Parameter tables, FLOP counts and memory, with PyTorch and closed forms as the oracles."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labsupport import (
    count_flops,
    count_parameters,
    format_bytes,
    format_count,
    memory_bytes,
    parameter_table,
)


def test_linear_flops_are_two_per_multiply_add():
    for batch, n_in, n_out in [(1, 3, 4), (7, 64, 10), (32, 100, 1)]:
        assert count_flops(nn.Linear(n_in, n_out), torch.randn(batch, n_in)) == 2 * batch * n_in * n_out


def test_conv_flops():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    assert count_flops(conv, torch.randn(2, 3, 10, 10)) == 2 * 2 * 8 * 3 * 9 * 10 * 10


def test_backward_roughly_doubles_forward_again():
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
    x = torch.randn(16, 32)
    forward = count_flops(model, x)
    total = count_flops(model, x, backward=True)
    # Backward computes gradients for weights and (except the first layer) inputs: 2x the forward
    # for every layer but the first, whose input gradient is skipped.
    assert total == forward + 2 * forward - 2 * 16 * 32 * 64


def _attention_flops(batch, heads, seq, head_dim):
    return 2 * (2 * batch * heads * seq * seq * head_dim)  # QK^T and AV


class SDPA(nn.Module):
    def forward(self, q):
        return F.scaled_dot_product_attention(q, q, q, is_causal=True)


def test_fused_attention_is_counted_on_cpu():
    q = torch.randn(2, 4, 16, 8)
    assert count_flops(SDPA(), q) == _attention_flops(2, 4, 16, 8)


def test_multihead_attention_fast_path_is_counted_and_restored():
    mha = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(2, 16, 32)
    projections = 2 * 2 * 16 * 32 * 32 * 4  # q, k, v and output projections
    assert count_flops(mha, x, x, x) == projections + _attention_flops(2, 4, 16, 8)
    assert torch.backends.mha.get_fastpath_enabled(), "count_flops must restore the fast-path flag"


def test_parameter_table_matches_pytorch_and_counts_shared_weights_once():
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = emb.weight  # tied
    model = nn.Sequential(emb, nn.Linear(4, 4), head)
    table = parameter_table(model)
    assert table.total == count_parameters(model) == 40 + 20
    assert [r.name for r in table.rows] == ["0", "1"]
    assert "total" in str(table) and "60" in str(table)


def test_count_parameters_trainable_only():
    model = nn.Linear(3, 2)
    model.bias.requires_grad_(False)
    assert count_parameters(model) == 8 and count_parameters(model, trainable_only=True) == 6


def test_meta_device_models_can_be_counted():
    with torch.device("meta"):
        big = nn.Linear(100_000, 100_000)
    assert count_parameters(big) == 100_000 * 100_000 + 100_000


def test_memory_and_formatting():
    assert memory_bytes(1000, "fp32") == 4000
    assert memory_bytes(1000, "bf16") == 2000
    assert memory_bytes(1000, "int8") == 1000
    assert memory_bytes(1000, "int4") == 500
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(10) == "10 B"
    assert format_count(175e9) == "175.0B" and format_count(12) == "12"


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown precision 'fp64'; expected one of fp32"):
        memory_bytes(10, "fp64")
    with pytest.raises(ValueError, match="non-negative int"):
        memory_bytes(-1)
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.Module"):
        parameter_table("model")
    with pytest.raises(TypeError, match="at least one example input tensor"):
        count_flops(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="cannot be negative"):
        format_bytes(-1)
