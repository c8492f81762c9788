"""A Sphinx extension: the instructor guide's tables, generated from the labs at build time.

Three directives, so the pages cannot drift from the labs:

* ``{course-syllabus}``: one lab a week, with each lab's objectives and prerequisites (from
  its title cell), its measured times (``benchmarks/lab_times.md``) and its points;
* ``{course-rubric}``: the points of every exercise (the labs' nbgrader metadata);
* ``{reference-run}``: every lab's "you measured / the paper reports" table from the course's
  reference run (``labsupport/reference_run.json``, which the effect layer keeps equal to the
  labs' own cpu runs).

Each page that uses them is rebuilt when a lab or the timings change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sphinx.util.docutils import SphinxDirective

from tools.instructor_kit import LABS, exercises, lab_title, rubric_markdown, written_questions
from tools.sync_labs import LAB_TIMES, LEARNER_RE, time_text

ROOT = Path(__file__).resolve().parent.parent

OBJECTIVES_RE = re.compile(
    r"\*\*Learning objectives\.\*\*(?P<objectives>.*?)\*\*Prerequisites\.\*\*(?P<pre>.*?)\*\*(?:Learner time|Time)\*\*",
    re.S,
)


def lab_outline(notebook: Path) -> tuple[str, str]:
    """``(objectives, prerequisites)``: the Markdown of the lab's title cell for each."""
    title = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
    match = OBJECTIVES_RE.search(title)
    if match is None:
        raise ValueError(
            f"{notebook.name}: the title cell needs 'Learning objectives', 'Prerequisites' and 'Time'"
        )
    return match["objectives"].strip(), match["pre"].strip()


def chapter_of(lab: Path) -> str:
    """The stem of the chapter a lab belongs to: the one page of ``chapters/`` with its number."""
    number = lab.stem.split("_", 1)[0]
    found = sorted((ROOT / "chapters").glob(f"{number}_*.md"))
    if len(found) != 1:
        raise ValueError(f"{lab.name}: expected one chapter chapters/{number}_*.md, found {len(found)}")
    return found[0].stem


def learner_hours(notebook: Path) -> str:
    """The lab's learner-time estimate from its title cell (``≈ 2 h 20 min``), or ``—``."""
    title = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
    match = LEARNER_RE.search(title)
    return match.group(0).split(":", 1)[0].removeprefix("**Learner time** ").strip() if match else "—"


def syllabus_markdown(labs: list[Path] = LABS) -> str:
    """The syllabus: a summary table, then each week's objectives and prerequisites."""
    lines = [
        "| Week | Read | Do | Learner time (estimated) | Machine time (measured) | Points |",
        "|---|---|---|---|---|---|",
    ]
    for week, lab in enumerate(labs, start=1):
        points = sum(e.points for e in exercises(lab)) + sum(w.points for w in written_questions(lab))
        lines.append(
            f"| {week} | {{doc}}`../chapters/{chapter_of(lab)}` | {{doc}}`../labs/{lab.stem}` | "
            f"{learner_hours(lab)} | {time_text(lab.stem) or 'not measured'} | {points} |"
        )
    for week, lab in enumerate(labs, start=1):
        objectives, prerequisites = lab_outline(lab)
        lines += ["", f"**Week {week}: {lab_title(lab)}.** Prerequisites: {prerequisites}", "", objectives]
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """The reference run's tables, one section per lab, each linking to its lab."""
    from labsupport.ledger import LEVERS, reference_run

    reference = reference_run()
    lines = []
    for lab in LABS:
        rows = reference["labs"][lab.stem]
        lines += [
            "",
            f"**{lab_title(lab)}** ({LEVERS[lab.stem]}; {{doc}}`open the lab <../labs/{lab.stem}>`)",
            "",
            "| | the reference run measured | the paper reports |",
            "|---|---|---|",
        ]
        lines += [f"| {quantity} | {measured} | {paper} |" for quantity, measured, paper in rows]
    return "\n".join(lines) + "\n"


class _Generated(SphinxDirective):
    """Parse generated MyST Markdown in place; rebuild when the labs or the timings change."""

    def markdown(self) -> str:
        raise NotImplementedError

    def run(self) -> list[Any]:
        for path in [*LABS, LAB_TIMES, ROOT / "labsupport" / "reference_run.json"]:
            self.env.note_dependency(str(path))
        return self.parse_text_to_nodes(self.markdown())


class Syllabus(_Generated):
    def markdown(self) -> str:
        return syllabus_markdown()


class Rubric(_Generated):
    def markdown(self) -> str:
        return rubric_markdown()


class ReferenceRun(_Generated):
    def markdown(self) -> str:
        return reference_markdown()


def setup(app: Any) -> dict[str, Any]:
    """Register ``course-syllabus``, ``course-rubric`` and ``reference-run``."""
    app.add_directive("course-syllabus", Syllabus)
    app.add_directive("course-rubric", Rubric)
    app.add_directive("reference-run", ReferenceRun)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
