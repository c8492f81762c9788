"""Optimizers for a sweep of models stored stacked (Chapters 2 and 3): one learning rate per model.

A :class:`~labsupport.sweep.model.MLPSweep` stores its models' weights stacked along a leading model
axis, so ``torch.optim`` would give every model the same learning rate and schedule. These
optimizers take ``(parameter, model_index)`` pairs (:meth:`MLPSweep.parameters_by_model`) and a
learning rate per model at each step, which lets each model warm up, decay and stop on its own
schedule (:func:`lr_factors`), as a fixed-compute (IsoFLOP) experiment needs. Both work element
by element, so the models stay independent: each is trained exactly as if it were alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from labsupport._validate import number_in, one_of

SCHEDULES: tuple[str, ...] = ("constant", "cosine")
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


class _PerModelOptimizer:
    """What both optimizers share: the ``(parameter, model_index)`` pairs and ``zero_grad``."""

    def __init__(
        self,
        params: Sequence[tuple[torch.Tensor, torch.Tensor]],
        weight_decay: float,
        scales: Sequence[torch.Tensor] | None = None,
    ) -> None:
        if not params:
            raise ValueError(
                f"{type(self).__name__} needs at least one (parameter, model_index) pair, got none"
            )
        for p, index in params:
            if index.shape != p.shape[:1]:
                raise ValueError(
                    f"model_index needs one entry per row of its parameter, got {tuple(index.shape)} for {tuple(p.shape)}"
                )
        self.params = [p for p, _ in params]
        self.index = [index for _, index in params]
        self.weight_decay = number_in("weight_decay", weight_decay, 0)
        if scales is not None:
            scales = list(scales)
            if len(scales) != len(params) or any(
                s.shape != p.shape for s, (p, _) in zip(scales, params, strict=False)
            ):
                raise ValueError("scales needs one tensor of its parameter's shape per parameter")
        self.scales = scales
        self.t = 0
        self._lr: torch.Tensor | None = None
        self._rates: list[torch.Tensor | float] = []
        self._views: dict[tuple[int, int, int], tuple[list[torch.Tensor], torch.Tensor]] = {}

    def rates(self, lr: torch.Tensor) -> list[torch.Tensor | float]:
        """Each parameter's learning rates, ``lr[model]`` broadcast over its rows.

        One number instead of a tensor when one rate covers the whole parameter (every model
        at the same rate, no ``scales``): the update is then a scaled add. With ``scales`` (one
        multiplier per entry, e.g. a learning rate per layer as μP sets it, Chapter 2), each
        rate is multiplied by its entry's scale. Kept from the last step while ``lr`` does not
        change: for a sweep's one flat parameter the gather touches every entry, which costs
        as much as an update.
        """
        if self._lr is None or not torch.equal(lr, self._lr):
            self._lr = lr.clone()
            if self.scales is None and bool((lr == lr[0]).all()):
                self._rates = [float(lr[0])] * len(self.params)
            else:
                self._rates = [
                    lr[i].view(-1, *([1] * (p.ndim - 1)))
                    for p, i in zip(self.params, self.index, strict=True)
                ]
                if self.scales is not None:
                    self._rates = [r * s for r, s in zip(self._rates, self.scales, strict=True)]
        return self._rates

    def advance(self, lr: torch.Tensor) -> list[torch.Tensor | float]:
        """Count a step and return its :meth:`rates`, for :meth:`update` calls on parts of the parameters."""
        self.t += 1
        return self.rates(lr)

    def step(self, lr: torch.Tensor) -> None:
        """One step with learning rate ``lr[m]`` for model ``m``, on every parameter."""
        self.update(self.advance(lr))

    def update(
        self, rates: list[torch.Tensor | float], segments: Sequence[tuple[int, int]] | None = None
    ) -> None:
        """Apply this step (after :meth:`advance`) to the rows ``segments`` of every parameter (default: all).

        Disjoint segments can be updated from different threads at once, which is how
        :func:`~labsupport.sweep.train.train_sweep` spreads a sweep's stacks over cores.
        """
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            for start, stop in [(0, len(p))] if segments is None else segments:
                rate = rates[i] if isinstance(rates[i], float) else rates[i][start:stop]
                self._update(*self._pieces(i, start, stop), rate)

    def _pieces(self, i: int, start: int, stop: int) -> list[torch.Tensor]:
        """Rows ``start:stop`` of parameter ``i``, its gradient and its state (views, cut once)."""
        p = self.params[i]
        key = (i, start, stop)
        if key not in self._views or self._views[key][1] is not p.grad:
            tensors = [p.detach(), p.grad, *(buffer[i] for buffer in self._state())]
            self._views[key] = ([t[start:stop] for t in tensors], p.grad)
        return self._views[key][0]

    def _state(self) -> list[list[torch.Tensor]]:
        raise NotImplementedError

    def _update(self, p: torch.Tensor, grad: torch.Tensor, *state_and_rate) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Drop the gradients (set them to ``None``)."""
        for p in self.params:
            p.grad = None


