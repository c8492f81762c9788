"""labsupport.checks.flops: Lab 1's check of a FLOP counter built from forward hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labsupport.checks.flops import check_flop_counter
from labsupport.complexity import count_flops

LAYERS = (nn.Linear, nn.Conv2d)


def counter(
    per_output=lambda layer: layer.weight[0].numel(),
    flops_per_mac=2,
    modules="modules",
    remove=True,
    bias=False,
):
    """A hook-based counter, right by default; each argument makes one known mistake."""

    def count(model, x):
        total = 0

        def hook(layer, inputs, output):
            nonlocal total
            total += flops_per_mac * output.numel() * per_output(layer)
            if bias:
                total += output.numel()

        found = model.modules() if modules == "modules" else [model, *model.children()]
        layers = [m for m in found if isinstance(m, LAYERS)]
        handles = [layer.register_forward_hook(hook) for layer in layers]
        with torch.no_grad():
            model(x)
        if remove:
            for handle in handles:
                handle.remove()
        return total

    return count


def test_a_right_counter_passes_and_agrees_with_count_flops(capsys):
    check_flop_counter(counter())
    assert "✓ hooked_flops: right on all 9 models" in capsys.readouterr().out
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    x = torch.randn(2, 1, 28, 28)
    assert counter()(model, x) == count_flops(model, x), "the reference counter is itself right"


@pytest.mark.parametrize(
    ("wrong", "message", "expected"),
    [
        (counter(flops_per_mac=1), "a Linear(3 -> 5) on one input: got 15; half the FLOPs", "30"),
        (counter(bias=True), "got 35; one more per output element", "30"),
        (
            counter(per_output=lambda layer: 1),  # one multiply-add per output element
            "on a Linear(3 -> 5) on one input: got 10, which is too few",
            "30",
        ),
        (
            counter(
                per_output=lambda layer: (
                    layer.weight[0].numel() * (layer.out_channels if isinstance(layer, nn.Conv2d) else 1)
                )
            ),
            "Conv2d(2 -> 3, 3x3 kernel) on a (1, 2, 6, 6) image: got 5184; out_channels times too many",
            "1728",
        ),
        (
            counter(per_output=lambda layer: layer.weight[0].numel() * getattr(layer, "groups", 1)),
            "grouped Conv2d(4 -> 4, 3x3 kernel, groups=4, padding 1) on a (1, 4, 5, 5) image: got 7200; "
            "in_channels / groups",
            "1800",
        ),
        (counter(modules="children"), "got 96; the nested Linear is missing", "224"),
        (counter(remove=False), "hooks are still registered", "30"),
    ],
)
def test_known_mistakes_get_their_hint_and_never_the_right_count(wrong, message, expected):
    with pytest.raises(AssertionError) as failure:
        check_flop_counter(wrong)
    assert message in str(failure.value)
    assert f" {expected}" not in str(failure.value) and f"{expected}," not in str(failure.value)


def test_counting_the_weights_once_is_named():
    def per_weight(model, x):
        return 2 * sum(m.weight.numel() for m in model.modules() if isinstance(m, LAYERS))

    with pytest.raises(AssertionError, match=r"batch of 4 inputs: got 30; that is two per weight"):
        check_flop_counter(per_weight)


def test_once_per_layer_misses_a_layer_called_twice():
    def once_per_layer(model, x):
        seen = {}

        def hook(layer, inputs, output):
            seen[layer] = 2 * output.numel() * layer.weight[0].numel()

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, LAYERS)]
        model(x)
        for handle in handles:
            handle.remove()
        return sum(seen.values())

    with pytest.raises(AssertionError, match=r"applies one Linear.*twice.*got 32; counted once"):
        check_flop_counter(once_per_layer)


def test_children_only_misses_a_bare_layer():
    def children_only(model, x):
        return counter()(nn.Sequential(*model.children()), x) if list(model.children()) else 0

    with pytest.raises(AssertionError, match="on one input: got 0; the model is itself a layer"):
        check_flop_counter(children_only)


def test_no_answer_and_not_a_function():
    with pytest.raises(AssertionError, match="expected a function, got int"):
        check_flop_counter(3)
    with pytest.raises(AssertionError, match="no answer yet"):
        check_flop_counter(lambda model, x: None)
    with pytest.raises(AssertionError, match="expected a number of FLOPs, got str"):
        check_flop_counter(lambda model, x: "many")


def test_the_check_leaves_the_global_random_state_alone():
    """A lab's later cells draw from torch's global generator: a check must not move it."""
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check_flop_counter(counter())
    assert torch.equal(torch.random.get_rng_state(), before)
