"""The labs on Colab's versions, with the course's package installed the way Colab installs it.

``make colab-env`` builds ``.venv-colab`` with Colab's preinstalled versions
(``colab_versions.txt``). Here:

1. the wheel ``make dist`` builds (``tools/dist.py``) is built from this checkout and served,
   with the wheels of the dependencies Colab does not preinstall (mnist1d), by a package index
   on 127.0.0.1 (``tests/colab/package_index.py``): what PyPI serves Colab, offline;
2. the labs' own set-up cell runs in a kernel of that environment that believes it is on Colab
   (a stand-in ``google.colab`` module is imported at start), so its
   ``%pip install "name==version"`` runs, against that index and no other;
3. pip must ask the index for nothing else, and the install must change none of Colab's
   packages;
4. every lab then runs there in ``smoke``, widgets live, and the widget unit tests run under
   Colab's ipywidgets 7.7.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.exceptions import CellExecutionError
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.colab.package_index import LocalIndex
from tests.environments import colab_versions, installed
from tests.labrun import LABS, ROOT, execute_lab, lab_env, log_execution, summary
from tools.dist import build, project, wheel_metadata
from tools.instructor_kit import STUB_MESSAGE, write_course
from tools.notebook_run import execute
from tools.sync_labs import setup_cell_source

pytestmark = [pytest.mark.colab, pytest.mark.timeout(1200)]
#: The set-up cell's env_report() line for the profile (its column width may change).
SMOKE_PROFILE_RE = re.compile(r"^profile\s*:\s*smoke$", re.MULTILINE)

COLAB_VENV = ROOT / ".venv-colab"
COLAB_PYTHON = COLAB_VENV / "bin" / "python"
#: The distribution's name and version, as pyproject.toml writes them and the set-up cell installs.
NAME, VERSION = project()


def _require_colab_env() -> None:
    """Skip (fail, under CI) when ``make colab-env`` has not built Colab's environment."""
    if (COLAB_VENV / ".installed").exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            "CI must run the Colab test: `make colab-env` builds its environment (make test does; "
            "it needs Python 3.13, see the README)"
        )
    pytest.skip("no Colab environment: `make colab-env` builds it, with a Python 3.13 (see the README)")


def _pins() -> dict[str, str]:
    """``{package: version}`` pinned in requirements.txt (the versions the course is tested with)."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): str(r.specifier).removeprefix("==") for r in reqs}


def colab_lacks(wheel: Path) -> list[str]:
    """The wheel's dependencies that Colab does not preinstall: its set-up cell downloads them."""
    have = colab_versions()
    needs = [canonicalize_name(Requirement(r).name) for r in wheel_metadata(wheel).get_all("Requires-Dist")]
    return sorted(n for n in needs if n not in have)


