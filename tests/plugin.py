"""The suite's session-wide hooks, for every collected item (tests/ and labs/ alike).

Loaded by the root ``conftest.py`` (``pytest_plugins``): hooks in ``tests/conftest.py`` would
reach only the items under ``tests/``, and nbval's items are the labs in ``labs/``.

* Before anything runs, the course cache and the libraries' own files (matplotlib, IPython,
  Jupyter's connection files) point at a temporary folder of this session, removed at the end;
  kernels inherit it. The user's own folders are noted, for ``tests/test_isolation.py``.
* nbval's kernels use ipc sockets (``tools/notebook_run.py``), and each lab nbval runs is
  assembled from its cells' outputs and kept in the run store as the ``smoke`` run
  (``tests/labrun.py``), the run the repeatability and grading layers read.
* At the end, every layer is named with its counts, and every layer with a skipped test with
  the reasons; under ``CI=true`` a skip fails the run. ``python -m tests.report`` combines the
  reports of several processes.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
LAYERS = ("browser", "book", "colab", "grading", "effects", "slow")

#: The user's own folders a lab or a library could write into, watched by test_isolation.py.
USER_FOLDERS = [
    "~/.cache/labsupport",
    "~/.cache/matplotlib",
    "~/.cache/torch",
    "~/.config/matplotlib",
    "~/.ipython",
    "~/.local/share/jupyter/runtime",
]
_SESSION: dict = {}


def _snapshot(folder: str) -> dict[str, tuple[int, int]] | None:
    """``{relative path: (size, mtime_ns)}`` of everything under ``folder``; None if absent."""
    root = Path(folder).expanduser()
    if not root.exists():
        return None
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() or p.is_dir()
    }


def pytest_configure(config: pytest.Config) -> None:
    """Point the course cache (and the libraries' files) at a temporary folder before anything
    runs (nbval's kernels too), give nbval ipc kernels, and note the user's folders."""
    scratch = Path(tempfile.mkdtemp(prefix="labsupport-tests-"))
    _SESSION.update(scratch=scratch, cache=scratch / "labsupport", captured={}, cold=None)
    _SESSION["user_folders"] = {folder: _snapshot(folder) for folder in USER_FOLDERS}
    from tests.labrun import private_env

    os.environ.update(private_env(scratch))
    os.environ.setdefault("LABRUN_STORE", str(scratch / "runs"))
    # nbgrader, run in this process by the grading layer, calls the command alembic from here.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if config.pluginmanager.hasplugin("nbval"):
        import nbval.kernel

        from tools.notebook_run import IpcKernelManager

        # nbval starts its kernels with jupyter_client's KernelManager, by this module-level name.
        nbval.kernel.KernelManager = IpcKernelManager


def pytest_unconfigure(config: pytest.Config) -> None:
    if "scratch" in _SESSION:
        shutil.rmtree(_SESSION["scratch"], ignore_errors=True)


# -- nbval's run of a lab, kept as the ``smoke`` run -------------------------------------------


def _nbval_cell(item: pytest.Item) -> bool:
    """An nbval item of one of the course's labs (``labs/*.ipynb``)."""
    in_labs = Path(str(item.path)).parent == ROOT / "labs"
    return in_labs and type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def _variant() -> str | None:
    """The run store's variant of this session's nbval runs: only smoke with live widgets."""
    live = "LABSUPPORT_WIDGETS" not in os.environ
    return "smoke" if os.environ.get("LABSUPPORT_PROFILE") == "smoke" and live else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    if not _nbval_cell(item) or call.when not in ("setup", "call"):
        return
    report = outcome.get_result()
    stem = Path(str(item.path)).stem
    runs = _SESSION["captured"]
    if call.when == "setup" and item.cell_num == 0:
        if _SESSION["cold"] is None:  # the first lab nbval runs: was the course cache empty?
            cache = Path(os.environ["LABSUPPORT_CACHE"])
            _SESSION["cold"] = not cache.exists() or not any(cache.iterdir())
        runs[stem] = {"outputs": {}, "failed": [], "start": time.perf_counter()}
    if call.when == "call" and stem in runs:
        runs[stem]["outputs"][item.cell_num] = copy.deepcopy(getattr(item, "test_outputs", None) or [])
        if report.failed:
            runs[stem]["failed"].append(f"Cell {item.cell_num}: {report.longreprtext[-3000:]}")


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a lab's last cell: write nbval's executed notebook into the run store."""
    if not _nbval_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    stem = Path(str(item.path)).stem
    run = _SESSION["captured"].get(stem)
    if run is None or (variant := _variant()) is None:
        return
    nb = copy.deepcopy(item.parent.nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code):
        cell.outputs = run["outputs"].get(number, [])
        cell.execution_count = number + 1 if number in run["outputs"] else None
    error = "\n".join(run["failed"]) or None
    if len(run["outputs"]) != len(code):
        error = error or f"nbval ran {len(run['outputs'])} of {len(code)} code cells"
    from tests.labrun import keep, log_execution

    seconds = time.perf_counter() - run["start"]
    keep(variant, stem, nb, error=error, cache=os.environ["LABSUPPORT_CACHE"], cold=_SESSION["cold"])
    log_execution(stem, "nbval", seconds)
    run["kept"] = error is None


# -- the layers' report ------------------------------------------------------------------------


def _layer(report: pytest.TestReport) -> str:
    if report.nodeid.startswith("labs/"):
        return "nbval"
    return next((layer for layer in LAYERS if layer in getattr(report, "keywords", {})), "unit")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Name every layer that ran, and every one with skipped tests, with the reasons."""
    counts: dict[str, dict[str, int]] = {}
    skipped: dict[str, set[str]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if not hasattr(report, "nodeid") or not report.nodeid:
                continue
            layer = _layer(report)
            counts.setdefault(layer, {}).setdefault(outcome, 0)
            counts[layer][outcome] += 1
            if outcome == "skipped":
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                skipped.setdefault(layer, set()).add(reason.removeprefix("Skipped: "))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    record = {"counts": counts, "skipped": {k: sorted(v) for k, v in skipped.items()}}
    (ARTIFACTS / f"layers-{os.getpid()}.json").write_text(json.dumps(record, indent=1))
    terminalreporter.section("layers")
    for layer, outcomes in sorted(counts.items()):
        terminalreporter.line(f"{layer:<8} " + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())))
    for layer, reasons in sorted(skipped.items()):
        terminalreporter.line(f"SKIPPED {layer}: " + "; ".join(sorted(reasons)), yellow=True)
    if skipped and os.environ.get("CI") == "true":
        terminalreporter.line("CI=true: a skipped layer fails the run", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a run in which any test was skipped fails: CI must run every layer."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("CI") == "true" and reporter and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
