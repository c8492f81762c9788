"""labsupport.sweep.grad: the hand-written backward of a sweep equals autograd's."""

from __future__ import annotations

import math

import pytest
import torch

from labsupport.sweep.grad import SweepGradient, sweep_loss_and_grad
from labsupport.sweep.train import per_model_loss
from tests.sweeps import small_sweep


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("depth", [1, 3])
def test_gradient_equals_autograd(task, activation, depth):
    widest = 3000 if depth == 1 else 300  # wide enough to be a stack of its own
    sweep = small_sweep(widths=(3, 40, 5, widest, 8), depth=depth, activation=activation, out=3)
    assert len(sweep.layouts) > 1  # several stacks: the shared loss gradient is split back
    x = torch.randn(17, 6)
    y = torch.randint(0, 3, (17,)) if task == "classification" else torch.randn(17, 3)
    expected = per_model_loss(sweep(x), y, task)
    expected.sum().backward()
    autograd = sweep.flat.grad.clone()
    sweep.flat.grad = None
    loss = sweep_loss_and_grad(sweep, x, y, task)
    torch.testing.assert_close(loss, expected.detach())
    torch.testing.assert_close(sweep.flat.grad, autograd, rtol=1e-4, atol=1e-6)


def test_inactive_stacks_are_skipped():
    sweep = small_sweep(widths=(3, 3000), depth=1)
    assert len(sweep.layouts) == 2
    sweep.flat.grad = torch.full_like(sweep.flat, 7.0)
    loss = sweep_loss_and_grad(sweep, torch.randn(5, 6), torch.randn(5, 2), "regression", [True, False])
    assert not math.isnan(loss[0]) and math.isnan(loss[1])
    kept = sweep.layouts[1]
    assert (sweep.flat.grad[kept.offsets[0] : kept.offsets[0] + kept.size] == 7.0).all()


def test_scalar_regression_targets():
    sweep = small_sweep(widths=(4,), depth=1, out=1)
    x, y = torch.randn(9, 6), torch.randn(9)
    per_model_loss(sweep(x), y).sum().backward()
    autograd = sweep.flat.grad.clone()
    sweep_loss_and_grad(sweep, x, y, "regression")
    torch.testing.assert_close(sweep.flat.grad, autograd)


def test_bad_inputs():
    sweep = small_sweep(widths=(3, 3000), depth=1)
    x = torch.randn(5, 6)
    with pytest.raises(ValueError, match=r"active needs one flag per stack \(2\), got 1"):
        sweep_loss_and_grad(sweep, x, torch.randn(5, 2), "regression", [True])
    with pytest.raises(ValueError, match="task must be one of"):
        sweep_loss_and_grad(sweep, x, torch.randn(5, 2), "ranking")
    with pytest.raises(ValueError, match=r"expected inputs of shape \(n, 6\)"):
        sweep_loss_and_grad(sweep, torch.randn(5, 4), torch.randn(5, 2), "regression")
    with pytest.raises(ValueError, match=r"regression needs targets of shape \(5, 2\)"):
        sweep_loss_and_grad(sweep, x, torch.randn(5, 3), "regression")
    with pytest.raises(ValueError, match=r"classification needs integer targets of shape \(5,\)"):
        sweep_loss_and_grad(sweep, x, torch.randn(5), "classification")


def test_workspace_reused_across_batch_sizes_and_a_replaced_gradient():
    """SweepGradient keeps its views and buffers per batch size, and notices a new flat.grad."""
    sweep = small_sweep(widths=(3, 40, 300), depth=2)
    gradient = SweepGradient(sweep, "regression")
    for n in (7, 12, 7):
        x, y = torch.randn(n, 6), torch.randn(n, 2)
        sweep.flat.grad = None  # as zero_grad leaves it
        loss = gradient(x, y)
        per_model_loss(sweep(x), y).sum().backward()  # autograd accumulates onto ours: twice ours
        torch.testing.assert_close(loss, per_model_loss(sweep(x), y).detach())
        expected = sweep.flat.grad.clone()
        sweep.flat.grad = None
        gradient(x, y)
        torch.testing.assert_close(2 * sweep.flat.grad, expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match=r"stacks must list stacks 0\.\.1"):
        SweepGradient(sweep, "regression", [5])
