"""pyproject.toml (ranges), requirements.txt (pins), requirements.lock (the whole environment,
hashed) and environment.yml must not drift apart, and `make` must install from the lock."""

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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


def read_lock(text: str) -> dict[str, tuple[Requirement, list[str], str]]:
    """requirements.lock's entries: ``{name: (requirement, sha256 hashes, its "# via" comment)}``."""
    entries: dict[str, tuple[Requirement, list[str], str]] = {}
    # an entry is a line at column 0 continued by backslashes, then indented "# via" comments
    for block in re.split(r"\n(?=[^\s#])", text.strip()):
        if block.startswith("#"):  # the header
            continue
        spec, _, via = block.partition("# via")
        words = spec.replace("\\\n", " ").split()
        req = Requirement(words[0])
        hashes = [w.removeprefix("--hash=sha256:") for w in words[1:] if w.startswith("--hash=sha256:")]
        if len(words) != 1 + len(hashes):
            raise ValueError(f"requirements.lock: unexpected options in {block!r}")
        entries[canonicalize_name(req.name)] = (req, hashes, via)
    return entries


@pytest.fixture(scope="module")
def lock(root):
    return read_lock((root / "requirements.lock").read_text())


def test_the_lock_parser_reads_an_entry_and_refuses_an_unhashed_one():
    text = (
        "# header\nfoo-bar==1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "    # via\n    #   -r requirements.txt\n    #   baz\nqux==2.0 \\\n    --hash=sha256:cc\n    # via baz\n"
    )
    entries = read_lock(text)
    assert list(entries) == ["foo-bar", "qux"] and entries["foo-bar"][1] == ["aa", "bb"]
    assert "-r requirements.txt" in entries["foo-bar"][2] and "-r requirements.txt" not in entries["qux"][2]
    with pytest.raises(ValueError, match="unexpected options"):
        read_lock("foo==1.0 \\\n    --index-url https://example.org")


def test_every_pin_is_locked_at_its_version(pins, lock):
    for name, version in pins.items():
        key = canonicalize_name(name)
        assert key in lock, (
            f"{name} is pinned in requirements.txt but not in requirements.lock: run make lock"
        )
        locked = next(iter(lock[key][0].specifier)).version
        assert locked == version, (
            f"requirements.txt pins {name}=={version}, the lock has {locked}: run make lock"
        )


def test_the_lock_pins_and_hashes_every_package(lock):
    assert len(lock) > 100, f"the lock holds {len(lock)} packages: the whole environment, not the top level"
    for name, (req, hashes, _) in lock.items():
        specifiers = list(req.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{req} is not an exact pin"
        assert not req.marker and not req.extras, f"{req}: the lock is for one platform, without markers"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{name}: no sha256 hash"


def test_the_lock_was_made_from_these_pins(pins, lock):
    """The lock's top level is requirements.txt: a pin removed by hand leaves no orphan behind."""
    top = {name for name, (_, _, via) in lock.items() if "-r requirements.txt" in via}
    assert top == {canonicalize_name(n) for n in pins}, "requirements.lock is stale: run make lock"


def test_make_installs_from_the_lock(root):
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.M)
    stamp = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert stamp, "the Makefile has no $(STAMP) rule"
    assert "$(LOCK)" in stamp.group(1).split(), "the set-up stamp must depend on the lock"
    installs = [line for line in stamp.group(2).splitlines() if "pip install" in line]
    assert any("--require-hashes -r $(LOCK)" in line for line in installs), installs
    assert any("--no-deps --no-build-isolation -e ." in line for line in installs), installs
    assert not any("requirements.txt" in line for line in installs), "install from the lock, not the pins"
    assert re.search(
        r"^lock:.*\n(?:\t.*\n)*\t.*uv pip compile requirements\.txt .*--generate-hashes", makefile, re.M
    )


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


def test_ranges_admit_colabs_kernel_stack(ranges):
    """labsupport imports IPython (Colab's kernel stack): its range admits Colab's version too."""
    needed = KERNEL_STACK & set(ranges)
    assert "ipython" in needed, "labsupport imports IPython: declare it in pyproject.toml"
    for name in needed:
        version = colab_versions()[name]
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
    """`make` may run set-up many times; a second install from the lock must not touch torch
    (or anything): the lock holds exactly the versions .venv has."""
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
            "--require-hashes",
            "-r",
            str(root / "requirements.lock"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Would install" not in result.stdout, result.stdout
