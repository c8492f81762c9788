"""A compact mixture-of-experts layer and a task where experts pay off (Chapter 5).

Lab 5 builds the same layer step by step in the open; this reference copy is what the tests
train and what the lab's check compares the learner's layer with.

* :class:`MoELayer`: a linear router picks the top ``k`` of ``num_experts`` two-layer MLPs
  for each input; an optional capacity factor drops assignments that overflow an expert.
  Its ``forward`` returns ``(output, balance_loss)``.
* :class:`DenseMLP`: the dense baseline with the same interface (its balance loss is 0).
* :func:`make_regime_task`: a mixture-of-regimes regression task generated offline.
* :func:`mse_with_balance`, :func:`evaluate_moe` and :func:`check_moe_layer`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labsupport.data import Split
from labsupport.routing import dropped_fraction as _dropped_fraction
from labsupport.routing import expert_capacity, expert_load, load_balancing_loss, within_capacity

LossFn = Callable[[tuple[torch.Tensor, torch.Tensor], torch.Tensor], torch.Tensor]


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


class MoELayer(nn.Module):
    """Top-``k`` mixture of ``num_experts`` two-layer MLP experts behind a bias-free linear router."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, num_experts: int, k: int = 1):
        super().__init__()
        _check_sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, num_experts=num_experts, k=k)
        if k > num_experts:
            raise ValueError(f"k (experts per input) must be at most num_experts={num_experts}, got k={k}")
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
    """The dense baseline: one two-layer MLP, returning ``(output, 0)`` like :class:`MoELayer`."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__()
        _check_sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out)
        self.net = _mlp(d_in, d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, 0)``: a dense layer has nothing to balance."""
        return self.net(x), x.new_zeros(())


