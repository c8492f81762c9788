"""The labs on Colab's versions, installed the way Colab installs them, offline from GitHub.

``make colab-env`` builds ``.venv-colab`` with Colab's preinstalled versions
(``colab_versions.txt``). Here:

1. the labs' own set-up cell runs in a kernel of that environment that believes it is on Colab
   (a stand-in ``google.colab`` module is imported at start), so its ``%pip install`` line runs;
   git's ``insteadOf`` sends the GitHub address to a local repository holding this checkout,
   tagged with the release the cell names;
2. the install must change none of Colab's packages;
3. every lab then runs there in ``smoke``, widgets live, and the widget unit tests run under
   Colab's ipywidgets 7.7.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.exceptions import CellExecutionError

from tests.environments import colab_versions, installed
from tests.labrun import LABS, ROOT, execute_lab, lab_env, log_execution, summary
from tools.instructor_kit import STUB_MESSAGE, write_course
from tools.notebook_run import execute
from tools.sync_labs import release_tag, repository, setup_cell_source

pytestmark = [pytest.mark.colab, pytest.mark.timeout(1200)]
#: The set-up cell's env_report() line for the profile (its column width may change).
SMOKE_PROFILE_RE = re.compile(r"^profile\s*:\s*smoke$", re.MULTILINE)

COLAB_VENV = ROOT / ".venv-colab"
COLAB_PYTHON = COLAB_VENV / "bin" / "python"


def _tracked_tree(dest: Path) -> None:
    """Copy this checkout's files (tracked and untracked-not-ignored, as on disk) into ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _uninstall_labsupport() -> None:
    """Leave Colab's environment without labsupport (as a Colab runtime starts)."""
    subprocess.run([str(COLAB_PYTHON), "-m", "pip", "uninstall", "-y", "-q", "labsupport"], check=False)


@pytest.fixture(scope="module")
def colab(tmp_path_factory, session_cache):
    """The kernel options and environment for Colab-like kernels, with the local release."""
    if not (COLAB_VENV / ".installed").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI must run the Colab test: `make colab-env` builds its environment (make test does; "
                "it needs Python 3.13, see the README)"
            )
        pytest.skip("no Colab environment: `make colab-env` builds it, with a Python 3.13 (see the README)")
    # A run that was killed may have left labsupport installed: start from Colab's state.
    _uninstall_labsupport()
    work = tmp_path_factory.mktemp("colab")
    repo = work / "course"
    _tracked_tree(repo)
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the checkout under test"], check=True)
    subprocess.run([*git, "tag", release_tag()], check=True)
    url, _ = repository()
    gitconfig = work / "gitconfig"
    gitconfig.write_text(f'[url "file://{repo}"]\n\tinsteadOf = {url}\n')

    stub = work / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        '"""Stands in for Colab\'s own package: the set-up cell looks for it."""\n'
    )
    kernels = work / "kernels"
    (kernels / "colab").mkdir(parents=True)
    spec = {
        "argv": [
            str(COLAB_PYTHON),
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.exec_lines=['import google.colab']",
        ],
        "display_name": "Python 3 (Colab versions)",
        "language": "python",
    }
    (kernels / "colab" / "kernel.json").write_text(json.dumps(spec))
    env = lab_env("smoke", session_cache / "colab") | {
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "PYTHONPATH": str(work / "stub"),
        "VIRTUAL_ENV": str(COLAB_VENV),
        "PATH": f"{COLAB_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }

    kernel = {"kernel_name": "colab", "kernel_spec_manager": KernelSpecManager(kernel_dirs=[str(kernels)])}
    yield kernel, env
    # Leave Colab's environment as it was, so the next run installs labsupport again.
    _uninstall_labsupport()


@pytest.fixture(scope="module")
def setup_cell_install(colab):
    """Run the labs' set-up cell alone in a Colab-like kernel; return the packages before and after."""
    kernel, env = colab
    before = installed(COLAB_PYTHON)
    assert "labsupport" not in before, "the Colab environment must start without labsupport"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup_cell_source())])
    execute(nb, cwd=ROOT, env=env, timeout=600, **kernel)
    report = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    return before, installed(COLAB_PYTHON), report


def test_the_environment_has_colabs_versions(colab):
    have = installed(COLAB_PYTHON)
    versions = colab_versions()
    python = subprocess.run(
        [str(COLAB_PYTHON), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert python.startswith(versions.pop("python") + "."), (
        f"Colab runs Python {versions}, .venv-colab {python}"
    )
    for name, version in versions.items():
        assert have.get(name) == version, f"{name}: Colab has {version}, .venv-colab has {have.get(name)}"


def test_setup_cell_installs_labsupport_and_changes_nothing_colab_has(setup_cell_install):
    before, after, report = setup_cell_install
    import labsupport

    assert after.get("labsupport") == labsupport.__version__, report
    changed = {name: (v, after.get(name)) for name, v in before.items() if after.get(name) != v}
    assert not changed, f"the install changed preinstalled packages (before, after): {changed}"
    assert SMOKE_PROFILE_RE.search(report), report


@pytest.mark.parametrize("stem", [p.stem for p in LABS])
def test_lab_runs_on_colabs_versions(colab, setup_cell_install, session_cache, stem):
    kernel, env = colab
    nb = execute_lab(stem, env, layer="colab", **kernel)
    assert summary(nb)["lab"] == stem


def test_widget_unit_tests_pass_under_colabs_ipywidgets(colab):
    assert installed(COLAB_PYTHON)["ipywidgets"].startswith("7."), "Colab's ipywidgets is 7.x"
    result = subprocess.run(
        # --noconftest: tests/conftest.py imports the suite's harness, which Colab does not have.
        [
            str(COLAB_PYTHON),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",
            "tests/test_widgets.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_a_student_version_runs_on_colabs_versions_until_its_first_exercise(
    colab, setup_cell_install, tmp_path
):
    """The students' path on Colab: nbgrader's student version, opened there, runs its set-up
    cell and every cell up to its first exercise, and stops there with the stub's message.
    (Every lab's student version keeps the same set-up cell: tests/test_grading.py.)"""
    kernel, env = colab
    lab = LABS[0]
    course = write_course(tmp_path / "course", [lab])
    released = course / "release" / lab.stem / lab.name
    nb = nbformat.read(released, as_version=4)
    start = time.perf_counter()
    with pytest.raises(CellExecutionError, match=STUB_MESSAGE):
        execute(nb, cwd=released.parent, env=env, timeout=600, **kernel)
    log_execution(lab.stem, "colab-student-version", time.perf_counter() - start, full=False)
    assert SMOKE_PROFILE_RE.search("".join(o.get("text", "") for o in nb.cells[1].outputs))
