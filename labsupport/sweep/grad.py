"""The backward pass of an :class:`~labsupport.sweep.model.MLPSweep`, written out by hand (Chapter 2).

Training a sweep spends most of a step outside the matmuls when autograd drives it: at these
sizes every call costs a few microseconds of Python and dispatch, and autograd adds its graph,
its saved tensors and its gradient accumulation. An MLP's backward pass is short enough to write
down, so :class:`SweepGradient` does, for each padded stack, with ``g`` the gradient of the
summed per-model losses with respect to a layer's output:

* ``dW = h^T g`` and ``db = sum_n g``, written straight into the views of ``flat.grad`` (``out=``);
* ``g <- (g W^T) * act'(z)`` one layer down;
* one loss gradient for all its stacks at once: ``(softmax(out) - onehot(y)) / n`` for
  cross-entropy, ``2 (out - y) / (n k)`` for mean squared error.

Where the time goes decided the rest (``benchmarks/double_descent_sweep.py``): every view of the
parameters and gradients is cut once, every activation has a buffer of its own that the
matmuls write into (``out=``), the ReLU and its backward work in place, and the output layer
runs transposed (``(out, n)`` rather than ``(n, out)``: a matmul with only ten columns is about
four times slower on a CPU than its transpose).

The padding needs no mask here: a padded unit's outgoing weights are zero, so its gradient is
zero, and every activation maps 0 to 0. ``tests/test_sweep_grad.py`` checks every gradient
against autograd's; :func:`~labsupport.sweep.train.train_sweep` uses this path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from labsupport._validate import one_of
from labsupport.sweep.model import MLPSweep

TASKS: tuple[str, ...] = ("regression", "classification")


def _check_batch(model: MLPSweep, x: torch.Tensor, y: torch.Tensor, task: str) -> None:
    """Inputs ``(n, d)``; integer targets ``(n,)`` or real targets ``(n, k)`` (``(n,)`` if k = 1)."""
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


@dataclass
class _Stack:
    """One stack's tensors for one batch size, cut once: parameters, gradients and buffers."""

    rows: slice  # its models' rows in the workspace's outputs
    x: torch.Tensor  # the shared input, expanded to (M, n, d); and its transpose
    xt: torch.Tensor
    weights: list[torch.Tensor]  # W_l (M, in, out), the output layer's (M, k, H)
    weights_t: list[torch.Tensor]
    biases: list[torch.Tensor]  # (M, 1, out); the output layer's as (M, k, 1)
    weight_grads: list[torch.Tensor]
    bias_grads: list[torch.Tensor]
    pre: list[torch.Tensor]  # each hidden layer's pre-activation (M, n, H); for ReLU and tanh,
    hidden: list[torch.Tensor]  # its activation in the same buffer (computed in place)
    hidden_t: list[torch.Tensor]
    spare: list[torch.Tensor]  # two (M, n, H) buffers for the backward
    out: torch.Tensor  # (M, k, n), in the workspace's outputs
    grad_out: torch.Tensor  # (M, k, n), in the workspace's output gradients
    grad_out_t: torch.Tensor