def mse_with_balance(alpha: float) -> LossFn:
    """A ``fit`` loss for models returning ``(prediction, balance)``: MSE + ``alpha`` * balance."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise ValueError(f"alpha must be a non-negative number, got {alpha!r}")

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
    """Mean squared error of ``model`` on ``data`` in batches of ``batch_size``.

    With ``capacity_factor`` (an MoE layer only) each batch drops the assignments over
    capacity, and the result also holds ``dropped_fraction``, averaged over the batches.
    Evaluate with the training batch size: capacity is per batch.
    """
    if not isinstance(data, Split):
        raise TypeError(f"data must be a labsupport Split, got {type(data).__name__}")
    _check_sizes(batch_size=batch_size)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    squared_error, dropped, batches = 0.0, 0.0, 0
    for start in range(0, len(data), batch_size):
        x = data.x[start : start + batch_size].to(device)
        y = data.y[start : start + batch_size].to(device)
        if capacity_factor is None:
            prediction, _ = model(x)
        else:
            prediction, _ = model(x, capacity_factor=capacity_factor)
            _, _, chosen = model.route(x)
            cap = expert_capacity(len(x), model.num_experts, model.k, capacity_factor)
            dropped += _dropped_fraction(expert_load(chosen, model.num_experts), cap)
        squared_error += F.mse_loss(prediction, y, reduction="sum").item()
        batches += 1
    model.train(was_training)
    result = {"loss": squared_error / data.y.numel()}
    if capacity_factor is not None:
        result["dropped_fraction"] = dropped / batches
    return result


# --- the mixture-of-regimes task --------------------------------------------------------


@dataclass(frozen=True)
class RegimeTask:
    """Inputs ``(c1, c2, z)``: a context point marking one of ``num_regimes`` regimes, and a value ``z``.

    Regime ``r`` sits at angle ``2 pi r / R`` on the unit circle (plus noise); its target is
    its own wave ``offset_r + amp_r * sin(freq_r * z + phase_r)``, standardized with the
    training mean and standard deviation, so predicting the mean gives a loss of about 1.
    """

    train: Split
    test: Split
    train_regime: torch.Tensor
    test_regime: torch.Tensor
    num_regimes: int
    waves: torch.Tensor  # (R, 4): offset, amplitude, frequency, phase of each regime's wave
    y_mean: float
    y_std: float

    def inputs(self, regime: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Noise-free inputs ``(T, 3)`` for regimes ``regime`` at values ``z`` (for plots)."""
        angle = 2 * math.pi * regime.float() / self.num_regimes
        return torch.stack([angle.cos(), angle.sin(), z.float()], dim=1)

    def target(self, regime: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The standardized target ``(T, 1)`` of regime ``regime`` at ``z``."""
        offset, amp, freq, phase = self.waves[regime].unbind(dim=1)
        y = offset + amp * torch.sin(freq * z + phase)
        return ((y - self.y_mean) / self.y_std)[:, None]


def make_regime_task(
    num_train: int,
    num_test: int,
    *,
    num_regimes: int = 8,
    context_noise: float = 0.05,
    cycles: tuple[float, float] = (0.5, 1.5),
    seed: int = 0,
) -> RegimeTask:
    """A mixture-of-regimes regression task, generated offline and deterministic in ``seed``.

    Each regime's wave makes between ``cycles[0]`` and ``cycles[1]`` cycles per unit of ``z``
    (``z`` is uniform on [-1, 1]). A dense network must fit all the waves with one set of
    weights; an MoE can give each regime its own expert.
    """
    _check_sizes(num_train=num_train, num_test=num_test, num_regimes=num_regimes)
    if not context_noise >= 0:
        raise ValueError(f"context_noise must be >= 0, got {context_noise!r}")
    low, high = cycles
    if not 0 < low <= high:
        raise ValueError(f"cycles must be (low, high) with 0 < low <= high, got {cycles!r}")
    g = torch.Generator().manual_seed(seed)
    waves = torch.stack(
        [
            torch.randn(num_regimes, generator=g),  # offset
            0.5 + torch.rand(num_regimes, generator=g),  # amplitude
            2 * math.pi * (low + (high - low) * torch.rand(num_regimes, generator=g)),  # frequency
            2 * math.pi * torch.rand(num_regimes, generator=g),  # phase
        ],
        dim=1,
    )

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        regime = torch.randint(num_regimes, (n,), generator=g)
        z = 2 * torch.rand(n, generator=g) - 1
        angle = 2 * math.pi * regime / num_regimes
        context = torch.stack([angle.cos(), angle.sin()], dim=1) + context_noise * torch.randn(
            n, 2, generator=g
        )
        offset, amp, freq, phase = waves[regime].unbind(dim=1)
        y = offset + amp * torch.sin(freq * z + phase)
        return torch.cat([context, z[:, None]], dim=1), y[:, None], regime

    x_train, y_train, r_train = sample(num_train)
    x_test, y_test, r_test = sample(num_test)
    mean, std = y_train.mean().item(), y_train.std().item()
    return RegimeTask(
        train=Split(x_train, (y_train - mean) / std),
        test=Split(x_test, (y_test - mean) / std),
        train_regime=r_train,
        test_regime=r_test,
        num_regimes=num_regimes,
        waves=waves,
        y_mean=mean,
        y_std=std,
    )


# --- the lab's check --------------------------------------------------------------------


def check_moe_layer(layer_cls: type[nn.Module], *, atol: float = 1e-5) -> None:
    """Check a learner's MoE layer class against :class:`MoELayer` with the same weights.

    The class must take ``(d_in, d_hidden, d_out, num_experts, k)``, name its modules
    ``router`` and ``experts`` like :class:`MoELayer`, and return ``(output, balance_loss)``
    from ``forward(x, capacity_factor=None)``. Prints a confirmation or raises AssertionError.
    """
    if not isinstance(layer_cls, type) or not issubclass(layer_cls, nn.Module):
        raise AssertionError(f"expected an nn.Module class, got {layer_cls!r}")
    g = torch.Generator().manual_seed(0)
    for d_in, d_hidden, d_out, num_experts, k in [(3, 5, 1, 4, 1), (6, 4, 2, 5, 2)]:
        reference = MoELayer(d_in, d_hidden, d_out, num_experts, k)
        mine = layer_cls(d_in, d_hidden, d_out, num_experts, k)
        try:
            mine.load_state_dict(reference.state_dict())
        except RuntimeError as exc:
            raise AssertionError(f"the layer's parameters are not named like MoELayer's: {exc}") from None
        x = torch.randn(64, d_in, generator=g)
        for cf in (None, 0.5, 1.0):
            with torch.no_grad():
                want_y, want_balance = reference(x, capacity_factor=cf)
                got = mine(x) if cf is None else mine(x, capacity_factor=cf)
            if not (isinstance(got, tuple) and len(got) == 2):
                raise AssertionError(f"forward must return (output, balance_loss), got {type(got).__name__}")
            got_y, got_balance = got
            where = f"(E={num_experts}, k={k}, capacity_factor={cf})"
            if got_y.shape != want_y.shape or not torch.allclose(got_y, want_y, atol=atol):
                raise AssertionError(f"outputs differ from labsupport.MoELayer {where}")
            if not torch.allclose(
                torch.as_tensor(got_balance, dtype=want_balance.dtype), want_balance, atol=atol
            ):
                raise AssertionError(
                    f"balance loss {float(got_balance):.6g} differs from {float(want_balance):.6g} {where}"
                )
    print("✓ MoELayer: same outputs and balance loss as labsupport.MoELayer, with and without capacity")
