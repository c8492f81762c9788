"""Training a sweep of small MLPs of different widths at once (Chapter 2's scaling sweeps).

A width sweep trains the same kind of network at several sizes. Looping over the models in
Python repeats every small matmul once per model; on a CPU (or a GPU) the per-call overhead
dominates at these sizes. :class:`MLPSweep` instead stores the ``M`` models' weights stacked
along a leading model axis, padded to the widest model, and runs all of them with one batched
matmul (``torch.baddbmm``) per layer. A mask zeroes the padded hidden units, so:

* each model computes exactly what its own unpadded MLP would compute;
* each model is initialised with its *own* fan-in (PyTorch's ``nn.Linear`` default,
  ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``);
* the per-model losses are summed, so each model's gradient is the gradient of its own loss;
* Adam works element by element, so models stay independent during training; the padded
  weights get zero gradients and stay exactly zero.

Padding a width-8 model to width 256 wastes compute, so by default models of similar width are
put in a few such stacks (:func:`plan_groups`), each run with its own batched matmuls.

:func:`train_sweep` trains a sweep with a batched Adam(W) that also allows a different learning
rate and a different number of steps per model (a model past its last step is frozen), which is
what a fixed-compute (IsoFLOP) experiment needs. :meth:`MLPSweep.member` returns any one model
as an ordinary ``nn.Sequential``: the tests use it as the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from labsupport.data import Split
from labsupport.validate import positive_int

TASKS: tuple[str, ...] = ("regression", "classification")
SCHEDULES: tuple[str, ...] = ("constant", "cosine")
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
}
_MODULES: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}

#: A source of fresh training data: ``sample(batch_size, generator) -> (x, y)``.
BatchSampler = Callable[[int, "torch.Generator | None"], tuple[torch.Tensor, torch.Tensor]]


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


#: Grouping heuristic: one extra group costs about as much per step as this many more padded
#: parameters per model (measured on a laptop CPU, 1 thread, batch ~128: a group's ~40 small
#: kernel launches take about as long as the matmuls of a 20k-parameter MLP).
GROUP_OVERHEAD_PARAMS = 20_000


def _mlp_parameters(width: int, in_features: int, out_features: int, depth: int) -> int:
    return (
        in_features * width
        + width
        + (depth - 1) * (width * width + width)
        + width * out_features
        + out_features
    )


def plan_groups(
    widths: Sequence[int],
    in_features: int,
    out_features: int,
    depth: int,
    *,
    overhead: int = GROUP_OVERHEAD_PARAMS,
) -> list[list[int]]:
    """Split model indices into groups of similar width, each run as one padded stack.

    Padding every model to the widest wastes compute when widths differ a lot; one stack per
    model wastes the per-call overhead batching is meant to save. The plan minimises
    ``sum over groups of (overhead + models_in_group * parameters(widest_in_group))`` over
    contiguous runs of the sorted widths (dynamic programming).
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    cost = [_mlp_parameters(widths[i], in_features, out_features, depth) for i in order]
    best = [0.0] + [math.inf] * len(order)  # best[j]: cheapest plan of the j narrowest models
    cut = [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        for i in range(j):
            total = best[i] + overhead + (j - i) * cost[j - 1]
            if total < best[j]:
                best[j], cut[j] = total, i
    groups, j = [], len(order)
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


class PaddedMLPStack(nn.Module):
    """Several MLPs stored stacked along a leading model axis, padded to the widest of them.

    ``forward(x)`` maps shared inputs ``(n, d)`` to ``(M, n, out)`` with one ``baddbmm`` per layer;
    a mask zeroes the padded hidden units. Each model gets its own fan-in initialisation.
    """

    def __init__(
        self,
        widths: Sequence[int],
        in_features: int,
        out_features: int,
        *,
        depth: int,
        activation: str,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.in_features, self.out_features, self.depth, self.activation = (
            in_features,
            out_features,
            depth,
            activation,
        )
        num_models, widest = len(widths), max(widths)
        width = torch.tensor(self.widths)
        # 1 for a model's real hidden units, 0 for its padding: shape (M, 1, H).
        self.register_buffer("mask", (torch.arange(widest) < width[:, None]).float()[:, None, :])
        sizes = [in_features] + [widest] * depth + [out_features]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for layer in range(depth + 1):
            fan_in = torch.full((num_models,), float(in_features)) if layer == 0 else width.float()
            bound = fan_in.rsqrt()[:, None, None]  # each model's own 1/sqrt(fan_in)
            w = (torch.rand(num_models, sizes[layer], sizes[layer + 1], generator=generator) * 2 - 1) * bound
            b = (torch.rand(num_models, 1, sizes[layer + 1], generator=generator) * 2 - 1) * bound
            rows = self.mask.transpose(1, 2) if layer > 0 else torch.ones(num_models, in_features, 1)
            cols = self.mask if layer < depth else torch.ones(num_models, 1, out_features)
            self.weights.append(nn.Parameter(w * rows * cols))  # padding starts at exactly zero
            self.biases.append(nn.Parameter(b * cols))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d) -> (M, n, out)``."""
        act = ACTIVATIONS[self.activation]
        h = x.expand(len(self.widths), *x.shape)  # (M, n, d), a view: no copy
        for layer in range(self.depth):
            h = act(torch.baddbmm(self.biases[layer], h, self.weights[layer])) * self.mask  # (M, n, H)
        return torch.baddbmm(self.biases[-1], h, self.weights[-1])  # (M, n, out)


class MLPSweep(nn.Module):
    """``len(widths)`` MLPs (``depth`` hidden layers of width ``widths[m]``) run as one module.

    Args:
        widths: hidden width of each model; they may differ and repeat.
        in_features: input size ``d``, the same for every model.
        out_features: output size (1 for scalar regression, the class count for classification).
        depth: hidden layers per model.
        activation: ``"relu"``, ``"tanh"`` or ``"gelu"``.
        generator: seeds the initialisation (CPU generator).
        grouping: ``"auto"`` runs models of similar width together in a few padded stacks
            (see :func:`plan_groups`); ``"single"`` pads every model to the widest, one stack.

    ``forward(x)`` takes inputs of shape ``(n, d)``, shared by all models, and returns
    ``(M, n, out_features)`` in the order of ``widths``.
    """

    def __init__(
        self,
        widths: Sequence[int],
        in_features: int,
        out_features: int,
        *,
        depth: int = 1,
        activation: str = "relu",
        generator: torch.Generator | None = None,
        grouping: str = "auto",
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        if not widths:
            raise ValueError("widths must list at least one hidden width, got an empty sequence")
        for w in widths:
            positive_int("every width", w)
        self.in_features = positive_int("in_features", in_features)
        self.out_features = positive_int("out_features", out_features)
        self.depth = positive_int("depth", depth)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if grouping not in ("auto", "single"):
            raise ValueError(f"grouping must be 'auto' or 'single', got {grouping!r}")
        self.widths = widths
        self.activation = activation
        if grouping == "single":
            self.groups = [list(range(len(widths)))]
        else:
            self.groups = plan_groups(widths, in_features, out_features, depth)
        self.stacks = nn.ModuleList(
            PaddedMLPStack(
                [widths[i] for i in group],
                in_features,
                out_features,
                depth=depth,
                activation=activation,
                generator=generator,
            )
            for group in self.groups
        )
        concatenated = [i for group in self.groups for i in group]
        # position of model m in the concatenated stack outputs
        self.register_buffer("position", torch.argsort(torch.tensor(concatenated)))

    @property
    def num_models(self) -> int:
        """How many models the sweep holds."""
        return len(self.widths)

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return self.position.device

    def parameter_counts(self) -> list[int]:
        """Each model's own number of parameters (padding not counted)."""
        return [_mlp_parameters(w, self.in_features, self.out_features, self.depth) for w in self.widths]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every model on the shared inputs ``x``: ``(n, d) -> (M, n, out)``."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expected inputs of shape (n, {self.in_features}), got {tuple(x.shape)}")
        if len(self.stacks) == 1:
            return self.stacks[0](x)[self.position]
        return torch.cat([stack(x) for stack in self.stacks])[self.position]

    def parameters_by_model(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each stacked parameter with the model index of each entry along its first axis."""
        out = []
        for group, stack in zip(self.groups, self.stacks, strict=True):
            index = torch.tensor(group, device=self.device)
            out += [(p, index) for p in stack.parameters()]
        return out

    @torch.no_grad()
    def member(self, index: int) -> nn.Sequential:
        """Model ``index`` as an ordinary ``nn.Sequential`` of ``nn.Linear`` layers (a copy)."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.num_models:
            raise ValueError(f"index must be an int in [0, {self.num_models}), got {index!r}")
        g = next(g for g, group in enumerate(self.groups) if index in group)
        stack, row = self.stacks[g], self.groups[g].index(index)
        w = self.widths[index]
        sizes = [self.in_features] + [w] * self.depth + [self.out_features]
        layers: list[nn.Module] = []
        for layer in range(self.depth + 1):
            linear = nn.Linear(sizes[layer], sizes[layer + 1])
            weight = stack.weights[layer][row, : sizes[layer], : sizes[layer + 1]]
            linear.weight.copy_(weight.T)
            linear.bias.copy_(stack.biases[layer][row, 0, : sizes[layer + 1]])
            layers.append(linear.to(weight.device))
            if layer < self.depth:
                layers.append(_MODULES[self.activation]())
        return nn.Sequential(*layers)


def per_model_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str = "regression") -> torch.Tensor:
    """Mean loss of each model, shape ``(M,)``, from outputs ``(M, n, k)`` and shared targets.

    ``regression``: mean squared error, targets ``(n, k)`` or ``(n,)`` when ``k == 1``.
    ``classification``: cross-entropy, integer targets ``(n,)``.
    """
    _check_task(task)
    if outputs.ndim != 3:
        raise ValueError(f"expected outputs of shape (M, n, k), got {tuple(outputs.shape)}")
    num_models, n, k = outputs.shape
    if task == "classification":
        if targets.shape != (n,) or targets.dtype != torch.long:
            raise ValueError(
                f"classification needs integer targets of shape ({n},), got {targets.dtype} {tuple(targets.shape)}"
            )
        losses = F.cross_entropy(
            outputs.reshape(num_models * n, k), targets.repeat(num_models), reduction="none"
        )
        return losses.view(num_models, n).mean(dim=1)
    if targets.ndim == 1 and k == 1:
        targets = targets[:, None]
    if targets.shape != (n, k):
        raise ValueError(f"regression needs targets of shape ({n}, {k}), got {tuple(targets.shape)}")
    return (outputs - targets).pow(2).mean(dim=(1, 2))