class SweepGradient:
    """Each model's loss and gradient on a minibatch, for some stacks of a sweep (a reusable workspace).

    ``SweepGradient(model, task, stacks)(x, y)`` runs the forward and the hand-written backward of
    the stacks ``stacks`` (default: all) and writes their gradients into ``model.flat.grad``;
    it keeps its views and its buffers from call to call, which is what makes a training step
    cheap. Two workspaces over disjoint stacks can run at once on two threads
    (:func:`~labsupport.sweep.train.train_sweep`'s ``workers``).
    """

    def __init__(self, model: MLPSweep, task: str, stacks: Sequence[int] | None = None) -> None:
        one_of("task", task, TASKS)
        self.model, self.task = model, task
        self.stacks = list(range(len(model.layouts))) if stacks is None else list(stacks)
        if not self.stacks or any(not 0 <= g < len(model.layouts) for g in self.stacks):
            raise ValueError(f"stacks must list stacks 0..{len(model.layouts) - 1}, got {stacks!r}")
        self.models = torch.tensor(
            [m for g in self.stacks for m in model.layouts[g].models], device=model.device
        )
        self._grad: torch.Tensor | None = None
        self._plans: dict[int, tuple[list[_Stack], dict[str, torch.Tensor]]] = {}

    def _plan(self, n: int) -> tuple[list[_Stack], dict[str, torch.Tensor]]:
        """The stacks' views and buffers for batches of ``n`` (made anew if ``flat.grad`` changed)."""
        model, flat = self.model, self.model.flat
        if flat.grad is None:
            flat.grad = torch.zeros_like(flat.detach())
        if flat.grad is not self._grad:
            self._grad, self._plans = flat.grad, {}
        if n in self._plans:
            return self._plans[n]
        device, k, depth = model.device, model.out_features, model.depth
        shared = {
            "x": torch.zeros(n, model.in_features, device=device),
            "out": torch.zeros(len(self.models), k, n, device=device),
            "grad_out": torch.zeros(len(self.models), k, n, device=device),
            "onehot": torch.zeros(k, n, device=device),
        }
        stacks, start = [], 0
        for g in self.stacks:
            num, width = len(model.layouts[g].models), model.layouts[g].shapes[0][2]
            tensors, grads = model.stack_tensors(g, flat.detach()), model.stack_tensors(g, flat.grad)
            pre = [torch.empty(num, n, width, device=device) for _ in range(depth)]
            hidden = pre if model.activation != "gelu" else [torch.empty_like(z) for z in pre]
            rows, x = slice(start, start + num), shared["x"].expand(num, n, model.in_features)
            stacks.append(
                _Stack(
                    rows=rows,
                    x=x,
                    xt=x.transpose(1, 2),
                    weights=tensors[0::2],
                    weights_t=[w.transpose(1, 2) for w in tensors[0::2]],
                    biases=[*tensors[1:-1:2], tensors[-1].view(num, k, 1)],
                    weight_grads=grads[0::2],
                    bias_grads=[*grads[1:-1:2], grads[-1].view(num, k, 1)],
                    pre=pre,
                    hidden=hidden,
                    hidden_t=[h.transpose(1, 2) for h in hidden],
                    spare=[torch.empty(num, n, width, device=device) for _ in range(2)],
                    out=shared["out"][rows],
                    grad_out=shared["grad_out"][rows],
                    grad_out_t=shared["grad_out"][rows].transpose(1, 2),
                )
            )
            start += num
        self._plans[n] = (stacks, shared)
        return self._plans[n]

    def _forward(self, s: _Stack) -> None:
        """One stack's activations into its buffers and its transposed outputs ``(M, k, n)`` into ``s.out``."""
        activation, h = self.model.activation, s.x
        for layer, (z, a) in enumerate(zip(s.pre, s.hidden, strict=True)):
            torch.baddbmm(s.biases[layer], h, s.weights[layer], out=z)
            if activation == "relu":
                z.relu_()
            elif activation == "tanh":
                torch.tanh(z, out=z)
            else:
                a.copy_(self.model.act(z))
            h = a
        torch.baddbmm(s.biases[-1], s.weights[-1], s.hidden_t[-1], out=s.out)

    def _backward(self, s: _Stack) -> None:
        """One stack's gradients into ``flat.grad``, from its output gradient ``s.grad_out``."""
        activation, depth = self.model.activation, self.model.depth
        torch.bmm(s.grad_out, s.hidden[-1], out=s.weight_grads[-1])
        torch.sum(s.grad_out, dim=2, keepdim=True, out=s.bias_grads[-1])
        grad = torch.bmm(s.grad_out_t, s.weights[-1], out=s.spare[0])
        for layer in range(depth - 1, -1, -1):
            if activation == "relu":
                torch.ops.aten.threshold_backward.grad_input(grad, s.hidden[layer], 0, grad_input=grad)
            elif activation == "tanh":
                grad.mul_(1 - s.hidden[layer] * s.hidden[layer])
            else:
                grad.copy_(torch.ops.aten.gelu_backward(grad, s.pre[layer]))
            h_t = s.hidden_t[layer - 1] if layer else s.xt
            torch.bmm(h_t, grad, out=s.weight_grads[layer])
            torch.sum(grad, dim=1, keepdim=True, out=s.bias_grads[layer])
            if layer:
                grad = torch.bmm(grad, s.weights_t[layer], out=s.spare[(depth - layer) % 2])

    def _loss(self, shared: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """Each model's mean loss ``(M,)``; the gradient with respect to the outputs into ``shared["grad_out"]``."""
        out, grad = shared["out"], shared["grad_out"]
        n = out.shape[-1]
        if self.task == "classification":
            torch.ops.aten._log_softmax.out(out, 1, False, out=grad)
            loss = -grad.gather(1, y.view(1, 1, n).expand(len(out), 1, n)).mean(dim=(1, 2))
            onehot = shared["onehot"].zero_().scatter_(0, y.view(1, n), 1.0)
            grad.exp_().sub_(onehot).div_(n)
            return loss
        torch.sub(out, y[None, :] if y.ndim == 1 else y.T, out=grad)
        loss = grad.pow(2).mean(dim=(1, 2))
        grad.mul_(2 / grad[0].numel())
        return loss

    @torch.no_grad()
    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        active: Sequence[bool] | None = None,
        loss: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Forward and backward on ``(x, y)``; returns ``loss``, each model's mean loss ``(M,)``.

        ``active[i]`` (default: all) says whether to compute ``self.stacks[i]``; an inactive
        stack's entries of ``flat.grad`` are left as they were. Only the computed models'
        entries of ``loss`` are written (a new ``loss`` starts as NaN).
        """
        _check_batch(self.model, x, y, self.task)
        active = [True] * len(self.stacks) if active is None else list(active)
        if len(active) != len(self.stacks):
            raise ValueError(f"active needs one flag per stack ({len(self.stacks)}), got {len(active)}")
        if loss is None:
            loss = torch.full((self.model.num_models,), math.nan, device=self.model.device)
        if not any(active):
            return loss
        stacks, shared = self._plan(x.shape[0])
        shared["x"].copy_(x)
        kept = [s for s, on in zip(stacks, active, strict=True) if on]
        for s in kept:
            self._forward(s)
        per_model = self._loss(shared, y)
        for s in kept:
            self._backward(s)
        if len(kept) == len(stacks):
            loss[self.models] = per_model
        else:
            for s in kept:
                loss[self.models[s.rows]] = per_model[s.rows]
        return loss


def sweep_loss_and_grad(
    model: MLPSweep, x: torch.Tensor, y: torch.Tensor, task: str, active: Sequence[bool] | None = None
) -> torch.Tensor:
    """Each model's mean loss on ``(x, y)``, shape ``(M,)``; its gradient goes into ``model.flat.grad``.

    ``task`` is ``"regression"`` (targets ``(n, k)``, or ``(n,)`` when ``k == 1``) or
    ``"classification"`` (integer targets ``(n,)``), as for
    :func:`~labsupport.sweep.train.per_model_loss`. ``active[g]`` (default:
    all) says which stacks to compute; an inactive stack's models get a NaN loss and their
    entries of ``flat.grad`` are left as they were. One call of a fresh :class:`SweepGradient`;
    a training loop keeps one instead.
    """
    return SweepGradient(model, task)(x, y, active)
