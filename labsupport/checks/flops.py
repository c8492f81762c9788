"""Lab 1's check: a learner's FLOP counter built from forward hooks (Chapter 1).

The counter is run on small models whose FLOPs can be counted by hand: a Linear layer on one
input, on a batch and on a batch of sequences; convolutions with stride, padding and groups;
nested modules; a layer called twice. A wrong count says which model it was wrong on and, where
a common mistake explains the number, which one; it never prints the right count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

HALF = "half the FLOPs: each multiply-add is two FLOPs"
BIAS = "one more per output element: this course does not count the bias additions"
ITSELF = "the model is itself a layer here: model.modules() yields the model too, model.children() does not"
PER_WEIGHT = (
    "that is two per weight: a layer uses each weight once per output position and per input, "
    "so count the multiply-adds behind every element of the output"
)


@dataclass
class _Case:
    """A model and its input whose forward FLOPs are known by hand, and what known mistakes give."""

    what: str
    model: nn.Module
    x: torch.Tensor
    flops: int
    mistakes: dict[str, int] = field(default_factory=dict)


class _CalledTwice(nn.Module):
    """One Linear(4 -> 4) applied twice: the same weights, two products."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(torch.relu(self.layer(x)))


def _cases() -> list[_Case]:
    g = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    # the weights do not change a count; drawing them apart leaves the lab's own random state as it was
    with torch.random.fork_rng():
        torch.manual_seed(0)
        linear = nn.Linear(3, 5)
        nested = nn.Sequential(
            nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.Tanh()), nn.Linear(8, 2)
        )
        layers = [
            nn.Conv2d(2, 3, 3),
            nn.Conv2d(1, 2, 3, stride=2, padding=1),
            nn.Conv2d(4, 4, 3, padding=1, groups=4),
        ]
        twice = _CalledTwice()
    return [
        # 15 multiply-adds, one per weight
        _Case("a Linear(3 -> 5) on one input", linear, randn(1, 3), 30, {HALF: 15, BIAS: 35, ITSELF: 0}),
        _Case(
            "a Linear(3 -> 5) on a batch of 4 inputs",
            linear,
            randn(4, 3),
            120,
            {PER_WEIGHT: 30, HALF: 60, BIAS: 140},
        ),
        _Case(
            "a Linear(3 -> 5) on a (2, 7, 3) batch of 2 sequences of 7 positions",
            linear,
            randn(2, 7, 3),
            420,
            {
                "a Linear acts on every position of a sequence, not only once per batch element: "
                "count the elements of its output": 60,
                PER_WEIGHT: 30,
                HALF: 210,
            },
        ),
        # 3 x 4 x 4 outputs, each a sum over 2 channels x 3 x 3 positions
        _Case(
            "a Conv2d(2 -> 3, 3x3 kernel) on a (1, 2, 6, 6) image",
            layers[0],
            randn(1, 2, 6, 6),
            1728,
            {
                PER_WEIGHT: 108,
                "out_channels times too many: each output element is one filter's sum over "
                "in_channels x kernel positions, not every filter's": 5184,
                HALF: 864,
                BIAS: 1776,
                ITSELF: 0,
            },
        ),
        _Case(
            "a Conv2d(1 -> 2, 3x3 kernel, stride 2, padding 1) on a (1, 1, 8, 8) image",
            layers[1],
            randn(1, 1, 8, 8),
            576,
            {
                "that is the input's number of positions: stride and padding change how many "
                "positions the output has, so count the output's": 2304,
                HALF: 288,
            },
        ),
        _Case(
            "a grouped Conv2d(4 -> 4, 3x3 kernel, groups=4, padding 1) on a (1, 4, 5, 5) image",
            layers[2],
            randn(1, 4, 5, 5),
            1800,
            {
                "in_channels / groups: in a grouped convolution each filter sees only its own "
                "group of input channels (the shape of layer.weight says how many)": 7200,
                HALF: 900,
            },
        ),
        _Case(
            "Sequential(Linear(4, 8), ReLU, Sequential(Linear(8, 8), Tanh), Linear(8, 2)) on one input",
            nested,
            randn(1, 4),
            224,
            {
                "the nested Linear is missing: model.children() sees only the outer layers, "
                "model.modules() walks every layer however deep": 96,
                HALF: 112,
            },
        ),
        _Case(
            "a model that applies one Linear(4 -> 4) twice, on one input",
            twice,
            randn(1, 4),
            64,
            {"counted once: a hook runs at every call, and a layer called twice costs twice": 32},
        ),
        _Case(
            "Sequential(Flatten, ReLU): no Linear, no Conv2d",
            nn.Sequential(nn.Flatten(), nn.ReLU()),
            randn(2, 3),
            0,
        ),
    ]


def _count(name: str, what: str, got: Any) -> float:
    if got is None or got is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {got!r}); fill in the exercise cell first")
    try:
        return float(got)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{name} on {what}: expected a number of FLOPs, got {type(got).__name__}"
        ) from None


def _hooks_left(model: nn.Module) -> bool:
    return any(module._forward_hooks or module._forward_pre_hooks for module in model.modules())


def check_flop_counter(fn: Callable[[nn.Module, torch.Tensor], Any], name: str = "hooked_flops") -> None:
    """Check ``fn(model, x)``, the forward FLOPs of ``model`` on ``x`` (two per multiply-add of
    every ``nn.Linear`` and ``nn.Conv2d``), on small models counted by hand.

    It must also remove its hooks: a hook left on a model keeps counting in every later forward
    pass. Prints a confirmation or raises ``AssertionError`` naming the model it was wrong on.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = _cases()
    for case in cases:
        got = _count(name, case.what, fn(case.model, case.x.clone()))
        if _hooks_left(case.model):
            raise AssertionError(
                f"{name} on {case.what}: hooks are still registered after the count; remove each with "
                "the handle register_forward_hook returned (handle.remove()), or they keep counting"
            )
        if got == case.flops:
            continue
        for hint, wrong in case.mistakes.items():
            if got == wrong:
                raise AssertionError(f"{name} on {case.what}: got {got:g}; {hint}")
        if not math.isfinite(got):
            direction = "which is not a finite number"
        else:
            direction = "which is too many" if got > case.flops else "which is too few"
        raise AssertionError(f"{name} on {case.what}: got {got:g}, {direction}")
    print(f"✓ {name}: right on all {len(cases)} models counted by hand, and no hook left behind")