class BatchedAdam(_PerModelOptimizer):
    """Adam with decoupled weight decay (as ``torch.optim.AdamW``) and a learning rate per model.

    Takes ``(parameter, model_index)`` pairs (as :meth:`MLPSweep.parameters_by_model` gives):
    entry ``j`` along a parameter's first axis belongs to model ``model_index[j]``. ``step(lr)``
    takes one learning rate per model; a zero freezes that model for the step. ``scales``
    (optional, one tensor of each parameter's shape) multiplies each entry's learning rate.
    """

    def __init__(
        self,
        params: Sequence[tuple[torch.Tensor, torch.Tensor]],
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        scales: Sequence[torch.Tensor] | None = None,
    ) -> None:
        super().__init__(params, weight_decay, scales)
        for i, beta in enumerate(betas):
            number_in(f"betas[{i}]", beta, 0, 1, high_open=True)
        self.betas = betas
        self.eps = number_in("eps", eps, 0, low_open=True)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def _state(self) -> list[list[torch.Tensor]]:
        return [self.exp_avg, self.exp_avg_sq]

    @torch.no_grad()
    def _update(
        self,
        p: torch.Tensor,
        grad: torch.Tensor,
        m: torch.Tensor,
        v: torch.Tensor,
        rate: torch.Tensor | float,
    ) -> None:
        beta1, beta2 = self.betas
        bias1, bias2 = 1 - beta1**self.t, 1 - beta2**self.t
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if self.weight_decay:
            p.mul_(1 - rate * self.weight_decay)
        p.addcdiv_(m * (rate / bias1), v.sqrt().div_(math.sqrt(bias2)).add_(self.eps), value=-1.0)


def lr_factors(
    step: int | torch.Tensor,
    steps: torch.Tensor,
    *,
    schedule: str,
    warmup_steps: int,
    min_lr_fraction: float,
) -> torch.Tensor:
    """Learning-rate multiplier of each model at ``step`` (1-based) given its own ``steps``.

    Linear warm-up over ``warmup_steps``, then constant or a cosine decay to
    ``min_lr_fraction`` at the model's last step; zero after it (the model is frozen).
    ``step`` is one step (the result has shape ``(M,)``) or a 1-D tensor of steps (``(T, M)``:
    a whole schedule at once). :func:`train_sweep` checks the arguments once, before its first
    step.
    """
    many = isinstance(step, torch.Tensor)
    t = (step.to(torch.float32) if many else torch.tensor([float(step)]))[:, None]  # (T, 1)
    progress = ((t - 1) / steps.clamp(min=1)).clamp(max=1.0)  # (T, M)
    if schedule == "cosine":
        factor = min_lr_fraction + (1 - min_lr_fraction) * 0.5 * (1 + torch.cos(math.pi * progress))
    elif schedule == "constant":
        factor = torch.ones_like(progress)
    else:
        one_of("schedule", schedule, SCHEDULES)  # raises: an unknown schedule
    if warmup_steps > 0:
        factor = factor * (t / warmup_steps).clamp(max=1.0)
    factor = torch.where(steps >= t, factor, torch.zeros_like(factor))
    return factor if many else factor[0]


class BatchedSGD(_PerModelOptimizer):
    """SGD with momentum (as ``torch.optim.SGD``, dampening 0) and a learning rate per model.

    Takes ``(parameter, model_index)`` pairs like :class:`BatchedAdam`. ``step(lr)`` takes one
    learning rate per model; a zero freezes that model for the step (its velocity still decays).
    Each step is two passes over the parameters: ``v = g + momentum * v`` in one call, then
    ``p -= lr * v`` (the velocity starts at zero, so the first step takes ``v = g``).
    """

    def __init__(
        self,
        params: Sequence[tuple[torch.Tensor, torch.Tensor]],
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        scales: Sequence[torch.Tensor] | None = None,
    ) -> None:
        super().__init__(params, weight_decay, scales)
        self.momentum = number_in("momentum", momentum, 0, 1, high_open=True)
        self.velocity = [torch.zeros_like(p) for p in self.params]

    def _state(self) -> list[list[torch.Tensor]]:
        return [self.velocity]

    @torch.no_grad()
    def _update(
        self, p: torch.Tensor, grad: torch.Tensor, v: torch.Tensor, rate: torch.Tensor | float
    ) -> None:
        if self.weight_decay:
            grad = grad.add(p, alpha=self.weight_decay)
        torch.add(grad, v, alpha=self.momentum, out=v)
        if isinstance(rate, float):
            p.add_(v, alpha=-rate)
        else:
            p.addcmul_(v, rate, value=-1.0)
