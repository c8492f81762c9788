"""labsupport.sweep.model: every model of a batched sweep computes what its own unpadded MLP computes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labsupport.sweep.model import ACTIVATIONS, MLPSweep, plan_groups
from tests.sweeps import small_sweep


@pytest.mark.parametrize("grouping", ["auto", "single"])
@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_forward_equals_each_member(grouping, depth, activation):
    sweep = small_sweep(widths=(3, 40, 5, 300, 8), depth=depth, grouping=grouping, activation=activation)
    x = torch.randn(17, 6)
    out = sweep(x)
    assert out.shape == (5, 17, 2)
    for m in range(sweep.num_models):
        torch.testing.assert_close(out[m], sweep.member(m)(x), rtol=1e-5, atol=1e-6)


def test_every_activation_maps_zero_to_zero():
    """What keeps the padding exactly zero without a mask (forward and backward)."""
    for name, activation in ACTIVATIONS.items():
        assert activation()(torch.zeros(3)).abs().max() == 0, name


def test_parameter_counts_match_members():
    sweep = small_sweep(widths=(1, 7, 30), depth=2)
    for m, count in enumerate(sweep.parameter_counts()):
        assert count == sum(p.numel() for p in sweep.member(m).parameters())


def test_each_model_has_its_own_fan_in_init():
    widths = (4, 64, 1024)
    sweep = MLPSweep(widths, 10, 1, depth=2, generator=torch.Generator().manual_seed(1), grouping="single")
    for m, w in enumerate(widths):
        layers = [layer for layer in sweep.member(m) if isinstance(layer, nn.Linear)]
        for layer in layers:
            fan_in = layer.weight.shape[1]
            bound = 1 / math.sqrt(fan_in)
            # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
            assert layer.weight.abs().max() <= bound + 1e-7
            assert layer.bias.abs().max() <= bound + 1e-7
        hidden = layers[1].weight
        # the std of U(-b, b) is b/sqrt(3); with w*w >= 16 draws, 35% covers sampling noise
        assert hidden.std().item() == pytest.approx(1 / math.sqrt(3 * w), rel=0.35)


def test_grouping_merges_similar_widths_and_separates_distant_ones():
    groups = plan_groups([8, 8, 8, 512, 512, 9], 10, 1, 2)
    as_sets = sorted(sorted(g) for g in groups)
    assert [0, 1, 2, 5] in as_sets and [3, 4] in as_sets
    # no overhead: every distinct width stands alone; huge overhead: one group
    assert len(plan_groups([4, 8, 16], 10, 1, 2, overhead=0)) == 3
    assert len(plan_groups([4, 8, 16], 10, 1, 2, overhead=10**9)) == 1


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least one hidden width"):
        MLPSweep([], 3, 1)
    with pytest.raises(ValueError, match="every width must be a positive int"):
        MLPSweep([4, 0], 3, 1)
    with pytest.raises(ValueError, match="every width must be a positive int, got True"):
        MLPSweep([4, True], 3, 1)
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPSweep([4], 3, 1, activation="sigmoid")
    with pytest.raises(ValueError, match="grouping must be"):
        MLPSweep([4], 3, 1, grouping="none")
    sweep = MLPSweep([4, 5], 3, 2)
    with pytest.raises(ValueError, match=r"expected inputs of shape \(n, 3\)"):
        sweep(torch.randn(5, 4))
    with pytest.raises(ValueError, match="index must be an int"):
        sweep.member(2)
    with pytest.raises(ValueError, match=r"index must be an int in \[0, 1\], got True"):
        sweep.member(True)
