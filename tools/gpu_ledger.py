"""The pieces of a lab's ledger: its own models, and counted steps of training and inference.

A ledger (``tools/gpu_labs.py``) lists a lab's work as :class:`Workload` rows: one counted step
(:class:`tools.gpu_count.Cost`) and how many times the lab's settings repeat it. The models
come from the lab itself: :func:`definitions` runs the imports, classes and functions of the
lab's code cells (nothing else), so the estimate follows the notebook when it changes. Steps
run on the ``meta`` device (shapes only, no memory, no time) wherever the code allows, and on
the CPU where it reads values (``.item()``, routing, sampling).
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from labsupport import MLPSweep
from labsupport.sweep.grad import sweep_loss_and_grad
from labsupport.sweep.optim import BatchedAdam, BatchedSGD
from tools.gpu_count import Cost, measure, tensor_bytes

ROOT = Path(__file__).resolve().parent.parent
META = torch.device("meta")
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Workload:
    """One kind of step in a lab and how often the settings run it.

    ``resident``: bytes kept on the device while it runs (weights, optimizer state, data);
    ``fp64``: its FLOPs are double precision; ``host``: it runs on the CPU wherever the lab runs
    (Colab's CPU too), not on the GPU; ``seconds``: host time per repetition measured here, for
    work torch does not see (NumPy, SciPy).
    """

    what: str
    repeat: float
    cost: Cost
    resident: float = 0.0
    fp64: bool = False
    host: bool = False
    seconds: float = 0.0

    @property
    def total(self) -> Cost:
        """The cost of every repetition together."""
        return self.cost * self.repeat

    @property
    def peak_bytes(self) -> float:
        """Resident bytes plus the peak of the tensors one step creates."""
        return self.resident + self.cost.peak


def definitions(stem: str) -> dict:
    """The imports, classes and functions of ``labs/<stem>.ipynb``, run in a fresh namespace."""
    path = ROOT / "labs" / f"{stem}.ipynb"
    if not path.is_file():
        raise ValueError(f"no lab {stem!r}: expected the notebook {path}")
    namespace: dict = {}
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:  # the set-up cell's %pip line
            continue
        kept = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
        exec(compile(ast.Module(kept, []), str(path), "exec"), namespace)
    return namespace


def widen(cost: Cost, k: float) -> Cost:
    """``cost`` of a batch ``k`` times as wide: the same operations on ``k`` times the data."""
    return Cost(cost.flops * k, cost.ops, cost.traffic * k, cost.peak * k)


def work(
    what: str, repeat: float, step: Callable[[], object], *, keep: Sequence = (), **flags: bool
) -> Workload:
    """Count ``step`` once (after one run that creates lazy state, such as Adam's moments);
    ``keep``: the models, optimizers and tensors that stay on the device meanwhile."""
    step()
    cost = measure(step)
    return Workload(what, repeat, cost, float(tensor_bytes(*keep)), **flags)


def host_timed(what: str, repeat: float, run: Callable[[int], object], sample: int = 4) -> Workload:
    """Host work that torch does not see: ``run(sample)``'s CPU time here, per repetition (the
    repetitions differ, so a few are averaged; Colab's CPU is taken to be as fast as this one)."""
    start = time.process_time()
    run(sample)
    return Workload(what, repeat, Cost(), host=True, seconds=(time.process_time() - start) / sample)


def train_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable = F.cross_entropy,
) -> Callable[[], None]:
    """One step of ``labsupport.fit``'s loop: a minibatch of ``(x, y)``, forward, loss, backward,
    the optimizer and ``loss.item()`` (skipped on the meta device, which holds no values)."""

    def step() -> None:
        idx = torch.randint(len(x), (batch,), device=x.device)
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if x.device != META:
            loss.item()

    return step


def fit_work(
    what: str,
    steps: float,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int,
    optimizer: Callable[..., torch.optim.Optimizer],
    **options: object,
) -> Workload:
    """``steps`` training steps of ``model`` (on ``x``'s device) with ``optimizer(params)``."""
    opt = optimizer([p for p in model.parameters() if p.requires_grad])
    step = train_step(model, x, y, batch, opt, **options)
    return work(what, steps, step, keep=(model, opt, x, y))


def forward_work(
    what: str, repeat: float, model: nn.Module, *inputs: torch.Tensor, batch: int = 0
) -> Workload:
    """``repeat`` forward passes without gradients; with ``batch``, ``inputs`` are cut into
    ``batch``-sized chunks, as ``labsupport.evaluate`` does."""
    n = len(inputs[0])
    chunk = min(n, batch) if batch else n

    def step() -> None:
        with torch.no_grad():
            model(*(t[:chunk] for t in inputs))

    w = work(what, repeat, step, keep=(model, *inputs))
    c, chunks = w.cost, n / chunk  # the chunks' peaks do not add up
    return Workload(
        what, repeat, Cost(c.flops * chunks, c.ops * chunks, c.traffic * chunks, c.peak), w.resident
    )


def evaluation(what: str, repeat: float, model: nn.Module, x: torch.Tensor) -> Workload:
    """``labsupport.evaluate`` over ``x`` (4,096 inputs per forward pass)."""
    return forward_work(what, repeat, model, x, batch=4096)


def sweep_work(
    what: str,
    widths: Sequence[int],
    d_in: int,
    d_out: int,
    steps: Sequence[int],
    batch: int,
    *,
    task: str = "regression",
    optimizer: str = "adam",
    depth: int = 1,
    activation: str = "relu",
) -> list[Workload]:
    """``labsupport.train_sweep`` of one :class:`MLPSweep`: each padded stack counted for its own
    steps (a stack whose models have all finished is skipped), the optimizer every step."""
    # on the CPU: the batched optimizers compare learning rates, which the meta device cannot
    model = MLPSweep(widths, d_in, d_out, depth=depth, activation=activation)
    x = torch.randn(batch, d_in)
    y = torch.randint(0, d_out, (batch,)) if task == "classification" else torch.randn(batch, d_out)
    lr = torch.full((len(widths),), 1e-3)
    kind = BatchedSGD if optimizer == "sgd" else BatchedAdam
    opt = kind(model.parameters_by_model(), weight_decay=0.0)
    stacks = len(model.groups)

    def loss_and_grad(active: list[bool]) -> Callable[[], None]:
        return lambda: sweep_loss_and_grad(model, x, y, task, active)

    idle = measure(loss_and_grad([False] * stacks))
    rows = [work(f"{what}: optimizer and bookkeeping", max(steps), lambda: opt.step(lr), keep=(model, opt))]
    rows[0] = Workload(rows[0].what, rows[0].repeat, rows[0].cost + idle, rows[0].resident)
    for g, group in enumerate(model.groups):
        active = [i == g for i in range(stacks)]
        cost = measure(loss_and_grad(active)) - idle
        widest = max(widths[i] for i in group)
        name = f"{what}: stack of {len(group)} (width <= {widest})"
        rows.append(Workload(name, max(steps[i] for i in group), cost, rows[0].resident))
    return rows


def sweep_evaluation(
    what: str, widths: Sequence[int], d_in: int, d_out: int, n: int, **options: object
) -> Workload:
    """``labsupport.evaluate_sweep``: every model of the sweep on ``n`` inputs."""
    with torch.device(META):
        model = MLPSweep(widths, d_in, d_out, **options)
        x = torch.randn(n, d_in)
    return forward_work(what, 1, model, x)
