"""A Sphinx extension: the instructor guide's tables, generated from the labs at build time.

Three directives, so the pages cannot drift from the labs:

* ``{course-syllabus}``: one lab a week, with each lab's objectives and prerequisites (from
  its title cell), its measured times (``benchmarks/lab_times.md``) and its points;
* ``{course-rubric}``: the points of every exercise (the labs' nbgrader metadata);
* ``{course-plans}``: the course in four weeks and as a two-lecture unit, with each part's
  reading and lab time estimated from the pages themselves (the 8-week plan is the syllabus);
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
from tools.sync_labs import LAB_TIMES, LEARNER_RE, WORDS_PER_MINUTE, _duration, _five, time_text

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


#: Chapters are read as study, slower than a lab's prose: dense text, equations and figures.
CHAPTER_WORDS_PER_MINUTE = WORDS_PER_MINUTE // 2


def reading_minutes(chapter: str, section: str | None = None) -> int:
    """Minutes to study ``chapters/<chapter>.md`` (or one ``## section`` of it), code and markup left out."""
    text = (ROOT / "chapters" / f"{chapter}.md").read_text(encoding="utf-8")
    if section is not None:
        match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
        if match is None:
            raise ValueError(f"chapters/{chapter}.md has no section '## {section}'")
        text = match[1]
    text = re.sub(r"```\{code-cell\}.*?```", " ", text, flags=re.S)
    text = re.sub(r"\{(?:cite|doc|ref)(?::\w+)?\}`[^`]*`", " ", text)
    return _five(len(re.findall(r"[A-Za-z]+", text)) / CHAPTER_WORDS_PER_MINUTE)


def lab_minutes(lab: Path) -> int:
    """The lab's learner-time estimate from its title cell, in minutes."""
    match = re.search(r"(?:(\d+) h )?(\d+) min", learner_hours(lab))
    if match is None:
        raise ValueError(f"{lab.name}: its title cell has no learner-time estimate (make sync-labs)")
    return 60 * int(match[1] or 0) + int(match[2])


def syllabus_markdown(labs: list[Path] = LABS) -> str:
    """The syllabus: a summary table, then each week's objectives and prerequisites."""
    lines = [
        "| Week | Read | Reading (estimated) | Do | Learner time (estimated) | Machine time (measured) | Points |",
        "|---|---|---|---|---|---|---|",
    ]
    for week, lab in enumerate(labs, start=1):
        points = sum(e.points for e in exercises(lab)) + sum(w.points for w in written_questions(lab))
        chapter = chapter_of(lab)
        lines.append(
            f"| {week} | {{doc}}`../chapters/{chapter}` | ≈ {_duration(reading_minutes(chapter))} | "
            f"{{doc}}`../labs/{lab.stem}` | {learner_hours(lab)} | {time_text(lab.stem) or 'not measured'} | "
            f"{points} |"
        )
    for week, lab in enumerate(labs, start=1):
        objectives, prerequisites = lab_outline(lab)
        lines += ["", f"**Week {week}: {lab_title(lab)}.** Prerequisites: {prerequisites}", "", objectives]
    return "\n".join(lines) + "\n"


#: The shorter plans: (part, what it is for, chapters to read, labs to do). Chapter numbers;
#: a chapter read "in part" is given as (number, section heading).
PLANS: dict[str, list[tuple[str, str, list[int | tuple[int, str]], list[int]]]] = {
    "Four weeks": [
        ("Week 1", "how big is a model, and what does size buy?", [1, 2], [2]),
        ("Week 2", "what big models do with their capacity, and how they teach small ones", [3, 4], [4]),
        ("Week 3", "sparsity, precision and serving: making size affordable", [5, 6, 7], [6]),
        ("Week 4", "the verdict, and the capstone as the final project", [8], [8]),
    ],
    "A two-lecture unit inside a deep-learning course": [
        ("Lecture 1", "scaling laws, Chinchilla, and counting inference", [2, (8, "Counting inference: train smaller, for longer")], [2]),
        ("Lecture 2", "what else buys quality: a teacher, samples, sparsity, precision; the verdict",
         [(8, "Small models from big ones"), (8, "Compute at answer time: many tries and a verifier"),
          (8, "The levers"), (8, "The verdict")], [8]),
    ],
}  # fmt: skip


def _chapter(number: int) -> str:
    found = sorted((ROOT / "chapters").glob(f"{number:02d}_*.md"))
    if len(found) != 1:
        raise ValueError(f"PLANS names chapter {number}: expected one chapters/{number:02d}_*.md")
    return found[0].stem


def plans_markdown() -> str:
    """The four-week plan and the two-lecture unit, with reading and lab time per part."""
    labs = {int(lab.stem[:2]): lab for lab in LABS}
    lines = []
    for plan, parts in PLANS.items():
        lines += [
            "",
            f"**{plan}.**",
            "",
            "| | for | read | do | learner time (estimated) |",
            "|---|---|---|---|---|",
        ]
        for part, purpose, chapters, work in parts:
            reading, read = 0, []
            for entry in chapters:
                number, section = entry if isinstance(entry, tuple) else (entry, None)
                stem = _chapter(number)
                reading += reading_minutes(stem, section)
                if section is None:
                    read.append(f"{{doc}}`../chapters/{stem}`")
                else:
                    read.append(f'{{doc}}`../chapters/{stem}`, section "{section}"')
            doing = sum(lab_minutes(labs[n]) for n in work)
            do = ", ".join(f"{{doc}}`../labs/{labs[n].stem}`" for n in work)
            lines.append(
                f"| {part} | {purpose} | {'; '.join(read)} | {do} | ≈ {_duration(reading + doing)} |"
            )
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


class Plans(_Generated):
    def markdown(self) -> str:
        return plans_markdown()


class ReferenceRun(_Generated):
    def markdown(self) -> str:
        return reference_markdown()


def setup(app: Any) -> dict[str, Any]:
    """Register ``course-syllabus``, ``course-plans``, ``course-rubric`` and ``reference-run``."""
    app.add_directive("course-syllabus", Syllabus)
    app.add_directive("course-plans", Plans)
    app.add_directive("course-rubric", Rubric)
    app.add_directive("reference-run", ReferenceRun)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
