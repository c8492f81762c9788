"""A sweep of small MLPs of different widths run as one module (Chapter 2's scaling sweeps).

A width sweep trains the same kind of network at several sizes. Looping over the models in
Python repeats every small matmul once per model; on a CPU (or a GPU) the per-call overhead
dominates at these sizes. :class:`MLPSweep` instead stores the ``M`` models' weights stacked
along a leading model axis, padded to the widest model, and runs all of them with one batched
matmul (``torch.baddbmm``) per layer. The padded weights and biases start at exactly zero and
every activation here maps 0 to 0, so a padded unit's value and gradient are exactly zero, and:

* each model computes exactly what its own unpadded MLP would compute;
* each model is initialised with its *own* fan-in (PyTorch's ``nn.Linear`` default,
  ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``);
* the per-model losses are summed, so each model's gradient is the gradient of its own loss;
* Adam works element by element, so models stay independent during training; the padded
  weights get zero gradients and stay exactly zero.

Padding a width-8 model to width 256 wastes compute, so by default models of similar width are
put in a few such stacks (:func:`plan_groups`), each run with its own batched matmuls. All the
stacks' weights live in one flat parameter vector (``MLPSweep.flat``; each stack's tensors are
views of it, :class:`StackLayout`), so an optimizer updates every model with a few calls per
step, not a few per tensor.

This module is the batched *model*; :mod:`labsupport.sweep.grad` is its hand-written backward
pass (the fast path of training) and :mod:`labsupport.sweep.train` trains it
(:func:`~labsupport.sweep.train.train_sweep`, a batched Adam(W) that also allows a different
learning rate and a different number of steps per model, which is what a fixed-compute
(IsoFLOP) experiment needs). :meth:`MLPSweep.member` returns any one model as an ordinary
``nn.Sequential``: the tests use it as the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from labsupport._validate import int_in, one_of, positive_int
from labsupport.complexity import mlp_parameters

#: The hidden activations a sweep can use, by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}

#: Grouping heuristic: one extra group costs about as much per step as this many more padded
#: parameters per model (measured on a 2-core CPU, 1 thread, batch 100, with the hand-written
#: backward of :mod:`labsupport.sweep.grad`: a group's ~17 calls outside its matmuls take about
#: 70 µs, as long as the matmuls of a 7k-parameter MLP; ``benchmarks/double_descent_sweep.py``).
GROUP_OVERHEAD_PARAMS = 7_000


def _parameters(width: int, in_features: int, out_features: int, depth: int) -> int:
    return mlp_parameters([in_features] + [width] * depth + [out_features])


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
    cost = [_parameters(widths[i], in_features, out_features, depth) for i in order]
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


@dataclass(frozen=True)
class StackLayout:
    """One padded stack of a sweep: its models and where its tensors live in the flat vector.

    ``shapes`` and ``offsets`` list, layer by layer, the weight ``(M, fan_in, fan_out)`` and the
    bias ``(M, 1, fan_out)``; the output layer's weight alone is stored ``(M, fan_out, fan_in)``,
    as ``nn.Linear`` stores its weights: its matmuls have only ``out_features`` columns, and
    on a CPU they run about four times faster with that dimension first
    (``benchmarks/double_descent_sweep.py``). :meth:`tensors` cuts them out of any flat vector
    of the sweep's size (the parameters, their gradients, an optimizer's buffers) as views.
    """

    models: tuple[int, ...]
    widths: tuple[int, ...]
    shapes: tuple[tuple[int, int, int], ...]
    offsets: tuple[int, ...]

    @property
    def size(self) -> int:
        """How many numbers the stack holds (padding included)."""
        return sum(math.prod(s) for s in self.shapes)

    def tensors(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """``[W0, b0, W1, b1, ...]`` as views of ``flat``."""
        return [flat[o : o + math.prod(s)].view(s) for o, s in zip(self.offsets, self.shapes, strict=True)]


def _layout(models: list[int], widths: Sequence[int], sizes: list[int], offset: int) -> StackLayout:
    num, last = len(models), len(sizes) - 2
    shapes, offsets = [], []
    for layer in range(len(sizes) - 1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        weight = (num, fan_out, fan_in) if layer == last else (num, fan_in, fan_out)
        for shape in (weight, (num, 1, fan_out)):
            shapes.append(shape)
            offsets.append(offset)
            offset += math.prod(shape)
    return StackLayout(tuple(models), tuple(widths[i] for i in models), tuple(shapes), tuple(offsets))


def _init_stack(
    widths: Sequence[int], sizes: list[int], generator: torch.Generator | None
) -> list[torch.Tensor]:
    """Each model's own fan-in init (``nn.Linear``'s), padding exactly zero: ``[W0, b0, ...]``."""
    num_models, depth = len(widths), len(sizes) - 2
    width = torch.tensor(widths)
    mask = (torch.arange(sizes[1]) < width[:, None]).float()[:, None, :]  # (M, 1, H)
    out = []
    for layer in range(depth + 1):
        fan_in = torch.full((num_models,), float(sizes[0])) if layer == 0 else width.float()
        bound = fan_in.rsqrt()[:, None, None]  # each model's own 1/sqrt(fan_in)
        w = (torch.rand(num_models, sizes[layer], sizes[layer + 1], generator=generator) * 2 - 1) * bound
        b = (torch.rand(num_models, 1, sizes[layer + 1], generator=generator) * 2 - 1) * bound
        rows = mask.transpose(1, 2) if layer > 0 else torch.ones(num_models, sizes[0], 1)
        cols = mask if layer < depth else torch.ones(num_models, 1, sizes[-1])
        w = w * rows * cols
        # the output layer is stored (out, in), as nn.Linear stores it (see StackLayout)
        out += [w.transpose(1, 2).contiguous() if layer == depth else w, b * cols]
    return out


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
    ``(M, n, out_features)`` in the order of ``widths``. Every weight is in ``flat``, one
    parameter; ``layouts[g]`` says where stack ``g``'s tensors are.
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
        self.activation = one_of("activation", activation, ACTIVATIONS)
        one_of("grouping", grouping, ("auto", "single"))
        self.widths = widths
        if grouping == "single":
            self.groups = [list(range(len(widths)))]
        else:
            self.groups = plan_groups(widths, in_features, out_features, depth)
        self.act = ACTIVATIONS[activation]()
        layouts, values, owners, offset = [], [], [], 0
        for group in self.groups:
            sizes = [in_features] + [max(widths[i] for i in group)] * depth + [out_features]
            layout = _layout(group, widths, sizes, offset)
            offset += layout.size
            layouts.append(layout)
            for tensor in _init_stack(layout.widths, sizes, generator):
                values.append(tensor.flatten())
                owners.append(torch.tensor(group).repeat_interleave(tensor[0].numel()))
        self.layouts = layouts
        self.flat = nn.Parameter(torch.cat(values))
        # the model each number of ``flat`` belongs to (for per-model optimizers and statistics)
        self.register_buffer("element_model", torch.cat(owners), persistent=False)
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
        return self.flat.device

    def parameter_counts(self) -> list[int]:
        """Each model's own number of parameters (padding not counted)."""
        return [_parameters(w, self.in_features, self.out_features, self.depth) for w in self.widths]

    def stack_tensors(self, g: int, flat: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Stack ``g``'s ``[W0, b0, W1, b1, ...]`` as views of ``flat`` (default: the parameters)."""
        return self.layouts[g].tensors(self.flat if flat is None else flat)

    def stack_layers(self, g: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Stack ``g``'s layers as ``(weight, bias)`` views, every weight ``(M, fan_in, fan_out)``.

        The one place that knows the output layer is stored ``(out, in)`` (:class:`StackLayout`):
        its weight comes back as a transposed view.
        """
        tensors = self.stack_tensors(g)
        weights = [*tensors[0:-2:2], tensors[-2].transpose(1, 2)]
        return list(zip(weights, tensors[1::2], strict=True))

    def _stack_forward(self, g: int, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(len(self.layouts[g].models), *x.shape)  # (M, n, d), a view: no copy
        *hidden, (weight, bias) = self.stack_layers(g)
        for w, b in hidden:
            h = self.act(torch.baddbmm(b, h, w))  # (M, n, H)
        return torch.baddbmm(bias, h, weight)  # (M, n, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every model on the shared inputs ``x``: ``(n, d) -> (M, n, out)``."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expected inputs of shape (n, {self.in_features}), got {tuple(x.shape)}")
        if len(self.layouts) == 1:
            return self._stack_forward(0, x)[self.position]
        return torch.cat([self._stack_forward(g, x) for g in range(len(self.layouts))])[self.position]

    def parameters_by_model(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(flat, element_model)]``: the one parameter and the model of each of its entries."""
        return [(self.flat, self.element_model)]

    def _per_layer(self, name: str, values: Sequence[Sequence[float]]) -> torch.Tensor:
        table = torch.as_tensor(values, dtype=self.flat.dtype)
        if table.shape != (self.num_models, self.depth + 1):
            raise ValueError(
                f"{name} needs one row per model and one column per weight matrix, shape "
                f"({self.num_models}, {self.depth + 1}), got {tuple(table.shape)}"
            )
        if not torch.isfinite(table).all() or (table < 0).any():
            raise ValueError(f"{name} must be finite and >= 0, got {values!r}")
        return table.to(self.device)

    def weight_multipliers(self, values: Sequence[Sequence[float]]) -> torch.Tensor:
        """A tensor the shape of ``flat``: ``values[m][l]`` on model ``m``'s layer-``l`` weights, 1 elsewhere.

        ``values`` has one row per model and one column per weight matrix (``depth + 1``);
        biases get 1. :func:`~labsupport.sweep.train.train_sweep` uses it for per-layer
        learning rates (``layer_lr``, as μP sets them; Chapter 2).
        """
        table = self._per_layer("values", values)
        out = torch.ones_like(self.flat.detach())
        for g, layout in enumerate(self.layouts):
            rows = table[list(layout.models)]
            tensors = self.stack_tensors(g, out)
            for layer in range(self.depth + 1):
                tensors[2 * layer].copy_(rows[:, layer, None, None].expand_as(tensors[2 * layer]))
        return out

    @torch.no_grad()
    def scale_weights_(self, factors: Sequence[Sequence[float]]) -> MLPSweep:
        """Multiply model ``m``'s layer-``l`` weight matrix by ``factors[m][l]`` (in place; biases kept).

        A per-layer initialisation scale, as μP sets the output layer's (Chapter 2); returns
        the sweep. ``factors`` has one row per model and one column per weight matrix.
        """
        self.flat.mul_(self.weight_multipliers(factors))
        return self

    @torch.no_grad()
    def member(self, index: int) -> nn.Sequential:
        """Model ``index`` as an ordinary ``nn.Sequential`` of ``nn.Linear`` layers (a copy)."""
        int_in("index", index, 0, self.num_models - 1)
        g = next(g for g, group in enumerate(self.groups) if index in group)
        row = self.groups[g].index(index)
        w = self.widths[index]
        sizes = [self.in_features] + [w] * self.depth + [self.out_features]
        layers: list[nn.Module] = []
        for layer, (weight, bias) in enumerate(self.stack_layers(g)):
            linear = nn.Linear(sizes[layer], sizes[layer + 1])
            linear.weight.copy_(weight[row, : sizes[layer], : sizes[layer + 1]].T)
            linear.bias.copy_(bias[row, 0, : sizes[layer + 1]])
            layers.append(linear.to(weight.device))
            if layer < self.depth:
                layers.append(ACTIVATIONS[self.activation]())
        return nn.Sequential(*layers)
