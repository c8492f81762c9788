"""Run a lab the way a learner does, once per (environment, profile, widget mode), and keep it.

The run store: an executed lab is written to ``$LABRUN_STORE/<variant>/<stem>.ipynb`` and every
layer of the suite reads that notebook instead of running the lab again:

* ``smoke``: nbval's run of ``labs/`` (smoke, ``.venv``, widgets live, a cold cache), captured
  cell by cell by ``tests/conftest.py``; read by the repeatability test (against the book's
  warm run) and by the grading layer (nbgrader grades it without executing it again);
* ``cpu``: the effect layer's run (``tests/effects/``); ``python -m tests.labrun cpu 07_serving``
  makes one before the test streams start, so Lab 7's timing ratios have the machine to
  themselves.

``make test`` points ``LABRUN_STORE`` at ``tests/artifacts/runs`` (emptied at its start), so
its pytest processes share the runs; a bare ``pytest`` keeps them in its session's scratch
folder. Every full or partial execution is logged to ``executions.log`` beside the store, which
``python -m tests.report`` counts per lab. What a test asserts comes from the lab's own summary
cell (``labsupport.report_summary``), never from a copy of the lab's code.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellExecutionError

from labsupport.report import SUMMARY_MIME
from tools.notebook_run import execute

ROOT = Path(__file__).resolve().parent.parent
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
STORE_ENV = "LABRUN_STORE"
VARIANTS = ("smoke", "cpu")


def lab_path(stem: str) -> Path:
    """``labs/<stem>.ipynb``, or a clear error listing the labs."""
    path = ROOT / "labs" / f"{stem}.ipynb"
    if not path.exists():
        raise ValueError(f"no lab {stem!r}; the labs are {[p.stem for p in LABS]}")
    return path


def lab_env(profile: str, cache: Path, **extra: str) -> dict[str, str]:
    """The kernel's environment: this process's, with the profile, the cache and live widgets."""
    env = {k: v for k, v in os.environ.items() if k != "LABSUPPORT_WIDGETS"}
    return env | {"LABSUPPORT_PROFILE": profile, "LABSUPPORT_CACHE": str(cache)} | extra


def private_env(scratch: Path) -> dict[str, str]:
    """Variables that send the labs' and libraries' own files (the course cache, matplotlib's
    font cache, IPython's profile, Jupyter's connection files) into ``scratch``, not the home."""
    return {
        "LABSUPPORT_CACHE": str(scratch / "labsupport"),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "MPLCONFIGDIR": str(scratch / "matplotlib"),
        "IPYTHONDIR": str(scratch / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "jupyter-runtime"),
    }


def store_root() -> Path:
    """The run store's folder (``$LABRUN_STORE``); tests/conftest.py sets a private default."""
    value = os.environ.get(STORE_ENV, "").strip()
    if not value:
        raise RuntimeError(f"${STORE_ENV} is not set: run under pytest (tests/conftest.py sets it) or set it")
    return Path(value)


def log_execution(stem: str, layer: str, seconds: float, *, full: bool = True) -> None:
    """Append one line to the store's ``executions.log`` (``python -m tests.report`` reads it)."""
    root = store_root()
    root.mkdir(parents=True, exist_ok=True)
    line = f"{stem}\t{layer}\t{'full' if full else 'partial'}\t{seconds:.1f}\t{os.getpid()}\n"
    with open(root / "executions.log", "a", encoding="utf-8") as log:
        log.write(line)


def execute_lab(stem: str, env: dict[str, str], *, layer: str, timeout: int = 900, **kernel: Any):
    """Execute every cell of a lab in a new kernel (in ``labs/``) with environment ``env``.

    ``kernel`` goes to :func:`tools.notebook_run.execute` (``kernel_name``,
    ``kernel_spec_manager``). A cell that raises fails the run with nbclient's
    ``CellExecutionError``, which names the cell and shows the traceback.
    """
    path = lab_path(stem)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        return execute(nb, cwd=path.parent, env=env, timeout=timeout, **kernel)
    finally:
        log_execution(stem, layer, time.perf_counter() - start)


