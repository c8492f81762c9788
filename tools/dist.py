"""Build the course's package for the package index: ``make dist`` (a wheel and an sdist, checked).

The distribution is named in ``pyproject.toml`` (``project.name``, ``nn-complexity-labs``) and
installs the import package ``labsupport`` with its package data: the course model's and Lab 7's
drafts' weights, their checksums and training records, and the reference run. Colab's set-up
cell installs it by name and version (``tools/sync_labs.py::setup_cell_source``);
``tests/test_dist.py`` checks what this builds, and the Colab layer (``tests/colab/``) installs
the wheel it builds from a local package index.

The build runs on a copy of the checkout's files (tracked, and untracked but not ignored, as on
disk) in a temporary folder, with the venv's own setuptools (``--no-isolation``: nothing is
downloaded). So it never writes into the checkout (no ``build/`` or ``*.egg-info``), two builds
at once cannot collide, and nothing git ignores can slip into the package.
"""

from __future__ import annotations

import argparse
import email
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project() -> tuple[str, str]:
    """``(name, version)`` of the distribution, from ``pyproject.toml``, the one place they are written."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return meta["name"], meta["version"]


def file_stem() -> str:
    """The start of the distribution's file names: ``nn_complexity_labs-0.5.0`` (PEP 427, PEP 625)."""
    name, version = project()
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"


def wheel_metadata(wheel: Path) -> Message:
    """The ``METADATA`` of a wheel this module built (name, version, licence, Requires-Dist, ...)."""
    with zipfile.ZipFile(wheel) as z:
        return email.message_from_bytes(z.read(f"{file_stem()}.dist-info/METADATA"))


def copy_checkout(dest: Path, source: Path = ROOT) -> None:
    """Copy the files of the checkout at ``source`` (tracked, and untracked but not ignored, as
    on disk) into the folder ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        path = source / os.fsdecode(name)
        if path.is_file():  # a tracked file deleted on disk is left out, as git would
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def build(outdir: Path) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from it, into ``outdir``; return ``(wheel, sdist)``."""
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dist-source-") as tmp:
        source = Path(tmp) / "course"
        copy_checkout(source)
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)],
            check=True,
        )
    wheel = outdir / f"{file_stem()}-py3-none-any.whl"
    sdist = outdir / f"{file_stem()}.tar.gz"
    missing = [p.name for p in (wheel, sdist) if not p.is_file()]
    if missing:
        raise RuntimeError(f"the build finished but {missing} are not in {outdir}: look at its output above")
    return wheel, sdist


def check(paths: list[Path]) -> None:
    """``twine check --strict``: the metadata is complete and the description renders on the index.

    Raises ``subprocess.CalledProcessError`` if twine finds a problem (its output says which).
    """
    if not paths:
        raise ValueError("check needs the files to check (a wheel, an sdist), got none")
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, paths)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where to write (default: dist/)")
    args = parser.parse_args(argv)
    # `twine upload dist/*` would upload an older build lying beside the new one: start clean.
    for old in args.out.glob(f"{file_stem().split('-')[0]}-*"):
        old.unlink()
    built = build(args.out)
    check(list(built))
    for path in built:
        print(f"built: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
