"""pyproject.toml (ranges), requirements.txt (pins) and environment.yml must not drift apart."""

import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.environments import KERNEL_STACK, colab_versions


@pytest.fixture(scope="module")
def pins(root):
    lines = (root / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in reqs), (
        "pin exactly"
    )
    return {r.name.lower(): next(iter(r.specifier)).version for r in reqs}


@pytest.fixture(scope="module")
def ranges(root):
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    return {Requirement(d).name.lower(): Requirement(d).specifier for d in meta["project"]["dependencies"]}


def test_every_dependency_is_pinned_within_its_range(pins, ranges):
    for name, specifier in ranges.items():
        assert name in pins, f"{name} is a labsupport dependency but requirements.txt does not pin it"
        assert specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {specifier}"
        )


def test_environment_yml_mirrors_requirements(root, pins):
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {}
    for line in pip_section:
        if line.startswith("-e"):
            continue
        req = Requirement(line)
        listed[req.name.lower()] = next(iter(req.specifier)).version
    assert listed == pins
    assert "-e ." in pip_section, "conda users need labsupport itself"


@pytest.mark.parametrize("name", sorted(set(colab_versions()) - {"python", "pip"} - KERNEL_STACK))
def test_ranges_admit_colab(ranges, name):
    """Installing labsupport on Colab must not replace its packages (ipywidgets 8 over Colab's
    7.7.1 stops widgets from showing: googlecolab/colabtools#3020); tests/colab/ installs it."""
    version = colab_versions()[name]
    assert name in ranges, f"{name} is in colab_versions.txt but not a labsupport dependency"
    assert ranges[name].contains(version), f"{name} {version} (Colab) not in {ranges[name]}"


def test_colabs_kernel_stack_is_pinned():
    """The Colab layer's kernel runs Colab's ipykernel and IPython, not the newest ones."""
    assert set(colab_versions()) >= KERNEL_STACK, f"pin {sorted(KERNEL_STACK)} in colab_versions.txt"


def test_python_range_admits_colab(root):
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert SpecifierSet(meta["project"]["requires-python"]).contains(colab_versions()["python"] + ".0")


def test_ranges_are_ranges_not_pins(ranges):
    for name, specifier in ranges.items():
        assert all(s.operator != "==" for s in specifier), (
            f"pin {name} in requirements.txt, not in pyproject.toml"
        )


def test_installing_again_installs_nothing(root):
    """`make` may run set-up many times; a second install must not touch torch (or anything)."""
    import subprocess
    import sys

    if not (root / ".venv" / ".installed").exists() or not sys.prefix.startswith(str(root / ".venv")):
        pytest.skip("runs inside the .venv that `make` set up")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--disable-pip-version-check",
            "-r",
            str(root / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Would install" not in result.stdout, result.stdout
