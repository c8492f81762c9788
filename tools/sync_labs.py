"""Keep every lab's Colab badge and set-up cell in the canonical form.

The repository address lives in one place, ``_config.yml`` (``repository.url`` and
``repository.branch``); the release tag Colab installs is ``v`` + the version in
``pyproject.toml``. After a fork changes either, ``make sync-labs`` rewrites the labs, and
``tests/test_structure.py`` fails until it has been run.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETUP_MARKER = "# Set-up (the same in every lab)"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def repository() -> tuple[str, str]:
    """(url, branch) of the course repository from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def release_tag() -> str:
    """The git tag Colab installs labsupport from: ``v`` + the package version."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return "v" + meta["project"]["version"]


def setup_cell_source() -> str:
    """The canonical set-up cell."""
    url, _ = repository()
    return (
        f"{SETUP_MARKER}: on Colab, install the course's support package at a pinned release;\n"
        "# locally, `make` has installed it already.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "labsupport @ git+{url}@{release_tag()}"\n'
        "\n"
        "from labsupport import configure_threads, env_report\n"
        "\n"
        "configure_threads()\n"
        "print(env_report())"
    )


def colab_badge(notebook: Path) -> str:
    """Markdown for the "Open in Colab" badge of ``notebook`` (a path inside the repository)."""
    url, branch = repository()
    rel = notebook.resolve().relative_to(ROOT).as_posix()
    github_path = url.removeprefix("https://github.com/")
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{github_path}/blob/{branch}/{rel})"
    )


def sync(notebook: Path) -> bool:
    """Rewrite the badge and set-up cell of one lab; return whether anything changed."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    changed = False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and BADGE_RE.search(source):
            new = BADGE_RE.sub(colab_badge(notebook), source)
        elif cell["cell_type"] == "code" and source.startswith(SETUP_MARKER):
            new = setup_cell_source()
        else:
            continue
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main() -> int:
    for notebook in sorted((ROOT / "labs").glob("*.ipynb")):
        print(f"{'updated' if sync(notebook) else 'unchanged'}: {notebook.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
