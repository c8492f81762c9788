"""labsupport/__init__.py: the public API is what the labs import, plus the exceptions.

The labs are the API's only clients: every name a lab imports from ``labsupport`` must exist
there, and ``__all__`` holds nothing else except exception classes a lab may catch.
"""

import ast
import json
from pathlib import Path

import pytest

import labsupport


def _lab_imports(root) -> dict[str, set[str]]:
    """Name -> labs that import it with ``from labsupport import ...`` (code cells only)."""
    names: dict[str, set[str]] = {}
    for path in sorted((root / "labs").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            # IPython magics (%pip) and shell lines are not Python; keep the line count
            lines = "".join(cell["source"]).splitlines()
            source = "\n".join(
                line[: len(line) - len(line.lstrip())] + "pass"
                if line.lstrip().startswith(("%", "!"))
                else line
                for line in lines
            )
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and node.module == "labsupport":
                    for alias in node.names:
                        names.setdefault(alias.name, set()).add(path.stem)
    return names


@pytest.fixture(scope="module")
def lab_imports(root):
    names = _lab_imports(root)
    assert names, "no lab imports anything from labsupport: the parser is broken"
    return names


def test_every_name_a_lab_imports_is_exported(lab_imports):
    missing = sorted(n for n in lab_imports if not hasattr(labsupport, n))
    assert not missing, f"labs import names labsupport lacks: {missing}"
    unlisted = sorted(n for n in lab_imports if n not in labsupport.__all__)
    assert not unlisted, f"names labs import but __all__ does not list: {unlisted}"


def test_all_holds_only_lab_names_and_exceptions(lab_imports):
    extra = [
        name
        for name in labsupport.__all__
        if name not in lab_imports
        and not (
            isinstance(getattr(labsupport, name), type) and issubclass(getattr(labsupport, name), Exception)
        )
    ]
    assert not extra, f"__all__ exports names no lab imports (import them from their module): {extra}"
    assert len(labsupport.__all__) == len(set(labsupport.__all__)), "a name is listed twice"


def test_the_installed_package_holds_every_subpackage():
    """pip installs what pyproject.toml's package list finds (Colab installs labsupport that
    way): a subpackage it misses works here, from the source tree, and fails on Colab."""
    import tomllib
    from fnmatch import fnmatch

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["packages"]["find"]["include"]
    packages = {
        ".".join(init.parent.relative_to(root).parts) for init in (root / "labsupport").rglob("__init__.py")
    }
    missed = sorted(p for p in packages if not any(fnmatch(p, pattern) for pattern in patterns))
    assert not missed, f"pyproject.toml's packages miss {missed}"
