"""Wall time and peak memory of every lab per run profile.

Writes ``benchmarks/lab_times.md``, the table the "How to run the labs" page shows (its times)
and the "Beyond one machine" page sizes a JupyterHub from (its peak memory), and prints it.
Each run executes the whole notebook in a fresh kernel with an empty cache, as a learner's
first "Restart & Run All" would, so kernel start-up, imports and the training of what a lab
caches are included. The labs set torch's threads themselves (``configure_threads``: 1).

A lab's peak memory is the largest of (a) the resident memory of its kernel and every process
the kernel started (Lab 7's torchrun workers), summed, sampled every 0.1 s with ``psutil``;
(b) the kernel's own high-water mark and that of the largest process it started,
``resource.getrusage`` read by one extra cell run after the lab's last one. Summing resident
memory counts the libraries processes share once per process: an upper bound, as a limit needs.
The table's note also gives the machine's highest 1-minute load average during the runs: other
work on the machine makes the times longer, never the memory larger.

    python benchmarks/lab_times.py --repeats 3 --profiles smoke cpu
    python benchmarks/lab_times.py --repeats 1 --profiles cpu -- labs/04_distillation.ipynb
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tools are imported as tools.* from the repository root

from tools.notebook_run import execute  # noqa: E402

TABLE = ROOT / "benchmarks" / "lab_times.md"
MIB = 2**20

#: The extra last cell: the kernel's high-water marks, in bytes (``ru_maxrss`` is in KiB on
#: Linux, in bytes on macOS).
PEAK_CELL = """import json, resource, sys
_unit = 1 if sys.platform == "darwin" else 1024
print(json.dumps({who: resource.getrusage(getattr(resource, who)).ru_maxrss * _unit
                  for who in ("RUSAGE_SELF", "RUSAGE_CHILDREN")}))"""


class TreeMemory:
    """Samples, in a thread, the summed resident memory of the children this process starts
    from now on (the run's kernel and whatever it starts) and keeps the largest sum, in bytes;
    and the highest 1-minute load average of the machine meanwhile."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak, self.load = every, 0, 0.0
        self.before = {child.pid for child in psutil.Process().children()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in self.started(me):
                try:
                    total += sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
                except psutil.Error:  # it ended between the listing and the reading
                    continue
            self.peak = max(self.peak, total)
            self.load = max(self.load, os.getloadavg()[0])
            self._stop.wait(self.every)

    def started(self, me: psutil.Process) -> list[psutil.Process]:
        """The children of ``me`` started since this object was made."""
        return [child for child in me.children() if child.pid not in self.before]

    def end_started(self, timeout: float = 10) -> None:
        """End the children started since: :func:`tools.notebook_run.execute` hands nbclient a
        kernel manager of its own, and nbclient then leaves the kernel running when it is done."""
        left = self.started(psutil.Process())
        for child in left:
            child.terminate()
        _, alive = psutil.wait_procs(left, timeout=timeout)
        for child in alive:
            child.kill()

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def kernel_high_water(nb: nbformat.NotebookNode) -> int:
    """The largest high-water mark :data:`PEAK_CELL` printed (the kernel or one of its children)."""
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return max(json.loads(text.strip().splitlines()[-1]).values())


def run_once(notebook: Path, profile: str) -> tuple[float, int, float]:
    """Execute ``notebook`` in ``profile`` with an empty cache (a learner's first run: the
    models a lab caches are trained, not loaded); return the wall time in seconds, the peak
    memory in bytes (the module's docstring says how it is measured) and the highest load."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {
            "LABSUPPORT_PROFILE": profile,
            "LABSUPPORT_WIDGETS": "static",
            "LABSUPPORT_CACHE": cache,
        }
        with TreeMemory() as tree:
            start = time.perf_counter()
            try:
                execute(nb, cwd=notebook.parent, env=env, timeout=900)
                seconds = time.perf_counter() - start
            finally:
                tree.end_started()
    return seconds, max(tree.peak, kernel_high_water(nb)), tree.load


def table(
    rows: list[tuple[str, list[float], list[int]]], profiles: list[str], repeats: int, load: float
) -> str:
    """The Markdown table and its note: per lab, each profile's median time and largest peak."""
    header = [f"{p} (s)" for p in profiles] + [f"{p} peak (MiB)" for p in profiles]
    lines = [
        "| lab | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(header),
        *(
            f"| {name} | "
            + " | ".join([f"{t:.0f}" for t in times] + [f"{m / MIB:.0f}" for m in peaks])
            + " |"
            for name, times, peaks in rows
        ),
        "",
        ("One run" if repeats == 1 else f"Median time of {repeats} runs")
        + " of the whole notebook in a fresh kernel with an empty cache (kernel start-up included), "
        f"measured {date.today().isoformat()} with `benchmarks/lab_times.py --repeats {repeats}` on "
        f"{os.cpu_count()} CPU cores ({platform.machine()}), 1 torch thread. Peak: the most memory the "
        "lab's kernel and the processes it started held at once (their resident memory summed, sampled "
        "every 0.1 s with psutil, and never below the kernel's own high-water mark from getrusage)"
        + ("" if repeats == 1 else f", the largest of the {repeats} runs")
        + f". The 1-minute load average of the machine reached {load:.1f} during the runs: a lab "
        "adds about 1 itself (Lab 7 briefly 2), the rest was other work, which makes the times "
        "longer than on an idle machine.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profiles", nargs="+", default=["smoke", "cpu"], choices=["smoke", "cpu", "gpu"])
    parser.add_argument("labs", nargs="*", type=Path, help="default: labs/*.ipynb")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    labs = [p.resolve() for p in args.labs] or sorted((ROOT / "labs").glob("*.ipynb"))
    rows, load = [], 0.0
    for notebook in labs:
        medians, peaks = [], []
        for profile in args.profiles:
            runs = [run_once(notebook, profile) for _ in range(args.repeats)]
            times, memory, loads = zip(*runs, strict=True)
            load = max(load, *loads)
            medians.append(statistics.median(times))
            peaks.append(max(memory))
            print(
                f"{notebook.stem:<28} {profile:<6} "
                + " ".join(f"{t:6.1f}" for t in times)
                + f"  median {medians[-1]:.1f} s, peak {peaks[-1] / MIB:.0f} MiB",
                flush=True,
            )
        rows.append((notebook.stem, medians, peaks))
    text = table(rows, args.profiles, args.repeats, load)
    print(text)
    if args.labs:  # a partial run must not overwrite the table of all labs
        print(f"(not written to {TABLE.relative_to(ROOT)}: only some labs were timed)")
    else:
        TABLE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