def _stored_path(variant: str, stem: str) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    lab_path(stem)
    return store_root() / variant / f"{stem}.ipynb"


def keep(
    variant: str, stem: str, nb: nbformat.NotebookNode, *, error: str | None = None, **facts: Any
) -> Path:
    """Write an executed lab into the store (atomically); ``error`` marks a run that failed."""
    path = _stored_path(variant, stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    nb.metadata["labrun"] = {"variant": variant, "error": error, **facts}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return path


def stored(variant: str, stem: str) -> nbformat.NotebookNode | None:
    """The stored run of ``stem`` in ``variant``, or None; a stored failure raises, naming it."""
    path = _stored_path(variant, stem)
    if not path.exists():
        return None
    nb = nbformat.read(path, as_version=4)
    error = nb.metadata.get("labrun", {}).get("error")
    if error:
        raise AssertionError(f"the {variant} run of {stem} failed ({path}):\n{error}")
    return nb


def run_lab(variant: str, stem: str, env: dict[str, str], **options: Any) -> nbformat.NotebookNode:
    """The stored run of ``stem`` in ``variant``, executed (and stored) first if there is none."""
    if (nb := stored(variant, stem)) is not None:
        return nb
    try:
        nb = execute_lab(stem, env, layer=variant, **options)
    except CellExecutionError as error:
        keep(variant, stem, nbformat.read(lab_path(stem), as_version=4), error=str(error)[-5000:])
        raise
    keep(variant, stem, nb, profile=env.get("LABSUPPORT_PROFILE"), cache=env.get("LABSUPPORT_CACHE"))
    return nb


def execute_cells(
    stem: str,
    cell_ids: list[str],
    *,
    profile: str,
    cache: Path,
    before: str = "",
    after: str = "",
    timeout: int = 600,
) -> list[str]:
    """Run some of a lab's cells, by id and in the lab's order, in a new kernel; return each
    executed cell's printed text (``before`` and ``after`` run first and last, as extra cells).

    For checks that need part of a lab only, such as the ``gpu`` profile's set-up on a CPU.
    """
    path = lab_path(stem)
    nb = nbformat.read(path, as_version=4)
    known = {cell.get("id") for cell in nb.cells}
    missing = [i for i in cell_ids if i not in known]
    if missing:
        raise ValueError(f"{stem} has no cells {missing}")
    cells = [cell for cell in nb.cells if cell.get("id") in cell_ids]
    if before:
        cells.insert(0, nbformat.v4.new_code_cell(before))
    if after:
        cells.append(nbformat.v4.new_code_cell(after))
    nb.cells = cells
    start = time.perf_counter()
    try:
        execute(nb, cwd=path.parent, env=lab_env(profile, cache), timeout=timeout)
    finally:
        log_execution(stem, f"cells-{profile}", time.perf_counter() - start, full=False)
    return [
        "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        for cell in nb.cells
    ]


def summary(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The payload of the lab's ``report_summary`` output: ``{"lab", "values", "timings"}``."""
    found = [
        output["data"][SUMMARY_MIME]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if SUMMARY_MIME in output.get("data", {})
    ]
    if len(found) != 1:
        raise AssertionError(f"a lab displays exactly one report_summary; this run displayed {len(found)}")
    return dict(found[0])


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.labrun cpu 07_serving``: run labs into the store ahead of the tests."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("variant", choices=["cpu"], help="the profile to run in (widgets live)")
    parser.add_argument("labs", nargs="+", choices=[p.stem for p in LABS])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labrun-") as scratch:
        private = private_env(Path(scratch))
        env = lab_env(args.variant, Path(private["LABSUPPORT_CACHE"])) | private
        for stem in args.labs:
            start = time.perf_counter()
            run_lab(args.variant, stem, env)
            print(f"{stem} ({args.variant}) in {time.perf_counter() - start:.0f} s -> {store_root()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
