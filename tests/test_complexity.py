"""labsupport.complexity: parameter tables, FLOP counts, memory and the closed-form counts of MLPs and
routed models, with PyTorch as the oracle."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labsupport.complexity import (
    count_flops,
    count_parameters,
    dense_mlp_cost,
    format_bytes,
    format_count,
    matched_dense_width,
    memory_bytes,
    mlp_parameters,
    moe_mlp_cost,
    parameter_table,
    routed_cost,
)
from labsupport.moe import DenseMLP, MoELayer


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


def test_count_parameters_of_a_model_too_big_to_allocate():
    # On the meta device a model has shapes but no storage (here 10 billion parameters):
    # count_parameters must count shapes, never touch values, and count a tied weight once.
    with torch.device("meta"):
        first = nn.Linear(50_000, 100_000, bias=False)
        middle = nn.Linear(100_000, 50_000)
        last = nn.Linear(50_000, 100_000, bias=False)
    last.weight = first.weight
    model = nn.Sequential(first, middle, last)
    assert count_parameters(model) == 2 * 100_000 * 50_000 + 50_000
    assert parameter_table(model).total == count_parameters(model)


@pytest.mark.parametrize("dims", [(3, 1), (40, 64, 10), (6, 8, 8, 8, 2)])
def test_mlp_parameters_match_pytorch(dims):
    layers = [nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]
    assert mlp_parameters(dims) == count_parameters(nn.Sequential(*layers))


def test_mlp_parameters_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"dims must list at least an input and an output size, got \[3\]"):
        mlp_parameters([3])
    with pytest.raises(ValueError, match="every size in dims must be a positive int, got True"):
        mlp_parameters([3, True, 1])


def test_memory_and_formatting():
    assert memory_bytes(1000, "fp32") == 4000
    assert memory_bytes(1000, "bf16") == 2000
    assert memory_bytes(1000, "int8") == 1000
    assert memory_bytes(1000, "int4") == 500
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(10) == "10 B"
    assert format_bytes(1023) == "1023 B" and format_bytes(1024) == "1.0 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB" and format_bytes(2048 * 1024**4) == "2048.0 TiB"
    assert format_count(175e9) == "175.0B" and format_count(12) == "12"


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', .*\], got 'fp64'"):
        memory_bytes(10, "fp64")
    with pytest.raises(ValueError, match="non-negative int"):
        memory_bytes(-1)
    with pytest.raises(ValueError, match="num_params must be a non-negative int, got True"):
        memory_bytes(True)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got str"):
        parameter_table("model")
    with pytest.raises(TypeError, match="at least one example input tensor"):
        count_flops(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="cannot be negative"):
        format_bytes(-1)


# ---------------------------------------------------------------- routed models (Chapter 5)


def test_routed_cost_mixtral():
    # Mixtral 8x7B: 46.7B total, 12.9B active, 2 of 8 experts (Jiang et al., 2024)
    expert = (46.7e9 - 12.9e9) / 6
    cost = routed_cost(
        expert_params=round(expert), num_experts=8, k=2, shared_params=round(12.9e9 - 2 * expert)
    )
    assert cost.total_params == pytest.approx(46.7e9, rel=1e-6)
    assert cost.active_params == pytest.approx(12.9e9, rel=1e-6)
    assert cost.flops_per_token == 2 * cost.active_params  # default: two FLOPs per active parameter
    assert cost.active_fraction == pytest.approx(12.9 / 46.7, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(expert_params=10, num_experts=4, k=5), "at most num_experts=4"),
        (dict(expert_params=-1, num_experts=4, k=1), "expert_params must be a non-negative int"),
        (dict(expert_params=10, num_experts=4, k=1, shared_params=1.5), "shared_params must be"),
        (dict(expert_params=0, num_experts=4, k=1), "both 0"),
        (dict(expert_params=10, num_experts=4, k=1, expert_flops=-3), "expert_flops must be"),
    ],
)
def test_routed_cost_rejects_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        routed_cost(**kwargs)


@pytest.mark.parametrize(
    ("d_in", "h", "d_out", "E", "k"), [(3, 8, 1, 8, 1), (5, 4, 2, 6, 2), (2, 3, 3, 4, 4)]
)
def test_moe_mlp_cost_matches_pytorch(d_in, h, d_out, E, k):
    layer = MoELayer(d_in, h, d_out, E, k)
    cost = moe_mlp_cost(d_in, h, d_out, E, k)
    assert cost.total_params == count_parameters(layer)
    x = torch.randn(64, d_in)
    assert count_flops(layer, x) == 64 * cost.flops_per_token  # experts run on their inputs only
    expert = count_parameters(layer.experts[0])
    assert cost.active_params == d_in * E + k * expert


def test_dense_cost_and_matched_width():
    dense = DenseMLP(3, 14, 1)
    cost = dense_mlp_cost(3, 14, 1)
    assert cost.total_params == cost.active_params == count_parameters(dense)
    assert count_flops(dense, torch.randn(10, 3)) == 10 * cost.flops_per_token
    target = moe_mlp_cost(3, 8, 1, 8, 1).flops_per_token
    width = matched_dense_width(target, 3, 1)
    assert (
        dense_mlp_cost(3, width, 1).flops_per_token
        >= target
        > dense_mlp_cost(3, width - 1, 1).flops_per_token
    )
    with pytest.raises(ValueError, match="flops_per_token must be a positive int"):
        matched_dense_width(0, 3, 1)
    with pytest.raises(ValueError, match="d_hidden must be a positive int"):
        dense_mlp_cost(3, 0, 1)
