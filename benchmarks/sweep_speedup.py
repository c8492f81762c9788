"""How much faster is a batched width sweep than a Python loop over the same models? (Chapter 2)

Both train the same MLPs (the same initial weights, widths and seeds) on the same minibatches
for the same number of steps with AdamW:

* sequential: one ``nn.Sequential`` and one ``torch.optim.AdamW`` per model, looped over in Python;
* batched: :class:`labsupport.MLPSweep` + :func:`labsupport.train_sweep` (stacked, padded weights,
  batched matmuls, one optimiser step for all models).

The default workload is one IsoFLOP-style sweep of Lab 2: widths on a sqrt(2) grid, two seeds
each, a regression on 4 inputs. Run: ``python benchmarks/sweep_speedup.py [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from labsupport import MLPSweep, Split, configure_threads, train_sweep

WIDTHS = (8, 11, 16, 23, 32, 45, 64, 91, 128)


def make_data(n: int, d: int, seed: int) -> Split:
    """Inputs from a standard normal, targets from a fixed smooth function of them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return Split(x, torch.sin(2 * x).sum(1, keepdim=True))


def run_sequential(members: list[nn.Module], data: Split, steps: int, batch_size: int, lr: float) -> None:
    """The baseline: a Python loop over the models inside the loop over minibatches."""
    optimizers = [torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.0) for m in members]
    generator = torch.Generator().manual_seed(1)
    order, cursor = torch.randperm(len(data), generator=generator), 0
    for _ in range(steps):
        if cursor + batch_size > len(data):
            order, cursor = torch.randperm(len(data), generator=generator), 0
        idx = order[cursor : cursor + batch_size]
        cursor += batch_size
        x, y = data.x[idx], data.y[idx]
        for model, optimizer in zip(members, optimizers, strict=True):
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seeds", type=int, default=2, help="models per width")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    configure_threads(args.threads)

    widths = [w for w in WIDTHS for _ in range(args.seeds)]
    data = make_data(8192, 4, seed=0)
    batched_times, sequential_times = [], []
    for repeat in range(args.repeats):
        sweep = MLPSweep(widths, 4, 1, generator=torch.Generator().manual_seed(repeat))
        members = [sweep.member(m) for m in range(sweep.num_models)]  # identical copies
        start = time.perf_counter()
        train_sweep(
            sweep, data, steps=args.steps, batch_size=args.batch_size, lr=1e-2,
            generator=torch.Generator().manual_seed(1), progress=False,
        )  # fmt: skip
        batched_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_sequential(members, data, args.steps, args.batch_size, lr=1e-2)
        sequential_times.append(time.perf_counter() - start)

    batched, sequential = statistics.median(batched_times), statistics.median(sequential_times)
    print(f"workload   : {len(widths)} MLPs (widths {min(widths)}-{max(widths)}, {args.seeds} per width),")
    print(
        f"             {args.steps} AdamW steps of batch {args.batch_size}, {torch.get_num_threads()} thread(s)"
    )
    print(f"groups     : {len(sweep.groups)} padded stacks")
    print(f"sequential : {sequential:.2f} s (median of {args.repeats})")
    print(f"batched    : {batched:.2f} s (median of {args.repeats})")
    print(f"speed-up   : {sequential / batched:.1f}x")


if __name__ == "__main__":
    main()
