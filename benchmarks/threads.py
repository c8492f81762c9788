"""How many torch threads should the labs use on this machine?

Trains the same tiny MLP on MNIST-1D with 1, 2, ... threads, each in a fresh process, and
prints the time per run and the slowdown relative to 1 thread. On a shared 2-core machine,
more threads made the course's tiny models much slower; this script is where
``labsupport.env.DEFAULT_CPU_THREADS`` comes from.

    python benchmarks/threads.py --steps 1500 --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

WORK = """
import time, torch
from torch import nn
from labsupport import configure_threads, fit, load_mnist1d, set_seed
configure_threads({threads})
data = load_mnist1d()
generator = set_seed(0)
model = nn.Sequential(nn.Linear(40, {width}), nn.ReLU(), nn.Linear({width}, {width}), nn.ReLU(), nn.Linear({width}, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
start = time.perf_counter()
fit(model, data.train, steps={steps}, batch_size=100, optimizer=opt, generator=generator, progress=False)
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs; MLP width {args.width}, {args.steps} Adam steps, batch 100 (median of {args.repeats})"
    )
    base = None
    for threads in args.threads:
        code = WORK.format(threads=threads, width=args.width, steps=args.steps)
        runs = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], check=True, capture_output=True, text=True
                ).stdout
            )
            for _ in range(args.repeats)
        ]
        median = statistics.median(runs)
        base = base or median
        print(
            f"{threads} thread(s): {median:6.2f} s  ({median / base:4.1f}x the 1-thread time)  runs: {', '.join(f'{r:.2f}' for r in runs)}"
        )


if __name__ == "__main__":
    main()
