"""tools/solutions_view.py: the public site collapses solutions, the instructor build opens them.

A two-page Sphinx project (a notebook with an exercise, a page with a ``{solution}`` block) is
built in each view; the full book's build is tested in ``tests/test_book.py``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.solutions_view import cut_hidden_tests

pytestmark = pytest.mark.book
ROOT = Path(__file__).resolve().parent.parent

CONF = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
extensions = ["myst_nb", "sphinx_exercise", "tools.solutions_view"]
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence"]
"""
SOLUTION = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
CHECK = "# Graded check: exercise 1 (2 points)\nassert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS"
PAGE = """# Page

```{exercise}
:label: ex

Double it.
```

```{solution} ex
:class: dropdown

Multiply by two.
```
"""


def _project(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.md").write_text("# Index\n\n```{toctree}\nlab\npage\n```\n")
    (src / "page.md").write_text(PAGE)
    cells = [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Lab"},
        {
            "cell_type": "code",
            "id": "b",
            "metadata": {
                "tags": ["hide-input"],
                "mystnb": {"code_prompt_show": "Show the solution", "code_prompt_hide": "Hide the solution"},
            },
            "source": SOLUTION,
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "id": "c",
            "metadata": {},
            "source": CHECK,
            "outputs": [],
            "execution_count": None,
        },
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    (src / "lab.ipynb").write_text(json.dumps(nb))
    return src


def _build(src: Path, out: Path, mode: str) -> tuple[str, str]:
    env = os.environ | {"COURSE_SOLUTIONS": mode}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return (out / "lab.html").read_text(), (out / "page.html").read_text()


def test_the_public_view_collapses_solutions_and_cuts_hidden_tests(tmp_path):
    lab, page = _build(_project(tmp_path), tmp_path / "out", "collapsed")
    assert '<details class="admonition hide' in lab and "<details open" not in lab
    assert "Show the solution" in lab
    assert "BEGIN HIDDEN TESTS" not in lab and "hidden tests: the autograder runs more cases" in lab
    assert "f(3)" not in lab
    assert "dropdown" in page


def test_the_instructor_view_opens_every_solution_and_keeps_hidden_tests(tmp_path):
    lab, page = _build(_project(tmp_path), tmp_path / "out", "open")
    assert "<details open" in lab and "BEGIN HIDDEN TESTS" in lab
    assert 'class="solution dropdown' not in page and "Multiply by two." in page


def test_a_misspelt_view_is_an_error(tmp_path):
    env = os.environ | {"COURSE_SOLUTIONS": "opened"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(_project(tmp_path)),
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode != 0 and "COURSE_SOLUTIONS must be one of" in result.stdout + result.stderr


def test_cut_hidden_tests_keeps_the_indentation_and_the_rest():
    source = "a = 1\n    ### BEGIN HIDDEN TESTS\n    b = 2\n    ### END HIDDEN TESTS\nc = 3"
    assert cut_hidden_tests(source) == "a = 1\n    # (hidden tests: the autograder runs more cases)\nc = 3"