def _download(names: list[str], dest: Path) -> list[Path]:
    """The wheels of ``names`` at requirements.txt's pins, from the package index (once a session)."""
    pins = _pins()
    unpinned = [n for n in names if n not in pins]
    assert not unpinned, f"{unpinned}: labsupport needs them, Colab lacks them, requirements.txt pins none"
    wanted = [f"{n}=={pins[n]}" for n in names]
    done = subprocess.run(
        [str(COLAB_PYTHON), "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
         "--dest", str(dest), *wanted],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        pytest.fail(
            f"could not download {wanted}, which Colab's pip would fetch from PyPI:\n{done.stderr[-2000:]}"
        )
    return sorted(dest.glob("*.whl"))


def _uninstall(*names: str) -> None:
    """Leave Colab's environment without ``names`` (as a Colab runtime starts)."""
    subprocess.run([str(COLAB_PYTHON), "-m", "pip", "uninstall", "-y", "-q", *names], check=False)


@pytest.fixture(scope="session")
def dist_wheel(tmp_path_factory) -> Path:
    """The wheel ``make dist`` builds (the same code, tools/dist.py), built into a temporary folder."""
    wheel, _ = build(tmp_path_factory.mktemp("dist"))
    return wheel


@pytest.fixture(scope="module")
def colab(request, tmp_path_factory, session_cache):
    """The kernel options, environment and package index for Colab-like kernels."""
    _require_colab_env()
    wheel = request.getfixturevalue("dist_wheel")
    lacks = colab_lacks(wheel)
    # A run that was killed may have left them installed: start from Colab's state.
    _uninstall(NAME, *lacks)
    work = tmp_path_factory.mktemp("colab")
    served = [wheel, *_download(lacks, work / "downloads")]

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
    with LocalIndex(served) as index:
        # pip reads the local index and nothing else: no configuration file (this machine's
        # may add indexes, find-links or constraints), no PIP_* variable but these.
        env = {k: v for k, v in lab_env("smoke", session_cache / "colab").items() if not k.startswith("PIP_")}
        env |= {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_INDEX_URL": index.url,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONPATH": str(work / "stub"),
            "VIRTUAL_ENV": str(COLAB_VENV),
            "PATH": f"{COLAB_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
        }
        kernel = {
            "kernel_name": "colab",
            "kernel_spec_manager": KernelSpecManager(kernel_dirs=[str(kernels)]),
        }
        yield kernel, env, index, lacks
    # Leave Colab's environment as it was, so the next run installs them again.
    _uninstall(NAME, *lacks)


@pytest.fixture(scope="module")
def setup_cell_install(colab, tmp_path_factory):
    """Run the labs' set-up cell alone in a Colab-like kernel (in an empty folder, so that only
    the installed package can be imported); return the packages before and after, its output
    and where the kernel imported labsupport from."""
    kernel, env, index, _ = colab
    before = installed(COLAB_PYTHON)
    assert NAME not in before, f"the Colab environment must start without {NAME}"
    where = "import labsupport\nprint(labsupport.__file__)"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(setup_cell_source()), nbformat.v4.new_code_cell(where)]
    )
    try:
        execute(nb, cwd=tmp_path_factory.mktemp("setup-cell"), env=env, timeout=600, **kernel)
    finally:
        assert not index.unserved(), (
            f"pip asked the package index for {index.unserved()}: on Colab the install would download "
            f"(or change) them; the index serves only {sorted(index.projects)}"
        )
    report = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    imported_from = "".join(o.get("text", "") for o in nb.cells[1].outputs).strip()
    return before, installed(COLAB_PYTHON), report, imported_from


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


def test_setup_cell_installs_the_release_from_the_index_and_changes_nothing_colab_has(
    colab, setup_cell_install, dist_wheel
):
    _, _, index, lacks = colab
    before, after, report, imported_from = setup_cell_install
    assert after.get(NAME) == VERSION, report
    assert set(after) - set(before) == {NAME, *lacks}, f"the install added {sorted(set(after) - set(before))}"
    assert dist_wheel.name in index.downloaded, f"pip did not fetch the built wheel: {index.downloaded}"
    assert Path(imported_from).is_relative_to(COLAB_VENV), f"labsupport imported from {imported_from}"
    changed = {name: (v, after.get(name)) for name, v in before.items() if after.get(name) != v}
    assert not changed, f"the install changed preinstalled packages (before, after): {changed}"
    assert SMOKE_PROFILE_RE.search(report), report
    assert f"labsupport   : {VERSION} ({NAME})" in report, report


@pytest.mark.parametrize("stem", [p.stem for p in LABS])
def test_lab_runs_on_colabs_versions(colab, setup_cell_install, session_cache, stem):
    kernel, env, _, _ = colab
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
    kernel, env, _, _ = colab
    lab = LABS[0]
    course = write_course(tmp_path / "course", [lab])
    released = course / "release" / lab.stem / lab.name
    nb = nbformat.read(released, as_version=4)
    start = time.perf_counter()
    with pytest.raises(CellExecutionError, match=STUB_MESSAGE):
        execute(nb, cwd=released.parent, env=env, timeout=600, **kernel)
    log_execution(lab.stem, "colab-student-version", time.perf_counter() - start, full=False)
    assert SMOKE_PROFILE_RE.search("".join(o.get("text", "") for o in nb.cells[1].outputs))
