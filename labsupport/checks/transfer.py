"""Lab 8's check of the learner's μP rules (Chapter 2, "Tuning a model too big to tune").

:func:`check_mup_scales` never compares the learner's multipliers with the right ones: it
trains with them and tests what μP is for. At the base width the rules must leave the standard
parametrization unchanged; one Adam step must move every layer's outputs by about as much at
width 128 as at width 8 (a "coordinate check": under the standard parametrization the later
layers move many times more in the wider model); the output must start smaller in the wider
model (μP's output layer starts near zero as width grows); and, trained for a few hundred
steps on the lab's task, the best learning rate of width 64 must lie within one grid step of
width 8's. A failure says which of these the rules break, never what the multipliers are.
"""

from __future__ import annotations

import math

import torch

from labsupport.data import Split
from labsupport.sweep.model import MLPSweep
from labsupport.sweep.train import BatchSampler, train_sweep
from labsupport.transfer import Scales, check_scales, train_lr_grid

#: widths of the coordinate check, its Adam step's learning rate, and the tolerated ratio
SMALL, LARGE, STEP_LR, RATIO = 8, 128, 0.01, 2.0
#: the transfer grid: widths, learning rates (a factor-2 grid), steps and seeds
GRID_WIDTHS, GRID_LRS, GRID_STEPS, GRID_SEEDS = (8, 64), tuple(2.0**k for k in range(-7, 0)), 400, 2


@torch.no_grad()
def _layer_outputs(model: MLPSweep, x: torch.Tensor) -> list[list[torch.Tensor]]:
    """Per model: the pre-activations of every layer on ``x`` (padding cut off), output last."""
    out: list[list[torch.Tensor]] = [[] for _ in range(model.num_models)]
    for g, layout in enumerate(model.layouts):
        h = x.expand(len(layout.models), *x.shape)
        for layer, (weight, bias) in enumerate(model.stack_layers(g)):
            z = torch.baddbmm(bias, h, weight)
            for row, m in enumerate(layout.models):
                cut = model.widths[m] if layer < model.depth else z.shape[-1]
                out[m].append(z[row, :, :cut].clone())
            h = model.act(z)
    return out


def _rms(t: torch.Tensor) -> float:
    return t.pow(2).mean().sqrt().item()


def check_mup_scales(mup_scales: Scales, sample: BatchSampler, test: Split, *, depth: int = 2) -> None:
    """Check ``mup_scales(width, base_width, depth) -> (init, lr)`` by what it does to training.

    Raises ``AssertionError`` saying which property fails; prints a confirmation otherwise.
    """
    for width in (SMALL, LARGE):
        try:
            check_scales(mup_scales, width, SMALL, depth)
        except (TypeError, ValueError) as err:
            raise AssertionError(f"mup_scales: {err}") from None
    init, lr = check_scales(mup_scales, SMALL, SMALL, depth)
    if any(abs(v - 1) > 1e-9 for v in init + lr):
        raise AssertionError(
            "mup_scales: at the base width μP is calibrated to equal the standard "
            f"parametrization, so every multiplier must be 1; got init {init}, lr {lr}"
        )
    copies = 4  # per width: the ratios are averaged over initialisations
    widths = [SMALL] * copies + [LARGE] * copies
    rules = [check_scales(mup_scales, w, SMALL, depth) for w in widths]
    model = MLPSweep(widths, test.x.shape[1], 1, depth=depth, generator=torch.Generator().manual_seed(0))
    model.scale_weights_([init for init, _ in rules])
    x = test.x[:512]
    before = _layer_outputs(model, x)
    train_sweep(
        model, sample, steps=1, batch_size=128, lr=STEP_LR, layer_lr=[lr for _, lr in rules],
        generator=torch.Generator().manual_seed(0), progress=False,
    )  # fmt: skip
    after = _layer_outputs(model, x)
    moved = [[_rms(a - b) for a, b in zip(A, B, strict=True)] for A, B in zip(after, before, strict=True)]
    for layer in range(depth + 1):
        small = sum(moved[m][layer] for m in range(copies)) / copies
        large = sum(moved[m][layer] for m in range(copies, 2 * copies)) / copies
        ratio = large / small if small > 0 else math.inf
        name = "the output" if layer == depth else f"hidden layer {layer + 1}'s pre-activations"
        if not 1 / RATIO <= ratio <= RATIO:
            raise AssertionError(
                f"after one Adam step, {name} moved {ratio:.2f} times as much at width {LARGE} "
                f"as at width {SMALL}; μP's rules keep every layer's update about the same "
                f"size at every width (within a factor {RATIO:g}). Which layers' fan-in grows "
                "with the width?"
            )
    start_small = sum(_rms(before[m][-1]) for m in range(copies))
    start_large = sum(_rms(before[m][-1]) for m in range(copies, 2 * copies))
    if start_large > 0.5 * start_small:
        raise AssertionError(
            f"at initialisation the output is {start_large / start_small:.2f} times as large at "
            f"width {LARGE} as at width {SMALL}; under μP the output layer starts smaller as the "
            "width grows (its initial variance falls faster than the standard one)"
        )
    grid = train_lr_grid(
        mup_scales, sample, test, widths=GRID_WIDTHS, lrs=GRID_LRS, seeds=GRID_SEEDS,
        steps=GRID_STEPS, batch_size=128, depth=depth, base_width=SMALL,
    )  # fmt: skip
    small_best, large_best = grid.best_index()
    if abs(large_best - small_best) > 1:
        raise AssertionError(
            f"trained with your rules, the best learning rate moved {large_best - small_best:+d} "
            f"grid steps (factors of 2) from width {GRID_WIDTHS[0]} to {GRID_WIDTHS[1]}; "
            "transfer asks for at most one"
        )
    print(
        f"✓ mup_scales: every layer moves alike at widths {SMALL} and {LARGE}, and the best "
        f"learning rate moves {abs(large_best - small_best)} grid step(s) from width "
        f"{GRID_WIDTHS[0]} to {GRID_WIDTHS[1]}"
    )
