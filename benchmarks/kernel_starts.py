"""Many Jupyter kernels started at once, over TCP and over ipc: how many fail or stall.

Each round, ``--processes`` processes each start ``--kernels`` kernels at the same moment
(threads behind a barrier shared by all processes), run ``1 + 1`` in each and shut them down.
Over TCP, jupyter_client picks every kernel's five ports in the parent (bind to port 0, close,
write the number down) and the kernel binds them a second later, so launches from different
processes can be handed the same port: a kernel then fails to start, or a client talks to
another's kernel and waits (jupyter/jupyter_client#487). Over ipc each kernel gets a socket
folder of its own (``tools.notebook_run.IpcKernelManager``), which nothing else can take.

    python benchmarks/kernel_starts.py --processes 4 --kernels 8 --rounds 5

Prints, per transport, the kernels started, those that failed or stalled (no reply within
``--timeout`` seconds) with the first error seen, and the wall time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from jupyter_client import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebook_run import IpcKernelManager


def one_kernel(transport: str, timeout: float) -> str:
    """Start a kernel, run ``1 + 1``, shut it down; "ok", or what went wrong."""
    km = IpcKernelManager() if transport == "ipc" else KernelManager()
    try:
        km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=timeout)
            reply = client.execute_interactive("1 + 1", timeout=timeout, output_hook=lambda msg: None)
            return "ok" if reply["content"]["status"] == "ok" else f"error: {reply['content']}"
        finally:
            client.stop_channels()
    except Exception as error:  # a stress test counts every kind of failure
        return f"{type(error).__name__}: {str(error)[:120]}"
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def worker(transport: str, kernels: int, rounds: int, timeout: float, barrier, results) -> None:
    """One process: ``rounds`` times, ``kernels`` kernels started at once with every process."""
    outcomes = []
    for _ in range(rounds):
        barrier.wait()
        found: list[str] = []

        def start(found: list[str] = found) -> None:
            found.append(one_kernel(transport, timeout))

        threads = [threading.Thread(target=start) for _ in range(kernels)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes += found
    results.put(outcomes)


def stress(
    transport: str, processes: int, kernels: int, rounds: int, timeout: float
) -> tuple[Counter, float]:
    """Outcome counts over every kernel of every round, and the wall time."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    start = time.perf_counter()
    procs = [
        ctx.Process(target=worker, args=(transport, kernels, rounds, timeout, barrier, results))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    outcomes = Counter()
    for _ in procs:
        outcomes.update(results.get())
    for p in procs:
        p.join()
    return outcomes, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--kernels", type=int, default=8, help="kernels each process starts at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds before a kernel counts as stalled"
    )
    parser.add_argument("--transports", nargs="+", default=["tcp", "ipc"], choices=["tcp", "ipc"])
    args = parser.parse_args(argv)
    if min(args.processes, args.kernels, args.rounds) < 1 or args.timeout <= 0:
        parser.error("--processes, --kernels and --rounds must be >= 1, --timeout > 0")
    total = args.processes * args.kernels * args.rounds
    print(
        f"{args.processes} processes x {args.kernels} kernels at once x {args.rounds} rounds = {total} per transport"
    )
    for transport in args.transports:
        outcomes, seconds = stress(transport, args.processes, args.kernels, args.rounds, args.timeout)
        failed = total - outcomes["ok"]
        first = next((o for o in outcomes if o != "ok"), "")
        print(f"{transport:>3}: {outcomes['ok']} ok, {failed} failed or stalled in {seconds:.0f} s  {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
