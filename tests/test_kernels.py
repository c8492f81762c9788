"""The suite's kernels cannot race for ports, and a kernel that hangs cannot hang the suite.

``tools/notebook_run.py`` starts every kernel on ipc sockets at a short, absolute socket path
of its own (nbval's kernels too, through ``tests/plugin.py``); pytest-timeout ends a test
that waits too long and prints every thread's stack.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools.notebook_run import IpcKernelManager, execute, nbgrader_kernel_config

ROOT = Path(__file__).resolve().parent.parent


def test_a_kernel_listens_on_its_own_short_absolute_ipc_sockets():
    first, second = IpcKernelManager(), IpcKernelManager()
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip, "two kernels must never share a socket prefix"
    for km in (first, second):
        assert os.path.isabs(km.ip) and len(km.ip) + len("-65535") < 108, km.ip
    first.write_connection_file()
    try:
        info = first.get_connection_info()
        assert info["transport"] == "ipc" and info["ip"] == first.ip
    finally:
        first.cleanup_resources()
        second.cleanup_resources()
    assert not Path(first.ip).parent.exists(), "the socket folder is removed with the kernel"


def test_execute_runs_a_notebook_over_ipc_and_refuses_a_missing_environment(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.environ['MARK'])")])
    execute(nb, cwd=tmp_path, env=dict(os.environ) | {"MARK": "ran here"}, timeout=120)
    assert nb.cells[0].outputs[0]["text"] == "ran here\n"
    with pytest.raises(ValueError, match="whole environment"):
        execute(nb, cwd=tmp_path, env={}, timeout=120)
    with pytest.raises(ValueError, match="existing folder"):
        execute(nb, cwd=tmp_path / "nowhere", env=dict(os.environ), timeout=120)


def test_execute_ends_its_kernel_after_a_run_and_after_an_error(tmp_path):
    """A run must not leave its kernel alive (each holds about 0.85 GB until the caller exits)."""
    import psutil
    from nbclient.exceptions import CellExecutionError

    pid_cell = nbformat.v4.new_code_cell("import os\nprint(os.getpid())")
    for cells in ([pid_cell], [pid_cell, nbformat.v4.new_code_cell("raise RuntimeError('stop')")]):
        nb = nbformat.v4.new_notebook(cells=cells)
        with contextlib.suppress(CellExecutionError):
            execute(nb, cwd=tmp_path, env=dict(os.environ), timeout=120)
        pid = int(nb.cells[0].outputs[0]["text"])
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=10)
        assert not psutil.pid_exists(pid), f"the kernel {pid} is still running after execute()"


def test_nbvals_kernels_use_ipc_too(pytestconfig):
    if not pytestconfig.pluginmanager.hasplugin("nbval"):
        pytest.skip("nbval is not installed")
    import nbval.kernel

    assert nbval.kernel.KernelManager is IpcKernelManager


def test_nbgraders_kernels_are_configured_for_ipc():
    lines = nbgrader_kernel_config("/tmp/kx/s")
    assert "c.KernelManager.transport = 'ipc'" in lines and "c.KernelManager.ip = '/tmp/kx/s'" in lines


@pytest.mark.slow
def test_a_cell_that_hangs_fails_its_test_with_every_threads_stack(tmp_path):
    """A forced hang: a cell that sleeps for days, run by a test with a 5-second timeout.

    pytest-timeout's thread method prints every thread's stack and ends the process; the
    kernel it leaves behind is killed here by the pid it wrote."""
    pid_file = tmp_path / "kernel.pid"
    hanging = tmp_path / "test_hang.py"
    cell = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(1e6)"
    hanging.write_text(
        textwrap.dedent(
            f"""
            import os
            import nbformat
            from tools.notebook_run import execute

            def test_sleeps_forever(tmp_path):
                nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell({cell!r})])
                execute(nb, cwd=tmp_path, env=dict(os.environ), timeout=10**6)
            """
        )
    )
    log = tmp_path / "log.txt"
    with open(log, "w") as out:  # a file, not a pipe: the orphaned kernel would hold a pipe open
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                # the project's own settings (pyproject.toml: the thread method), 5 s, not 10 min
                "-c",
                str(ROOT / "pyproject.toml"),
                "--noconftest",
                "--timeout=5",
                str(hanging),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    text = log.read_text()
    assert pid_file.exists(), "the cell never ran: " + text[-3000:]
    assert result.returncode != 0, text[-3000:]
    assert "Timeout" in text and "Stack of" in text, text[-3000:]


@pytest.mark.slow
def test_a_cell_that_hangs_in_nbgraders_test_course_fails_at_its_cell_timeout(tmp_path):
    """A forced hang under nbgrader: a submission whose cell sleeps for days is not waited for;
    the test course's cell timeout (here 3 s; 5 minutes in tests/test_grading.py) ends it."""
    from tools.instructor_kit import collect, grade_step, write_course

    lab = tmp_path / "hang.ipynb"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Hang"), nbformat.v4.new_code_cell("1")]
    )
    nbformat.write(nb, lab)
    config = "c.Execute.timeout = 3\nc.Execute.interrupt_on_timeout = False\n" + nbgrader_kernel_config()
    course = write_course(tmp_path / "course", [lab], extra_config=config)
    nb.cells[1].source = "import time\ntime.sleep(1e6)"
    submission = tmp_path / "submitted.ipynb"
    nbformat.write(nb, submission)
    collect(course, "hang", "student", submission)
    with pytest.raises(RuntimeError, match=r"(?i)timeout|timed out"):
        grade_step(course, "autograde", "hang", "student")