def per_model_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of correct class predictions of each model, shape ``(M,)``."""
    if outputs.ndim != 3 or targets.shape != outputs.shape[1:2]:
        raise ValueError(
            f"expected outputs (M, n, k) and targets (n,), got {tuple(outputs.shape)} and {tuple(targets.shape)}"
        )
    return (outputs.argmax(dim=2) == targets).float().mean(dim=1)


class BatchedAdam:
    """Adam with decoupled weight decay (as ``torch.optim.AdamW``) and a learning rate per model.

    Takes ``(parameter, model_index)`` pairs (as :meth:`MLPSweep.parameters_by_model` gives):
    entry ``j`` along a parameter's first axis belongs to model ``model_index[j]``. ``step(lr)``
    takes one learning rate per model; a zero freezes that model for the step.
    """

    def __init__(
        self,
        params: Sequence[tuple[torch.Tensor, torch.Tensor]],
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = [p for p, _ in params]
        self.index = [index for _, index in params]
        if not self.params:
            raise ValueError("BatchedAdam needs at least one (parameter, model_index) pair")
        for p, index in zip(self.params, self.index, strict=True):
            if index.shape != p.shape[:1]:
                raise ValueError(
                    f"model_index needs one entry per row of its parameter, got {tuple(index.shape)} for {tuple(p.shape)}"
                )
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or eps <= 0 or weight_decay < 0:
            raise ValueError(
                f"need 0 <= betas < 1, eps > 0, weight_decay >= 0; got {betas}, {eps}, {weight_decay}"
            )
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        """Drop the gradients (set them to ``None``)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: torch.Tensor) -> None:
        """One Adam step with learning rate ``lr[m]`` for model ``m``."""
        beta1, beta2 = self.betas
        self.t += 1
        bias1, bias2 = 1 - beta1**self.t, 1 - beta2**self.t
        for p, index, m, v in zip(self.params, self.index, self.exp_avg, self.exp_avg_sq, strict=True):
            if p.grad is None:
                continue
            rate = lr[index].view(-1, *([1] * (p.ndim - 1)))
            m.lerp_(p.grad, 1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            if self.weight_decay:
                p.mul_(1 - rate * self.weight_decay)
            p.addcdiv_(m * (rate / bias1), v.sqrt().div_(math.sqrt(bias2)).add_(self.eps), value=-1.0)


def lr_factors(
    step: int, steps: torch.Tensor, *, schedule: str, warmup_steps: int, min_lr_fraction: float
) -> torch.Tensor:
    """Learning-rate multiplier of each model at ``step`` (1-based) given its own ``steps``.

    Linear warm-up over ``warmup_steps``, then constant or a cosine decay to
    ``min_lr_fraction`` at the model's last step; zero after it (the model is frozen).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    progress = ((step - 1) / steps.clamp(min=1)).clamp(max=1.0)
    if schedule == "cosine":
        factor = min_lr_fraction + (1 - min_lr_fraction) * 0.5 * (1 + torch.cos(math.pi * progress))
    else:
        factor = torch.ones_like(progress)
    if warmup_steps > 0:
        factor = factor * min(1.0, step / warmup_steps)
    return torch.where(steps >= step, factor, torch.zeros_like(factor))


@dataclass
class SweepHistory:
    """What :func:`train_sweep` saw: per-step, per-model training losses and evaluations.

    ``train_loss`` has shape ``(steps, M)``; ``eval_loss`` and ``eval_accuracy`` have shape
    ``(evaluations, M)`` (accuracy is NaN for regression). A model's training loss is NaN after
    its own last step (it is frozen, and not computed when its whole stack is).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    model_steps: list[int] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    eval_accuracy: torch.Tensor = field(default_factory=lambda: torch.empty(0))

    @property
    def final(self) -> dict[str, list[float]]:
        """Per model: training loss at its own last step and, if any, the last evaluation."""
        out: dict[str, list[float]] = {}
        if len(self.steps):
            out["train_loss"] = [self.train_loss[s - 1, m].item() for m, s in enumerate(self.model_steps)]
        if len(self.eval_steps):
            out["eval_loss"] = self.eval_loss[-1].tolist()
            out["eval_accuracy"] = self.eval_accuracy[-1].tolist()
        return out


def _check_data(data: Split, what: str, model: MLPSweep) -> None:
    if not isinstance(data, Split):
        raise TypeError(f"{what} must be a labsupport Split or a sampler function, got {type(data).__name__}")
    if (
        data.x.ndim != 2
        or data.x.shape[1] != model.in_features
        or len(data.x) != len(data.y)
        or not len(data.y)
    ):
        raise ValueError(
            f"{what} needs inputs (n, {model.in_features}) and n >= 1 targets, got"
            f" {tuple(data.x.shape)} and {tuple(data.y.shape)}"
        )


@torch.no_grad()
def evaluate_sweep(
    model: MLPSweep, data: Split, *, task: str = "regression", batch_size: int = 4096
) -> dict[str, torch.Tensor]:
    """Per-model mean loss (and accuracy for classification) on ``data``: tensors of shape ``(M,)``."""
    _check_task(task)
    _check_data(data, "data", model)
    device = model.device
    total_loss = torch.zeros(model.num_models, device=device)
    correct = torch.zeros(model.num_models, device=device)
    for start in range(0, len(data), batch_size):
        x = data.x[start : start + batch_size].to(device)
        y = data.y[start : start + batch_size].to(device)
        out = model(x)
        total_loss += per_model_loss(out, y, task) * len(y)
        if task == "classification":
            correct += per_model_accuracy(out, y) * len(y)
    result = {"loss": (total_loss / len(data)).cpu()}
    result["accuracy"] = (
        (correct / len(data)).cpu() if task == "classification" else torch.full_like(result["loss"], math.nan)
    )
    return result


def _per_model(
    name: str, value: float | Sequence[float], num_models: int, dtype: torch.dtype
) -> torch.Tensor:
    values = torch.tensor(
        [value] * num_models if isinstance(value, int | float) else list(value), dtype=dtype
    )
    if values.shape != (num_models,):
        raise ValueError(f"{name} must be one number or one per model ({num_models}), got {value!r}")
    return values


def train_sweep(
    model: MLPSweep,
    train: Split | BatchSampler,
    *,
    steps: int | Sequence[int],
    batch_size: int,
    lr: float | Sequence[float] = 1e-3,
    task: str = "regression",
    schedule: str = "constant",
    warmup_steps: int = 0,
    min_lr_fraction: float = 0.1,
    weight_decay: float = 0.0,
    eval_data: Split | None = None,
    eval_every: int = 0,
    generator: torch.Generator | None = None,
    progress: bool = True,
    desc: str = "sweep",
) -> SweepHistory:
    """Train every model of ``model`` on the same minibatches, all at once; return a :class:`SweepHistory`.

    Args:
        model: the sweep to train (in place).
        train: a fixed :class:`~labsupport.Split` (minibatches drawn by reshuffling each pass;
            the whole set when ``batch_size >= n``), or a function ``sample(batch_size, generator)``
            returning fresh ``(x, y)`` every step.
        steps: one number, or one per model; model ``m`` is frozen after ``steps[m]`` steps.
        batch_size: examples per step, the same for all models.
        lr: peak learning rate, one number or one per model.
        task: ``"regression"`` (mean squared error) or ``"classification"`` (cross-entropy).
        schedule: ``"constant"`` or ``"cosine"`` (to ``min_lr_fraction`` of the peak at each
            model's own last step), after ``warmup_steps`` of linear warm-up.
        weight_decay: decoupled (AdamW) weight decay.
        eval_data: evaluated every ``eval_every`` steps and at the end when ``eval_every > 0``.
        generator: seeds minibatch order or the sampler, for repeatable runs.
    """
    if not isinstance(model, MLPSweep):
        raise TypeError(f"model must be an MLPSweep, got {type(model).__name__}")
    _check_task(task)
    if not callable(train):
        _check_data(train, "train", model)
    if eval_data is not None:
        _check_data(eval_data, "eval_data", model)
    batch_size = positive_int("batch_size", batch_size)
    if warmup_steps < 0 or eval_every < 0 or not 0 <= min_lr_fraction <= 1:
        raise ValueError(
            "need warmup_steps >= 0, eval_every >= 0 and 0 <= min_lr_fraction <= 1, got"
            f" {warmup_steps}, {eval_every}, {min_lr_fraction}"
        )
    num_models, device = model.num_models, model.device
    model_steps = _per_model("steps", steps, num_models, torch.long)
    if (model_steps < 1).any():
        raise ValueError(f"every model needs steps >= 1, got {steps!r}")
    peak_lr = _per_model("lr", lr, num_models, torch.float32)
    if (peak_lr < 0).any():
        raise ValueError(f"learning rates must be >= 0, got {lr!r}")
    total_steps = int(model_steps.max())
    optimizer = BatchedAdam(model.parameters_by_model(), weight_decay=weight_decay)

    if callable(train):

        def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
            return train(batch_size, generator)

    else:
        x_all, y_all = train.x.to(device), train.y.to(device)
        n = len(y_all)
        state = {"order": torch.randperm(n, generator=generator), "cursor": 0}

        def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
            if batch_size >= n:
                return x_all, y_all
            if state["cursor"] + batch_size > n:
                state["order"], state["cursor"] = torch.randperm(n, generator=generator), 0
            idx = state["order"][state["cursor"] : state["cursor"] + batch_size].to(device)
            state["cursor"] += batch_size
            return x_all[idx], y_all[idx]

    history = SweepHistory(model_steps=model_steps.tolist())
    # a stack whose models have all passed their last step is skipped, not computed for nothing
    stack_steps = [int(model_steps[group].max()) for group in model.groups]
    group_index = [torch.tensor(group, device=device) for group in model.groups]
    losses, eval_losses, eval_accuracies = [], [], []
    model.train()
    for step in tqdm(range(1, total_steps + 1), desc=desc, disable=not progress, leave=False):
        x, y = next_batch()
        x, y = x.to(device), y.to(device)
        loss = torch.full((num_models,), math.nan, device=device)
        total = torch.zeros((), device=device)
        for stack, index, last in zip(model.stacks, group_index, stack_steps, strict=True):
            if step <= last:
                stack_loss = per_model_loss(stack(x), y, task)  # (models in this stack,)
                total = total + stack_loss.sum()  # the sum: each model gets the gradient of its own loss
                loss[index] = stack_loss.detach()
        optimizer.zero_grad()
        total.backward()
        factors = lr_factors(
            step, model_steps, schedule=schedule, warmup_steps=warmup_steps, min_lr_fraction=min_lr_fraction
        )
        optimizer.step((peak_lr * factors).to(device))
        history.steps.append(step)
        losses.append(torch.where(model_steps.to(device) >= step, loss, math.nan))
        if eval_data is not None and eval_every and (step % eval_every == 0 or step == total_steps):
            metrics = evaluate_sweep(model, eval_data, task=task)
            history.eval_steps.append(step)
            eval_losses.append(metrics["loss"])
            eval_accuracies.append(metrics["accuracy"])
    history.train_loss = torch.stack(losses).cpu()
    if eval_losses:
        history.eval_loss = torch.stack(eval_losses)
        history.eval_accuracy = torch.stack(eval_accuracies)
    return history
