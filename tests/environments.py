"""The package versions of the environments the course is tested in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
COLAB_VERSIONS = ROOT / "colab_versions.txt"
#: Packages of colab_versions.txt that are Colab's kernel, not labsupport dependencies.
KERNEL_STACK = frozenset({"ipykernel", "ipython", "traitlets", "jupyter-client"})


def colab_versions() -> dict[str, str]:
    """``{package: version}`` that Colab has preinstalled (colab_versions.txt), ``python`` included."""
    lines = [line for line in COLAB_VERSIONS.read_text().splitlines() if line.strip() and line[0] != "#"]
    reqs = [Requirement(line) for line in lines]
    if not all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in reqs):
        raise ValueError(f"{COLAB_VERSIONS.name} must list exact versions (name==version), got {lines}")
    return {r.name.lower(): next(iter(r.specifier)).version for r in reqs}


def installed(python: Path) -> dict[str, str]:
    """``{package: version}`` of everything installed in the environment of ``python``."""
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}
