"""The package for the index (``make dist``, tools/dist.py): what the wheel holds and what it says.

The wheel and sdist are built once for this module, by the code ``make dist`` runs, into a
temporary folder (a few seconds: the tests that need them are marked ``slow``). The name and
version are checked against ``pyproject.toml``, the one place they are written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import labsupport
from labsupport.env import DISTRIBUTION, env_report
from tests.colab.package_index import LocalIndex
from tests.environments import colab_versions
from tools.dist import build, check, file_stem, project, wheel_metadata
from tools.sync_labs import setup_cell_source

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "labsupport" / "weights"
#: Folders of the course that are not the package: none of them may reach the wheel or the sdist.
COURSE_ONLY = ("tests/", "tools/", "labs/", "chapters/", "benchmarks/", "instructor/", "_static/")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """``(wheel, sdist)``, built from this checkout as ``make dist`` builds them."""
    return build(tmp_path_factory.mktemp("dist"))


def test_the_name_and_version_are_pyprojects_and_env_report_names_them():
    name, version = project()
    assert name == DISTRIBUTION, f"labsupport/env.py's DISTRIBUTION is {DISTRIBUTION!r}, pyproject's {name!r}"
    assert labsupport.__version__ == version, (
        f"the installed labsupport says {labsupport.__version__}, pyproject.toml {version}: `make setup`"
    )
    assert f"labsupport   : {version} ({name})" in env_report()


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_its_weights_and_nothing_of_the_course(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        outside = sorted(n for n in names if not n.startswith(("labsupport/", f"{file_stem()}.dist-info/")))
        assert not outside, f"the wheel holds files outside the package: {outside}"
        modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "labsupport").rglob("*.py")}
        assert not modules - names, f"modules missing from the wheel: {sorted(modules - names)}"
        assert not [n for n in names if n.endswith(".pyc")], "the wheel holds compiled files"
        assert "labsupport/reference_run.json" in names
        weights = sorted(WEIGHTS.glob("*.pt"))
        assert weights, f"no weights in {WEIGHTS}"
        for pt in weights:
            member = f"labsupport/weights/{pt.name}"
            for needed in (member, f"{member}.sha256", f"labsupport/weights/{pt.stem}.json"):
                assert needed in names, f"the wheel lacks {needed}"
            recorded = z.read(f"{member}.sha256").decode().split()[0]
            assert hashlib.sha256(z.read(member)).hexdigest() == recorded, f"{member} fails its checksum"


@pytest.mark.slow
def test_the_sdist_holds_the_package_data_and_nothing_of_the_course(built):
    _, sdist = built
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"pyproject.toml", "labsupport/__init__.py", "labsupport/weights/course_model.pt"} <= names
    course = sorted(n for n in names if n.startswith(COURSE_ONLY))
    assert not course, f"the sdist holds course files (MANIFEST.in prunes them): {course}"


@pytest.mark.slow
def test_metadata_names_the_release_its_licence_and_ranges_colab_satisfies(built):
    meta = wheel_metadata(built[0])
    name, version = project()
    assert (meta["Name"], meta["Version"]) == (name, version)
    assert meta["License-Expression"] == "MIT", f"License-Expression is {meta['License-Expression']!r}"
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert {canonicalize_name(r.name) for r in requires} == {
        canonicalize_name(Requirement(d).name) for d in declared
    }, "Requires-Dist differs from pyproject.toml's dependencies"
    colab = colab_versions()
    assert SpecifierSet(meta["Requires-Python"]).contains(colab["python"]), meta["Requires-Python"]
    for req in requires:
        have = colab.get(canonicalize_name(req.name))
        # mnist1d is not preinstalled: the set-up cell installs it from the index (tests/colab).
        if have is not None:
            assert req.specifier.contains(have, prereleases=True), (
                f"Colab has {req.name} {have}, the wheel requires {req}: installing it would change Colab's"
            )


@pytest.mark.slow
def test_twine_accepts_the_wheel_and_the_sdist(built):
    check(list(built))


@pytest.mark.slow
def test_twine_check_fails_on_a_description_the_index_cannot_render(built, tmp_path):
    wheel, _ = built
    broken = tmp_path / wheel.name
    metadata = f"{file_stem()}.dist-info/METADATA"
    with zipfile.ZipFile(wheel) as z, zipfile.ZipFile(broken, "w") as out:
        for item in z.infolist():
            data = z.read(item)
            if item.filename == metadata:
                head = data.decode().split("\n\n", 1)[0].replace("text/markdown", "text/x-rst")
                data = (head + "\n\nTitle\n=====\n\n`a link that never closes <\n").encode()
            out.writestr(item, data)
    with pytest.raises(subprocess.CalledProcessError):
        check([broken])


@pytest.mark.slow
def test_the_set_up_cells_requirement_installs_the_built_wheel_from_an_index(built, tmp_path):
    """The install line of the set-up cell, as it stands, against an index that holds the wheel:
    pip finds it by name and version, checks its sha256 and installs the weights with it."""
    wheel, _ = built
    line = next(x for x in setup_cell_source().splitlines() if "%pip install" in x)
    requirement = line.split('"')[1]
    assert Requirement(requirement).name == DISTRIBUTION
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {
        "PIP_CONFIG_FILE": os.devnull,  # no other index, no find-links, no constraints
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    with LocalIndex([wheel]) as index:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "--target",
             str(tmp_path / "site"), "--index-url", index.url, requirement],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert index.asked == [DISTRIBUTION] and index.downloaded == [wheel.name]
    assert (tmp_path / "site" / "labsupport" / "weights" / "course_model.pt").is_file()
