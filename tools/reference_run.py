"""The course's reference run: every lab's summary table from the test suite's ``cpu`` runs.

``python -m tools.reference_run [STORE]`` reads the executed labs in ``STORE/cpu/`` (the run
store of ``tests/labrun.py``; default ``tests/artifacts/runs``, where ``make test`` keeps them)
and writes ``labsupport/reference_run.json``. Lab 8's verdict table sets the learner's numbers
beside it and the book's reference page (``chapters/reference_run.md``) shows it; the effect
layer (``tests/effects/test_reference_run.py``) fails when a lab's ``cpu`` run no longer
agrees with it, so the published numbers cannot drift from the labs.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import nbformat

from labsupport.report import SUMMARY_MIME

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "labsupport" / "reference_run.json"
LAB_STEMS = [p.stem for p in sorted((ROOT / "labs").glob("*.ipynb"))]


def summary_payload(notebook: Path) -> dict:
    """The summary payload (``labsupport.report_summary``'s JSON) of an executed lab."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []):
            if SUMMARY_MIME in output.get("data", {}):
                return output["data"][SUMMARY_MIME]
    raise ValueError(f"{notebook} has no summary output: was it executed to the end?")


def reference_from(store: Path) -> dict:
    """The reference run made from the ``cpu`` runs in ``store``; every lab must be there."""
    labs = {}
    for stem in LAB_STEMS:
        run = store / "cpu" / f"{stem}.ipynb"
        if not run.is_file():
            raise FileNotFoundError(f"no cpu run of {stem} at {run}: run the effect layer first")
        table = summary_payload(run).get("table")
        if not table:
            raise ValueError(f"{stem}'s summary has no table (report_summary(..., table=...))")
        labs[stem] = table
    return {
        "profile": "cpu",
        "machine": f"{platform.machine()}, 2 cores, 1 torch thread (the course's CI machine)",
        "made_by": "python -m tools.reference_run, from the test suite's cpu runs",
        "labs": labs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", type=Path, default=ROOT / "tests" / "artifacts" / "runs")
    args = parser.parse_args(argv)
    reference = reference_from(args.store)
    REFERENCE.write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE.relative_to(ROOT)}: {sum(len(t) for t in reference['labs'].values())} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
