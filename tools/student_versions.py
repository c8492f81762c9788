"""The student versions in ``labs/student/``: what every Colab badge opens.

Each is nbgrader's own student version of a lab (``generate_assignment``: every solution
replaced by a stub that stops a run with :data:`tools.instructor_kit.STUB_MESSAGE`, the graded
checks kept and locked, hidden tests and model answers removed), with one thing added: after
each graded check, a link to that exercise's worked solution on the course site, where it is
collapsed under the exercise, for a self-learner who has tried first.

``make sync-labs`` writes them; ``tests/test_grading.py`` regenerates them in its nbgrader
course and fails when a committed one differs, and runs each one as a learner does.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import yaml
from docutils.nodes import make_id

from tools.instructor_kit import LABS, write_course
from tools.sync_labs import ROOT, graded_check

STUDENT_DIR = ROOT / "labs" / "student"
HEADING_RE = re.compile(r"^### (Exercise (\d+)[^\n]*)", re.M)


def site_url() -> str:
    """The course site's address (``html.baseurl`` in ``_config.yml``), ending in ``/``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["html"]["baseurl"].rstrip("/") + "/"


def heading_anchor(heading: str) -> str:
    """The id the site gives a Markdown heading: Sphinx's ``make_id`` of its text (math and
    code marks dropped, as the rendered title has them)."""
    return make_id(re.sub(r"[$`*]", "", heading))


def solution_links(lab: Path) -> dict[str, str]:
    """``{check cell's grade id: Markdown linking to that exercise's solution on the site}``."""
    cells = json.loads(lab.read_text(encoding="utf-8"))["cells"]
    links = {}
    for cell in cells:
        match = HEADING_RE.search("".join(cell["source"])) if cell["cell_type"] == "markdown" else None
        if match:
            number = match.group(2)
            url = f"{site_url()}labs/{lab.stem}.html#{heading_anchor(match.group(1))}"
            links[f"{lab.stem}-exercise-{number}-check"] = (
                f"*Stuck after a real try?* Compare with [the worked solution to Exercise {number}]"
                f"({url}) on the course site, where it is folded under the exercise."
            )
    return links


def finish(lab: Path, released: dict) -> dict:
    """nbgrader's release of ``lab`` with a solution link after each graded check."""
    links = solution_links(lab)
    title = released["cells"][0]
    # the badge's image, relative to labs/student/ instead of labs/
    title["source"] = "".join(title["source"]).replace("](../_static/", "](../../_static/").splitlines(True)
    cells = []
    for cell in released["cells"]:
        cells.append(cell)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell["cell_type"] == "code" and graded_check("".join(cell["source"])) is not None:
            if grade_id not in links:
                raise ValueError(f"{lab.name}: the graded check {grade_id!r} has no '### Exercise N' heading")
            cells.append(
                {
                    "cell_type": "markdown",
                    "id": f"{grade_id}-solution"[-64:],
                    "metadata": {},
                    "source": links[grade_id].splitlines(keepends=True),
                }
            )
    return released | {"cells": cells}


def student_version(lab: Path, course: Path) -> str:
    """The text of ``lab``'s student version, from the release in nbgrader ``course``."""
    released = json.loads((course / "release" / lab.stem / lab.name).read_text(encoding="utf-8"))
    return json.dumps(finish(lab, released), indent=1, ensure_ascii=False) + "\n"


def write_all(labs: list[Path] = LABS) -> list[Path]:
    """Write ``labs/student/<lab>.ipynb`` for every lab (through a throw-away nbgrader course);
    return the ones that changed."""
    changed = []
    STUDENT_DIR.mkdir(exist_ok=True)
    # nbgrader runs alembic, from this Python's scripts folder
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryDirectory() as work:
        course = write_course(Path(work) / "course", labs)
        for lab in labs:
            target, text = STUDENT_DIR / lab.name, student_version(lab, course)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                changed.append(target)
    return changed
