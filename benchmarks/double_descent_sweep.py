"""Time Lab 3's double-descent experiment three ways, and compare with the machine's matmul peak.

The experiment is the MNIST-1D authors' (their notebook ``6. deep_double_descent.ipynb``):
MLPs 40 -> w -> w -> 10 for the 19 widths ``np.unique(np.geomspace(2, 300, 20).astype(int))``,
4,000 training examples, SGD (lr 0.01, momentum 0.9), batch 100. The authors train 500 epochs;
per-epoch cost is steady, so ``--epochs`` keeps a run short and the total is extrapolated.

1. **per-model loop, DataLoader**: one model after another, minibatches from a ``DataLoader``
   over a ``TensorDataset``, ``torch.optim.SGD``: the style of the authors' notebook;
2. **per-model loop, lean**: the same with tensor indexing instead of a DataLoader;
3. **sweep**: every width at once, ``labsupport.MLPSweep`` + ``train_sweep(optimizer="sgd")``.

Useful work is 6 x parameters x examples FLOPs (forward + backward); the benchmark prints each
way's time, the ratios, the achieved GFLOP/s and its fraction of two rates measured in the same
run, on the same number of threads: a 1024 x 1024 fp32 matmul (the machine's practical peak) and
the experiment's own largest matmul, a batch of 100 through the 300 x 300 layer (the most any
of its matmuls can reach; the smaller ones reach less).

    python benchmarks/double_descent_sweep.py --epochs 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labsupport import MLPSweep, Split, configure_threads, train_sweep
from labsupport.complexity import mlp_parameters
from labsupport.timing import matmul_flops_per_second, time_it

WIDTHS = np.unique(np.geomspace(2, 300, 20).astype(int)).tolist()
N_TRAIN, D_IN, CLASSES, BATCH, LR, MOMENTUM = 4_000, 40, 10, 100, 0.01, 0.9


def _mlp(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(D_IN, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, CLASSES)
    )


def loop_dataloader(data: Split, epochs: int) -> None:
    """One model at a time, minibatches from a DataLoader (the notebook's style)."""
    for width in WIDTHS:
        model = _mlp(width)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        loader = DataLoader(TensorDataset(data.x, data.y), batch_size=BATCH, shuffle=True)
        for _ in range(epochs):
            for x, y in loader:
                loss = nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()


def loop_lean(data: Split, epochs: int) -> None:
    """One model at a time, minibatches by tensor indexing."""
    generator = torch.Generator().manual_seed(0)
    for width in WIDTHS:
        model = _mlp(width)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        for _ in range(epochs):
            for idx in torch.randperm(N_TRAIN, generator=generator).split(BATCH):
                loss = nn.functional.cross_entropy(model(data.x[idx]), data.y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()


def sweep(data: Split, epochs: int) -> None:
    """Every width at once."""
    model = MLPSweep(WIDTHS, D_IN, CLASSES, depth=2, generator=torch.Generator().manual_seed(0))
    train_sweep(
        model,
        data,
        steps=epochs * N_TRAIN // BATCH,
        batch_size=BATCH,
        lr=LR,
        optimizer="sgd",
        momentum=MOMENTUM,
        task="classification",
        generator=torch.Generator().manual_seed(0),
        progress=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs timed (the experiment has 500)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    threads = configure_threads()
    g = torch.Generator().manual_seed(0)
    data = Split(torch.randn(N_TRAIN, D_IN, generator=g), torch.randint(0, CLASSES, (N_TRAIN,), generator=g))
    parameters = sum(mlp_parameters([D_IN, w, w, CLASSES]) for w in WIDTHS)
    flops = 6 * parameters * N_TRAIN * args.epochs
    print(
        f"{len(WIDTHS)} widths {WIDTHS[0]}..{WIDTHS[-1]}, {parameters:,} parameters in all, {threads} thread(s)"
    )
    peak = matmul_flops_per_second(1024, repeats=10)
    print(f"1024x1024 fp32 matmul: {peak / 1e9:.1f} GFLOP/s")
    a, b = torch.randn(BATCH, WIDTHS[-1]), torch.randn(WIDTHS[-1], WIDTHS[-1])
    layer = 2 * BATCH * WIDTHS[-1] ** 2 / time_it(lambda: a @ b, repeats=200, warmup=20).median
    print(f"its largest layer ({BATCH}x{WIDTHS[-1]} @ {WIDTHS[-1]}x{WIDTHS[-1]}): {layer / 1e9:.1f} GFLOP/s")
    times = {}
    for name, run in [
        ("per-model loop, DataLoader", loop_dataloader),
        ("per-model loop, lean", loop_lean),
        ("sweep", sweep),
    ]:
        start = time.perf_counter()
        run(data, args.epochs)
        times[name] = time.perf_counter() - start
        rate = flops / times[name]
        print(
            f"{name:<27} {times[name]:7.2f} s for {args.epochs} epochs ({times[name] * 500 / args.epochs:6.0f} s for 500)"
            f"  {rate / 1e9:6.1f} GFLOP/s = {rate / peak:4.0%} of the 1024 matmul, {rate / layer:4.0%} of its largest layer's"
        )
    peak_after = matmul_flops_per_second(1024, repeats=10)
    print(f"1024x1024 fp32 matmul after the runs: {peak_after / 1e9:.1f} GFLOP/s")
    base = times["sweep"]
    for name in ("per-model loop, DataLoader", "per-model loop, lean"):
        print(f"sweep speed-up over the {name}: {times[name] / base:.1f}x")


if __name__ == "__main__":
    main()
