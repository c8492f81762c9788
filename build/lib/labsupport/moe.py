"""A compact mixture-of-experts layer, its dense baseline, its loss and its evaluation (Chapter 5).

Answer key: Lab 5 builds the same layer step by step in the open and the lab writes its own
:class:`MoELayer` and :class:`DenseMLP`; these copies are the oracle the exercise check
(:func:`labsupport.checks.check_moe_layer`) and the tests compare against.

* :class:`MoELayer`: a linear router picks the top ``k`` of ``num_experts`` two-layer MLPs
  for each input; an optional capacity factor drops assignments that overflow an expert.
  Its ``forward`` returns ``(output, balance_loss)``.
* :class:`DenseMLP`: the dense baseline with the same interface (its balance loss is 0).
* :func:`mse_with_balance`: a :data:`BalancedLossFn` for :func:`labsupport.fit`;
  :func:`evaluate_moe`: the mean squared error, and the share of dropped assignments.

The routing arithmetic (capacity, loads, the balancing loss) is in :mod:`labsupport.routing`,
the parameter and FLOP accounting in :mod:`labsupport.complexity`, and the mixture-of-regimes
task in :mod:`labsupport.data`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from labsupport._validate import number_in, positive_int, top_k
from labsupport.data import Split, check_split
from labsupport.routing import dropped_fraction as _dropped_fraction
from labsupport.routing import expert_capacity, expert_load, load_balancing_loss, within_capacity
from labsupport.train import eval_batches, eval_mode, model_device

#: A loss for models that return ``(prediction, balance_loss)``: ``loss_fn((prediction, balance), target)``.
BalancedLossFn = Callable[[tuple[torch.Tensor, torch.Tensor], torch.Tensor], torch.Tensor]


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))


class MoELayer(nn.Module):
    """Top-``k`` mixture of ``num_experts`` two-layer MLP experts behind a bias-free linear router.

    Answer key: Lab 5 writes its own; this copy is the oracle the exercise check and tests
    compare against.
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, num_experts: int, k: int = 1) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out)):
            positive_int(name, value)
        k, num_experts = top_k(k, num_experts)
        self.num_experts, self.k, self.d_out = num_experts, k, d_out
        self.router = nn.Linear(d_in, num_experts, bias=False)
        self.experts = nn.ModuleList(_mlp(d_in, d_hidden, d_out) for _ in range(num_experts))

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities ``(T, E)``, and the top-k gates and expert ids ``(T, k)``."""
        probs = self.router(x).softmax(dim=-1)
        gate, chosen = probs.topk(self.k, dim=-1)
        return probs, gate, chosen

    def forward(
        self, x: torch.Tensor, capacity_factor: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output (T, d_out), balance loss)``; with ``capacity_factor`` overflowing assignments are dropped."""
        probs, gate, chosen = self.route(x)
        balance = load_balancing_loss(probs, chosen)
        if capacity_factor is not None:
            cap = expert_capacity(len(x), self.num_experts, self.k, capacity_factor)
            chosen = chosen.masked_fill(~within_capacity(chosen, self.num_experts, cap), -1)
        y = x.new_zeros(len(x), self.d_out)
        for e, expert in enumerate(self.experts):
            token, slot = torch.nonzero(chosen == e, as_tuple=True)
            y = y.index_add(0, token, gate[token, slot, None] * expert(x[token]))
        return y, balance


class DenseMLP(nn.Module):
    """The dense baseline: one two-layer MLP, returning ``(output, 0)`` like :class:`MoELayer`.

    Answer key: Lab 5 writes its own; this copy is the oracle the tests compare against.
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out)):
            positive_int(name, value)
        self.net = _mlp(d_in, d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, 0)``: a dense layer has nothing to balance."""
        return self.net(x), x.new_zeros(())


def mse_with_balance(alpha: float) -> BalancedLossFn:
    """A ``fit`` loss for models returning ``(prediction, balance)``: MSE + ``alpha`` * balance."""
    number_in("alpha", alpha, 0)

    def loss_fn(output: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        prediction, balance = output
        return F.mse_loss(prediction, target) + alpha * balance

    return loss_fn


@torch.no_grad()
def evaluate_moe(
    model: nn.Module,
    data: Split,
    *,
    batch_size: int,
    capacity_factor: float | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean squared error of ``model`` on ``data`` in batches of ``batch_size``: ``{"loss": ...}``.

    With ``capacity_factor`` (an MoE layer only) each batch drops the assignments over
    capacity, and the result also holds ``dropped_fraction``, averaged over the batches.
    Evaluate with the training batch size: capacity is per batch. The values are plain
    floats, as from :func:`labsupport.evaluate`.
    """
    check_split("data", data)
    positive_int("batch_size", batch_size)
    device = model_device(model, device)
    squared_error, dropped, batches = 0.0, 0.0, 0
    with eval_mode(model):
        for x, y in eval_batches(data, batch_size, device):
            if capacity_factor is None:
                prediction, _ = model(x)
            else:
                prediction, _ = model(x, capacity_factor=capacity_factor)
                _, _, chosen = model.route(x)
                cap = expert_capacity(len(x), model.num_experts, model.k, capacity_factor)
                dropped += _dropped_fraction(expert_load(chosen, model.num_experts), cap)
            squared_error += F.mse_loss(prediction, y, reduction="sum").item()
            batches += 1
    result = {"loss": squared_error / data.y.numel()}
    if capacity_factor is not None:
        result["dropped_fraction"] = dropped / batches
    return result
