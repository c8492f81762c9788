"""Per-layer initialisation and learning rates in the sweep (μP, Chapter 2), the width x LR grid,
and Lab 8's check of the learner's μP rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labsupport.checks.transfer import check_mup_scales
from labsupport.data import Split
from labsupport.sweep.train import train_sweep
from labsupport.teacher import make_teacher, teacher_sampler
from labsupport.transfer import LRGrid, check_scales, train_lr_grid
from tests.sweeps import small_sweep


def reference_mup(width, base_width, depth):
    """Tensor Programs V, Table 3 (Adam), relative to the base width."""
    r = width / base_width
    return [1.0] * depth + [r**-0.5], [1.0] + [1 / r] * depth


def standard(width, base_width, depth):
    return [1.0] * (depth + 1), [1.0] * (depth + 1)


def global_lr(width, base_width, depth):
    """A common mistake: one learning rate shrunk with the width for every layer."""
    return [1.0] * depth + [(width / base_width) ** -0.5], [base_width / width] * (depth + 1)


@pytest.fixture(scope="module")
def task():
    teacher = make_teacher(4, width=64, seed=0)
    sample = teacher_sampler(teacher, 4)
    return sample, Split(*sample(2_000, torch.Generator().manual_seed(1)))


def test_scale_weights_multiplies_each_models_weight_matrices_and_keeps_biases():
    sweep = small_sweep(widths=(3, 8, 5), depth=2, out=2)
    before = [sweep.member(m) for m in range(3)]
    factors = [[1.0, 2.0, 0.5], [3.0, 1.0, 1.0], [0.0, 1.0, 4.0]]
    sweep.scale_weights_(factors)
    for m, net in enumerate(before):
        after = sweep.member(m)
        for layer, f in enumerate(factors[m]):
            old, new = net[2 * layer], after[2 * layer]
            torch.testing.assert_close(new.weight, old.weight * f)
            torch.testing.assert_close(new.bias, old.bias)


def test_layer_lr_equals_adamw_with_a_parameter_group_per_layer():
    """The oracle: each member trained alone by torch.optim.AdamW with per-layer learning rates."""
    torch.manual_seed(0)
    x, y = torch.randn(40, 6), torch.randn(40, 2)
    sweep = small_sweep(widths=(3, 9, 5), depth=2, out=2)
    layer_lr = [[1.0, 0.5, 0.25], [2.0, 1.0, 0.1], [1.0, 1.0, 1.0]]
    lrs = [1e-2, 3e-2, 2e-2]
    members = [sweep.member(m) for m in range(3)]
    train_sweep(
        sweep, Split(x, y), steps=15, batch_size=40, lr=lrs, layer_lr=layer_lr, weight_decay=0.1,
        progress=False,
    )  # fmt: skip
    for m, net in enumerate(members):
        groups = []
        for layer in range(3):
            linear = net[2 * layer]
            groups += [
                {"params": [linear.weight], "lr": lrs[m] * layer_lr[m][layer]},
                {"params": [linear.bias], "lr": lrs[m]},
            ]
        opt = torch.optim.AdamW(groups, weight_decay=0.1)
        for _ in range(15):
            loss = torch.nn.functional.mse_loss(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.testing.assert_close(sweep(x)[m], net(x), rtol=1e-4, atol=1e-5)


def test_per_layer_options_reject_bad_shapes():
    sweep = small_sweep(widths=(3, 8), depth=1)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        sweep.scale_weights_([[1.0, 1.0, 1.0]] * 2)
    with pytest.raises(ValueError, match="finite and >= 0"):
        sweep.weight_multipliers([[1.0, -1.0]] * 2)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        train_sweep(
            sweep, Split(torch.randn(8, 6), torch.randn(8, 2)), steps=1, batch_size=4, layer_lr=[[1.0]]
        )


def test_check_scales_says_what_it_expected():
    assert check_scales(reference_mup, 32, 8, 2) == ([1.0, 1.0, 0.5], [1.0, 0.25, 0.25])
    with pytest.raises(ValueError, match="one multiplier per weight matrix"):
        check_scales(lambda w, b, d: ([1.0], [1.0]), 8, 8, 2)
    with pytest.raises(ValueError, match="must return"):
        check_scales(lambda w, b, d: None, 8, 8, 2)
    with pytest.raises(ValueError, match="finite and > 0"):
        check_scales(lambda w, b, d: ([1.0, 0.0, 1.0], [1.0] * 3), 8, 8, 2)


def test_lr_grid_reads_the_best_step_from_the_mean_over_seeds():
    loss = np.array([[[3.0, 1.0, 2.0], [5.0, 4.0, 1.0]], [[3.0, 2.0, 1.5], [5.0, 4.0, np.inf]]])
    grid = LRGrid((8, 64), (0.1, 0.2, 0.4), loss)
    assert grid.best_index() == [1, 1]  # width 64's diverged seed rules its last step out
    assert grid.best_index_per_seed().tolist() == [[1, 2], [2, 1]]
    assert grid.best_lr() == [0.2, 0.2]
    assert grid.loss_at(8, 1) == pytest.approx(np.sqrt(2.0))


def test_train_lr_grid_shapes_and_a_standard_grid(task):
    sample, test = task
    grid = train_lr_grid(
        standard, sample, test, widths=(4, 8), lrs=(1e-3, 1e-2), seeds=2, steps=5, batch_size=32, depth=1
    )
    assert grid.loss.shape == (2, 2, 2) and np.isfinite(grid.loss).all()


def test_the_check_accepts_mup_and_rejects_the_standard_parametrization_and_a_global_lr(task):
    sample, test = task
    check_mup_scales(reference_mup, sample, test)
    with pytest.raises(AssertionError, match=r"moved .* times as much"):
        check_mup_scales(standard, sample, test)
    with pytest.raises(AssertionError, match=r"moved .* times as much"):
        check_mup_scales(global_lr, sample, test)
    with pytest.raises(AssertionError, match="every multiplier must be 1"):
        check_mup_scales(lambda w, b, d: ([2.0] * 3, [1.0] * 3), sample, test)
    with pytest.raises(AssertionError, match="one multiplier per weight matrix"):
        check_mup_scales(lambda w, b, d: ([1.0], [1.0]), sample, test)
    no_init = lambda w, b, d: ([1.0] * 3, reference_mup(w, b, d)[1])  # noqa: E731
    with pytest.raises(AssertionError, match="at initialisation the output"):
        check_mup_scales(no_init, sample, test)
