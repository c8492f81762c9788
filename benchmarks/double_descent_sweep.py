"""Time Lab 3's double-descent experiment three ways, and compare with the machine's matmul rate.

The experiment is the MNIST-1D authors' (their notebook ``6. deep_double_descent.ipynb``):
MLPs 40 -> w -> w -> 10 for the 19 widths ``np.unique(np.geomspace(2, 300, 20).astype(int))``,
4,000 training examples, SGD (lr 0.01, momentum 0.9), batch 100. The authors train 500 epochs;
per-epoch cost is steady, so a run times a few whole epochs and the total is extrapolated.

1. **per-model loop, DataLoader**: one model after another, minibatches from a ``DataLoader``
   over a ``TensorDataset``, ``torch.optim.SGD``: the style of the authors' notebook;
2. **per-model loop, lean**: the same with tensor indexing instead of a DataLoader;
3. **sweep**: every width at once, ``labsupport.MLPSweep`` + ``train_sweep(optimizer="sgd")``,
   on one thread like the loops;
4. **sweep, 2 seeds, 2 workers**: what Lab 3's ``cpu`` profile runs, two initializations of
   every width with ``workers=2`` (each half of the stacks on its own core; reported per seed).

Useful work is 6 x parameters x examples FLOPs (forward + backward). Each run prints each way's
time per epoch, its achieved GFLOP/s and its fraction of a 1024 x 1024 fp32 matmul on one thread
(the machine's practical peak), measured just before and just after the run (the fraction is
taken of the higher of the two, so a slower machine mid-run does not flatter the sweep), and
the sweep's speed-up over each loop. ``--record`` writes the runs as a Markdown table
(``make bench`` records ``benchmarks/double_descent_sweep.md``).

    python benchmarks/double_descent_sweep.py --runs 3 --record benchmarks/double_descent_sweep.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labsupport import MLPSweep, Split, configure_threads, env_report, train_sweep
from labsupport.complexity import mlp_parameters
from labsupport.timing import matmul_flops_per_second

WIDTHS = np.unique(np.geomspace(2, 300, 20).astype(int)).tolist()
N_TRAIN, D_IN, CLASSES, BATCH, LR, MOMENTUM = 4_000, 40, 10, 100, 0.01, 0.9
STEPS_PER_EPOCH = N_TRAIN // BATCH
PARAMETERS = sum(mlp_parameters([D_IN, w, w, CLASSES]) for w in WIDTHS)
#: useful work of one epoch: 6 x parameters x examples (forward and backward)
FLOPS_PER_EPOCH = 6 * PARAMETERS * N_TRAIN


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


def sweep(data: Split, epochs: int, seeds: int = 1, workers: int = 1) -> None:
    """Every width at once (``seeds`` initializations of each), on ``workers`` threads."""
    model = MLPSweep(WIDTHS * seeds, D_IN, CLASSES, depth=2, generator=torch.Generator().manual_seed(0))
    train_sweep(
        model,
        data,
        steps=epochs * STEPS_PER_EPOCH,
        batch_size=BATCH,
        lr=LR,
        optimizer="sgd",
        momentum=MOMENTUM,
        task="classification",
        generator=torch.Generator().manual_seed(0),
        workers=workers,
        progress=False,
    )


def one_run(data: Split, loop_epochs: int, sweep_epochs: int) -> dict[str, float]:
    """Seconds per epoch of each way (per seed for the two-seed sweep), and the matmul rates."""
    result = {"matmul before": matmul_flops_per_second(1024, repeats=10)}
    ways = [
        ("per-model loop, DataLoader", lambda: loop_dataloader(data, loop_epochs), loop_epochs),
        ("per-model loop, lean", lambda: loop_lean(data, loop_epochs), loop_epochs),
        ("sweep", lambda: sweep(data, sweep_epochs), sweep_epochs),
        ("sweep, 2 seeds, 2 workers", lambda: sweep(data, sweep_epochs, 2, 2), 2 * sweep_epochs),
    ]
    for name, run, epochs in ways:
        start = time.perf_counter()
        run()
        result[name] = (time.perf_counter() - start) / epochs
    result["matmul after"] = matmul_flops_per_second(1024, repeats=10)
    return result


def report(runs: list[dict[str, float]]) -> list[str]:
    """The runs as Markdown rows: per way, seconds per epoch, GFLOP/s, fraction of the matmul."""

    lines = [
        "| run | way | s / epoch | 500 epochs | GFLOP/s | of the 1024² matmul | sweep's speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, run in enumerate(runs, start=1):
        peak = max(run["matmul before"], run["matmul after"])
        lines.append(
            f"| {k} | 1024² matmul, 1 thread (before / after) | | | "
            f"{run['matmul before'] / 1e9:.1f} / {run['matmul after'] / 1e9:.1f} | | |"
        )
        for name in (
            "per-model loop, DataLoader",
            "per-model loop, lean",
            "sweep",
            "sweep, 2 seeds, 2 workers",
        ):
            seconds = run[name]
            speedup = run[name] / run["sweep"] if name.startswith("per-model") else None
            # the two-worker row uses both cores: no fraction of a one-thread rate
            share = "(2 cores)" if "workers" in name else f"{FLOPS_PER_EPOCH / seconds / peak:.0%}"
            lines.append(
                f"| {k} | {name} | {seconds:.3f} | {seconds * 500:.0f} s | {FLOPS_PER_EPOCH / seconds / 1e9:.1f} | "
                f"{share} | {f'{speedup:.1f}×' if speedup else ''} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-epochs", type=int, default=2, help="epochs each loop is timed for")
    parser.add_argument("--sweep-epochs", type=int, default=10, help="epochs each sweep is timed for")
    parser.add_argument("--runs", type=int, default=1, help="repeats of the whole comparison")
    parser.add_argument("--record", type=Path, help="write the runs to this Markdown file")
    args = parser.parse_args()
    for name in ("loop_epochs", "sweep_epochs", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    threads = configure_threads()
    g = torch.Generator().manual_seed(0)
    data = Split(torch.randn(N_TRAIN, D_IN, generator=g), torch.randint(0, CLASSES, (N_TRAIN,), generator=g))
    print(f"{len(WIDTHS)} widths {WIDTHS[0]}..{WIDTHS[-1]}, {PARAMETERS:,} parameters, {threads} thread(s)")
    runs = []
    for k in range(args.runs):
        runs.append(one_run(data, args.loop_epochs, args.sweep_epochs))
        rows = report(runs)
        # the header once, then each run's five rows as it finishes
        print("\n".join(rows[: 2 if k == 0 else 0] + rows[2 + 5 * k :]), flush=True)
    ratios = [
        (run["per-model loop, DataLoader"] / run["sweep"], run["per-model loop, lean"] / run["sweep"])
        for run in runs
    ]
    fraction = [
        FLOPS_PER_EPOCH / run["sweep"] / max(run["matmul before"], run["matmul after"]) for run in runs
    ]
    summary = (
        f"median of {len(runs)} run(s): the sweep on one thread reaches {statistics.median(fraction):.0%} of the "
        f"1024² matmul rate, {statistics.median(r[0] for r in ratios):.1f}× the authors' loop and "
        f"{statistics.median(r[1] for r in ratios):.1f}× the lean loop"
    )
    print(summary)
    if args.record:
        header = [
            "# Lab 3's double-descent experiment: the sweep against per-model loops",
            "",
            f"Measured {date.today()} by `benchmarks/double_descent_sweep.py` "
            f"(`--runs {args.runs} --loop-epochs {args.loop_epochs} --sweep-epochs {args.sweep_epochs}`), "
            "seconds per epoch of the MNIST-1D authors' experiment (19 widths, 4,000 examples, batch 100); "
            "the two-seed row is per seed.",
            "",
            "```",
            env_report(),
            "```",
            "",
        ]
        args.record.write_text("\n".join(header + report(runs) + ["", summary + "."]) + "\n")
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
