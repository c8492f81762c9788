"""Wall time of every lab per run profile (median of several runs).

Writes ``benchmarks/lab_times.md``, the table the "How to run the labs" page shows, and
prints it. Each run executes the whole notebook in a fresh kernel with an empty cache, as a
learner's first "Restart & Run All" would, so kernel start-up, imports and the training of
what a lab caches are included.

    python benchmarks/lab_times.py --repeats 3 --profiles smoke cpu
    python benchmarks/lab_times.py --repeats 1 --profiles cpu -- labs/04_distillation.ipynb
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tools are imported as tools.* from the repository root

from tools.notebook_run import execute  # noqa: E402

TABLE = ROOT / "benchmarks" / "lab_times.md"


def run_once(notebook: Path, profile: str) -> float:
    """Execute ``notebook`` in ``profile`` with an empty cache (a learner's first run: the
    models a lab caches are trained, not loaded); return the wall time in seconds."""
    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {
            "LABSUPPORT_PROFILE": profile,
            "LABSUPPORT_WIDGETS": "static",
            "LABSUPPORT_CACHE": cache,
        }
        start = time.perf_counter()
        execute(nb, cwd=notebook.parent, env=env, timeout=900)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profiles", nargs="+", default=["smoke", "cpu"], choices=["smoke", "cpu", "gpu"])
    parser.add_argument("labs", nargs="*", type=Path, help="default: labs/*.ipynb")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    labs = [p.resolve() for p in args.labs] or sorted((ROOT / "labs").glob("*.ipynb"))
    rows = []
    for notebook in labs:
        medians = []
        for profile in args.profiles:
            times = [run_once(notebook, profile) for _ in range(args.repeats)]
            medians.append(statistics.median(times))
            print(
                f"{notebook.stem:<28} {profile:<6} "
                + " ".join(f"{t:6.1f}" for t in times)
                + f"  median {medians[-1]:.1f} s",
                flush=True,
            )
        rows.append((notebook.stem, medians))
    header = "| lab | " + " | ".join(f"{p} (s)" for p in args.profiles) + " |"
    lines = [
        header,
        "|---|" + "---|" * len(args.profiles),
        *(f"| {name} | " + " | ".join(f"{m:.0f}" for m in medians) + " |" for name, medians in rows),
        "",
        ("One run" if args.repeats == 1 else f"Median of {args.repeats} runs")
        + " of the whole notebook in a fresh kernel with an empty cache (kernel start-up included), "
        f"measured {date.today().isoformat()} with `benchmarks/lab_times.py --repeats {args.repeats}` on {os.cpu_count()} CPU cores "
        f"({platform.machine()}), 1 torch thread.",
    ]
    print("\n".join(lines))
    if args.labs:  # a partial run must not overwrite the table of all labs
        print(f"(not written to {TABLE.relative_to(ROOT)}: only some labs were timed)")
    else:
        TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
