"""Shared fixtures: the session's private cache, one torch thread, the course root, one book build.

The session-wide hooks (the private cache set up before anything runs, nbval's runs kept,
the layers' report) are in ``tests/plugin.py``, which the root ``conftest.py`` loads. A test
that needs an empty cache of its own uses ``monkeypatch.setenv`` with its ``tmp_path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.labrun import log_execution
from tests.plugin import _SESSION, ROOT


@pytest.fixture(scope="session")
def nbval_runs() -> dict[str, bool]:
    """``{lab stem: ran without error}`` for the labs nbval ran in this session (the ``smoke``
    runs in the store), and ``cold``: whether the course cache was empty before the first."""
    runs = {stem: run.get("kept", False) for stem, run in _SESSION["captured"].items()}
    return {"runs": runs, "cold": _SESSION["cold"]}


@pytest.fixture(scope="session")
def session_cache() -> Path:
    """The test session's private course cache (``$LABSUPPORT_CACHE``)."""
    return _SESSION["cache"]


@pytest.fixture(scope="session")
def user_folders_at_start() -> dict:
    """The user's folders (``USER_FOLDERS``) as they were before this session started."""
    return _SESSION["user_folders"]


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread for the whole suite, as in the labs (labsupport.configure_threads):
    as fast as 2 on an idle 2-core machine, many times faster on a busy one
    (benchmarks/threads.py)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """Build the whole book once, in the smoke profile, into a private folder.

    The private folder keeps its own execution cache, so this build never reuses (or
    pollutes) the outputs of a ``make book`` in the cpu profile. The labs run with this
    session's course cache: after nbval's runs it is warm, and the book's runs are the warm
    half of the repeatability test (``tests/test_repeatable.py``).
    """
    out = tmp_path_factory.mktemp("book")
    env = os.environ | {
        "LABSUPPORT_PROFILE": "smoke",
        "LABSUPPORT_WIDGETS": "static",
        "COURSE_SOLUTIONS": "collapsed",
    }
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    start = time.perf_counter()
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    executed = sorted((out / "_build" / "jupyter_execute" / "labs").glob("*.ipynb"))
    for nb in executed:
        log_execution(nb.stem, "book", (time.perf_counter() - start) / max(len(executed), 1))
    return result, out / "_build" / "html"
