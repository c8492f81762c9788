"""Run a lab the way a learner does: a fresh Jupyter kernel, every cell in order, widgets live.

Used by the effect layer (``tests/effects/``, the ``cpu`` profile), the repeatability test and
the Colab-environment test (``tests/colab/``, Colab's package versions). What a test asserts
comes from the lab's own summary cell (``labsupport.report_summary``), never from a copy of
the lab's code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from labsupport.report import SUMMARY_MIME

ROOT = Path(__file__).resolve().parent.parent
LABS = sorted((ROOT / "labs").glob("*.ipynb"))


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


def execute_lab(
    stem: str,
    *,
    profile: str,
    cache: Path,
    timeout: int = 900,
    kernel_manager: Any = None,
    env: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """Execute every cell of a lab in a new kernel (in ``labs/``) and return the notebook.

    A cell that raises fails the run with nbclient's ``CellExecutionError``, which names the
    cell and shows the traceback.
    """
    path = lab_path(stem)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        km=kernel_manager,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=env if env is not None else lab_env(profile, cache))
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
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=lab_env(profile, cache))
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
