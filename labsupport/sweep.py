"""A sweep of small MLPs of different widths run as one module (Chapter 2's scaling sweeps).

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

This module is the batched *model*; :mod:`labsupport.sweep_train` trains it
(:func:`~labsupport.sweep_train.train_sweep`, a batched Adam(W) that also allows a different
learning rate and a different number of steps per model, which is what a fixed-compute
(IsoFLOP) experiment needs). :meth:`MLPSweep.member` returns any one model as an ordinary
``nn.Sequential``: the tests use it as the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from labsupport._validate import int_in, one_of, positive_int
from labsupport.complexity import mlp_parameters

#: The hidden activations a sweep can use, by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}

#: Grouping heuristic: one extra group costs about as much per step as this many more padded
#: parameters per model (measured on a laptop CPU, 1 thread, batch ~128: a group's ~40 small
#: kernel launches take about as long as the matmuls of a 20k-parameter MLP).
GROUP_OVERHEAD_PARAMS = 20_000


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
        self.act = ACTIVATIONS[activation]()
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
        h = x.expand(len(self.widths), *x.shape)  # (M, n, d), a view: no copy
        for layer in range(self.depth):
            h = self.act(torch.baddbmm(self.biases[layer], h, self.weights[layer]))  # (M, n, H)
            if self.activation != "relu":
                # A padded unit's pre-activation is exactly 0. ReLU keeps it at 0 and passes
                # it no gradient (its derivative at 0 is 0), so the padding stays zero without
                # a mask; tanh'(0) and GELU'(0) are not 0, so those need one.
                h = h * self.mask
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
        self.activation = one_of("activation", activation, ACTIVATIONS)
        one_of("grouping", grouping, ("auto", "single"))
        self.widths = widths
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
        return [_parameters(w, self.in_features, self.out_features, self.depth) for w in self.widths]

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
        int_in("index", index, 0, self.num_models - 1)
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
                layers.append(ACTIVATIONS[self.activation]())
        return nn.Sequential(*layers)
