"""Shared fixtures: a private cache, one torch thread, the course root and one book build.

Tests never touch the user's files: before any test or lab kernel starts, ``LABSUPPORT_CACHE``
points at a temporary folder of this test session (kernels inherit it), which is removed at
the end. A test that needs an empty cache of its own uses ``monkeypatch.setenv`` with its
``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SESSION_CACHE: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point the course cache at a temporary folder before anything runs (nbval's kernels too)."""
    global _SESSION_CACHE
    scratch = Path(tempfile.mkdtemp(prefix="labsupport-tests-"))
    _SESSION_CACHE = scratch / "labsupport"
    os.environ["LABSUPPORT_CACHE"] = str(_SESSION_CACHE)
    # The kernels' and libraries' own files (matplotlib's font cache, IPython's profile,
    # Jupyter's connection files) go there too, not into the user's home.
    for name, sub in [
        ("XDG_CACHE_HOME", "cache"),
        ("MPLCONFIGDIR", "matplotlib"),
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
    ]:
        os.environ[name] = str(scratch / sub)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def session_cache() -> Path:
    """The test session's private course cache (``$LABSUPPORT_CACHE``)."""
    assert _SESSION_CACHE is not None
    return _SESSION_CACHE


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
    pollutes) the outputs of a ``make book`` in the cpu profile.
    """
    out = tmp_path_factory.mktemp("book")
    env = os.environ | {
        "LABSUPPORT_PROFILE": "smoke",
        "LABSUPPORT_WIDGETS": "static",
        "COURSE_SOLUTIONS": "collapsed",
    }
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    return result, out / "_build" / "html"
