"""The backward pass of an :class:`~labsupport.sweep.model.MLPSweep`, written out by hand (Chapter 2).

Training a sweep spends most of a step outside the matmuls when autograd drives it: at these
sizes every call costs a few microseconds of Python and dispatch, and autograd adds its graph,
its saved tensors and its gradient accumulation. An MLP's backward pass is short enough to write
down, so :func:`sweep_loss_and_grad` does, for each padded stack, with ``g`` the gradient of the
summed per-model losses with respect to a layer's output:

* ``dW = h^T g`` and ``db = sum_n g``, written straight into the views of ``flat.grad`` (``out=``);
* ``g <- (g W^T) * act'(z)`` one layer down;
* one loss gradient for all stacks at once: ``(softmax(out) - onehot(y)) / n`` for
  cross-entropy, ``2 (out - y) / (n k)`` for mean squared error.

The padding needs no mask here: a padded unit's outgoing weights are zero, so its gradient is
zero, and every activation maps 0 to 0. ``tests/test_sweep_grad.py`` checks every gradient
against autograd's; :func:`~labsupport.sweep.train.train_sweep` uses this path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional as F

from labsupport._validate import one_of
from labsupport.sweep.model import MLPSweep

TASKS: tuple[str, ...] = ("regression", "classification")


def _check_batch(model: MLPSweep, x: torch.Tensor, y: torch.Tensor, task: str) -> None:
    """Inputs ``(n, d)``; integer targets ``(n,)`` or real targets ``(n, k)`` (``(n,)`` if k = 1)."""
    one_of("task", task, TASKS)
    if x.ndim != 2 or x.shape[1] != model.in_features:
        raise ValueError(f"expected inputs of shape (n, {model.in_features}), got {tuple(x.shape)}")
    n, k = x.shape[0], model.out_features
    if task == "classification":
        if y.shape != (n,) or y.dtype != torch.long:
            raise ValueError(
                f"classification needs integer targets of shape ({n},), got {y.dtype} {tuple(y.shape)}"
            )
    elif y.shape != (n, k) and not (k == 1 and y.shape == (n,)):
        raise ValueError(f"regression needs targets of shape ({n}, {k}), got {tuple(y.shape)}")


def _act_backward(activation: str, g: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Gradient through the activation ``a = act(z)``."""
    if activation == "relu":
        return torch.ops.aten.threshold_backward(g, a, 0)
    if activation == "tanh":
        return g * (1 - a * a)
    return torch.ops.aten.gelu_backward(g, z)


@torch.no_grad()
def sweep_loss_and_grad(
    model: MLPSweep, x: torch.Tensor, y: torch.Tensor, task: str, active: Sequence[bool] | None = None
) -> torch.Tensor:
    """Each model's mean loss on ``(x, y)``, shape ``(M,)``; its gradient goes into ``model.flat.grad``.

    ``task`` is ``"regression"`` (targets ``(n, k)``, or ``(n,)`` when ``k == 1``) or
    ``"classification"`` (integer targets ``(n,)``), as for
    :func:`~labsupport.sweep.train.per_model_loss`. ``active[g]`` (default:
    all) says which stacks to compute; an inactive stack's models get a NaN loss and their
    entries of ``flat.grad`` are left as they were.
    """
    _check_batch(model, x, y, task)
    stacks = range(len(model.layouts))
    active = [True] * len(model.layouts) if active is None else list(active)
    if len(active) != len(model.layouts):
        raise ValueError(f"active needs one flag per stack ({len(model.layouts)}), got {len(active)}")
    flat = model.flat.detach()
    if model.flat.grad is None:
        model.flat.grad = torch.zeros_like(flat)
    n = x.shape[0]
    kept, outputs = {}, []
    for g in stacks:
        if not active[g]:
            continue
        tensors = model.stack_tensors(g, flat)
        h = x.expand(len(model.layouts[g].models), *x.shape)
        saved = [(None, h)]  # (pre-activation, activation) of each layer's input
        for layer in range(model.depth):
            z = torch.baddbmm(tensors[2 * layer + 1], h, tensors[2 * layer])
            h = z.relu_() if model.activation == "relu" else model.act(z)
            saved.append((z, h))
        outputs.append(torch.baddbmm(tensors[-1], h, tensors[-2]))
        kept[g] = (tensors, saved)
    loss = torch.full((model.num_models,), math.nan, device=flat.device)
    if not kept:
        return loss
    out = torch.cat(outputs) if len(outputs) > 1 else outputs[0]  # (models of the active stacks, n, k)
    if task == "classification":
        logp = out.log_softmax(dim=-1)
        per_model = -logp.gather(2, y.view(1, n, 1).expand(len(out), n, 1)).mean(dim=(1, 2))
        grad_out = logp.exp_().sub_(F.one_hot(y, out.shape[-1]).to(out.dtype)).div_(n)
    else:
        diff = out - (y[:, None] if y.ndim == 1 else y)
        per_model = diff.pow(2).mean(dim=(1, 2))
        grad_out = diff.mul_(2 / diff[0].numel())
    models = [i for g in kept for i in model.layouts[g].models]
    loss[torch.tensor(models, device=flat.device)] = per_model
    grads = grad_out.split([len(model.layouts[g].models) for g in kept])
    for (g, (tensors, saved)), grad in zip(kept.items(), grads, strict=True):
        into = model.stack_tensors(g, model.flat.grad)
        for layer in range(model.depth, -1, -1):
            z, h = saved[layer]
            torch.bmm(h.transpose(1, 2), grad, out=into[2 * layer])
            torch.sum(grad, dim=1, keepdim=True, out=into[2 * layer + 1])
            if layer:
                grad = _act_backward(
                    model.activation, torch.bmm(grad, tensors[2 * layer].transpose(1, 2)), z, h
                )
    return loss
