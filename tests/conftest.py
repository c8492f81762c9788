"""Shared fixtures: the course root and one smoke-profile build of the book per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
    env = os.environ | {"LABSUPPORT_PROFILE": "smoke", "LABSUPPORT_WIDGETS": "static"}
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    return result, out / "_build" / "html"
