"""The instructor kit: from the labs (the single source), what nbgrader makes of them.

``make instructor-kit`` writes ``_build/instructor/``:

* ``student/``: the versions to hand out (``nbgrader generate_assignment``): every solution
  replaced by a stub that says what to do, the graded checks kept and locked, hidden tests
  removed;
* ``solutions/``: the labs as they are in the repository, every solution in place;
* ``course/``: an nbgrader course folder (``nbgrader_config.py``, ``source/``, ``release/``,
  ``gradebook.db``) in which submissions are collected and autograded;
* ``rubric.md``: the points per exercise, read from the labs' nbgrader metadata;
* ``questions/`` and ``capstone_examples.md``: the question bank (10-15 questions with answers
  and an in-class activity per chapter) and three graded example capstone reports, copied from
  ``instructor/``, which the public site never shows.

``collect`` files a learner's downloaded notebook (from Colab or Jupyter) under
``course/submitted/<student>/<lab>/`` and puts back the nbgrader metadata of any exercise cell
that lost it, matching cells by the exercises' own markers, so ``nbgrader autograde`` can grade it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.sync_labs import BADGE_RE, graded_check, written_question

ROOT = Path(__file__).resolve().parent.parent
#: Material for instructors only: copied into the kit, excluded from the book (_config.yml).
INSTRUCTOR_ONLY = ROOT / "instructor"
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
STUB_MESSAGE = "Exercise: replace this line with your answer, then run the graded check below"
NBGRADER_CONFIG = f'''"""nbgrader's settings for the course's labs (written by tools/instructor_kit.py)."""

c = get_config()  # noqa: F821 (nbgrader defines it)
# The stub that replaces every solution: it says what to do, and stops a run there.
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError({STUB_MESSAGE!r})"}}
# Labs train models: a cell may take minutes in the cpu profile (nbgrader's default is 30 s).
c.Execute.timeout = 1800
'''
STUDENT_NOTE = (
    "*Student version: each exercise is a stub to replace with your answer, followed by its "
    "graded check. To hand it in for a class: File → Download → Download .ipynb.*"
)
HEADING_RE = re.compile(r"^### (Exercise \d+[^\n]*)", re.MULTILINE)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lab: its number, title, points and nbgrader cell ids."""

    lab: str
    number: int
    title: str
    points: int

    @property
    def solution_id(self) -> str:
        return f"{self.lab}-exercise-{self.number}"

    @property
    def check_id(self) -> str:
        return f"{self.solution_id}-check"


def lab_title(notebook: Path) -> str:
    """The lab's title, from the first line of its title cell."""
    first = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
    return first.splitlines()[0].removeprefix("# ").strip()


def exercises(notebook: Path) -> list[Exercise]:
    """The lab's exercises, in order, with the points of their graded checks."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    titles = [
        m for c in cells if c["cell_type"] == "markdown" for m in HEADING_RE.findall("".join(c["source"]))
    ]
    found = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell["cell_type"] == "code":
            number, points = graded_check("".join(cell["source"])) or (0, 0)
            if (
                meta.get("points") != points
                or meta.get("grade_id") != f"{notebook.stem}-exercise-{number}-check"
            ):
                raise ValueError(
                    f"{notebook.name}: exercise {number}'s metadata is stale; run `make sync-labs`"
                )
            found.append(Exercise(notebook.stem, number, "", points))
    if len(titles) != len(found):
        raise ValueError(f"{notebook.name}: {len(titles)} exercise headings but {len(found)} graded checks")
    return [Exercise(e.lab, e.number, _title(t), e.points) for e, t in zip(found, titles, strict=True)]


@dataclass(frozen=True)
class WrittenQuestion:
    """A question answered in prose and graded by hand, with its points."""

    lab: str
    number: int
    title: str
    points: int

    @property
    def answer_id(self) -> str:
        return f"{self.lab}-written-{self.number}"


def written_questions(notebook: Path) -> list[WrittenQuestion]:
    """The lab's written questions, in order (their model answers and rubrics are in the lab)."""
    found = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and (numbered := written_question(source)) is not None:
            heading = next(line for line in source.splitlines() if line.startswith("### Written question"))
            title = heading.partition(":")[2].strip() or heading.removeprefix("### ")
            found.append(WrittenQuestion(notebook.stem, numbered[0], title, numbered[1]))
    return found


def _title(heading: str) -> str:
    """``Exercise 4 (experiment): an MLP as big`` -> ``an MLP as big (experiment)``."""
    label, _, title = heading.partition(":")
    return title.strip() + (" (experiment)" if "(experiment)" in label else "")


def rubric_markdown(labs: list[Path] = LABS) -> str:
    """The grading rubric as a Markdown table, with each lab's total."""
    lines = ["| Lab | Exercise | What is graded | Points |", "|---|---|---|---|"]
    for lab in labs:
        graded = exercises(lab)
        lines += [
            f"| {lab_title(lab) if e.number == 1 else ''} | {e.number} | {e.title} | {e.points} |"
            for e in graded
        ]
        written = written_questions(lab)
        lines += [f"| | W{w.number} | {w.title} (written, graded by hand) | {w.points} |" for w in written]
        total = sum(e.points for e in graded) + sum(w.points for w in written)
        lines.append(f"| | | **total** | **{total}** |")
    return "\n".join(lines) + "\n"


def nbgrader(
    course: Path, *args: str, timeout: int = 3600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the command ``nbgrader <args>`` in the course folder, as an instructor does, with
    ``env`` (default: this process's); fail with its output if it fails.

    This Python's scripts folder goes first on ``PATH``: nbgrader runs ``alembic`` from there.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = env if env is not None else dict(os.environ)
    env = env | {"PATH": os.pathsep.join([bin_dir, env.get("PATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


STEPS = ("generate_assignment", "autograde", "generate_feedback")


def grade_step(
    course: Path, step: str, assignment: str, student: str | None = None, config: dict | None = None
) -> str:
    """Run one nbgrader step in this process, through nbgrader's own API (``NbGraderAPI``) with
    the course's ``nbgrader_config.py`` and ``config`` on top; return its log, or fail with it.

    The same work as ``nbgrader <step>``, without starting a Python and importing nbgrader for
    each step. ``config`` is nested like traitlets' (``{"Execute": {"timeout": 60}}``).
    """
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config, PyFileConfigLoader

    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}, got {step!r}")
    if not (course / "nbgrader_config.py").is_file():
        raise ValueError(f"{course} is not a course folder (no nbgrader_config.py); see write_course")
    if shutil.which("alembic") is None:
        bin_dir = Path(sys.executable).parent
        raise RuntimeError(
            f"nbgrader runs the command alembic, which is not on PATH: put {bin_dir} first on it"
        )
    settings = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    settings.merge(Config(config or {}))
    settings.CourseDirectory.root = str(course)
    api = NbGraderAPI(config=settings)
    if step == "generate_assignment":
        result = api.generate_assignment(assignment, force=True, create=True)
    elif step == "autograde":
        result = api.autograde(assignment, student, force=True, create=True)
    else:
        result = api.generate_feedback(assignment, student, force=True)
    if not result.get("success"):
        raise RuntimeError(
            f"nbgrader {step} {assignment} {student or ''} failed:\n{result.get('log')}\n{result.get('error')}"
        )
    return result.get("log", "")


def _for_students(notebook: Path) -> dict:
    """The lab with a note under its Colab badge (which opens the student version) saying
    what the student version is."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    title = nb["cells"][0]
    source = BADGE_RE.sub(lambda m: f"{m.group(0)}\n\n{STUDENT_NOTE}", "".join(title["source"]), count=1)
    title["source"] = source.splitlines(keepends=True)
    return nb


def write_course(course: Path, labs: list[Path] = LABS, *, extra_config: str = "") -> Path:
    """An nbgrader course folder with ``labs`` as assignments, their student versions released;
    ``extra_config`` is appended to its ``nbgrader_config.py`` (the tests' settings)."""
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG + extra_config, encoding="utf-8")
    for lab in labs:
        source = course / "source" / lab.stem / lab.name
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(
            json.dumps(_for_students(lab), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        grade_step(course, "generate_assignment", lab.stem)
    return course


def build_kit(out: Path, labs: list[Path] = LABS) -> None:
    """Write the student versions, the solutions, the course folder and the rubric into ``out``."""
    from tools.student_versions import student_version  # it imports this module

    if out.exists():
        shutil.rmtree(out)
    course = write_course(out / "course", labs)
    for folder in ("student", "solutions"):
        (out / folder).mkdir(parents=True)
    for lab in labs:
        (out / "student" / lab.name).write_text(student_version(lab, course), encoding="utf-8")
        shutil.copy2(lab, out / "solutions" / lab.name)
    (out / "rubric.md").write_text("# Points per exercise\n\n" + rubric_markdown(labs), encoding="utf-8")
    (out / "README.md").write_text(KIT_README, encoding="utf-8")
    if INSTRUCTOR_ONLY.is_dir():
        shutil.copytree(INSTRUCTOR_ONLY, out, dirs_exist_ok=True)


def collect(course: Path, lab: str, student: str, notebook: Path) -> list[str]:
    """File ``notebook`` as ``student``'s submission of ``lab``; return what had to be repaired.

    Cells that lost their nbgrader metadata (some editors drop it) get it back from the
    released version: a solution cell is the code cell holding the stub's or a solution's
    place before a ``# Graded check`` cell, matched in order.
    """
    release = course / "release" / lab / f"{lab}.ipynb"
    if not release.is_file():
        raise ValueError(f"{course} has no released {lab!r} (expected {release}); run `make instructor-kit`")
    if not notebook.is_file():
        raise ValueError(f"no notebook at {notebook}")
    released = json.loads(release.read_text(encoding="utf-8"))
    wanted = [c["metadata"]["nbgrader"] for c in released["cells"] if "nbgrader" in c.get("metadata", {})]
    wanted_answers = [m for m in wanted if "-written-" in m["grade_id"]]
    wanted = [m for m in wanted if "-written-" not in m["grade_id"]]
    try:
        submitted = json.loads(notebook.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{notebook} is not a notebook (.ipynb is JSON): {error}") from None
    code = [c for c in submitted["cells"] if c["cell_type"] == "code"]
    marked = []
    for i, cell in enumerate(code):
        if graded_check("".join(cell["source"])) is not None:
            if i == 0:
                raise ValueError(f"{notebook}: a graded check cell has no solution cell before it")
            marked += [code[i - 1], cell]
    if len(marked) != len(wanted):
        raise ValueError(
            f"{notebook}: expected {len(wanted) // 2} exercises of {lab} (a solution cell, then its "
            f"'# Graded check' cell), found {len(marked) // 2}"
        )
    cells = submitted["cells"]
    answers = [
        cells[i + 1]
        for i, c in enumerate(cells[:-1])
        if c["cell_type"] == "markdown" and written_question("".join(c["source"])) is not None
    ]
    if len(answers) != len(wanted_answers):
        raise ValueError(
            f"{notebook}: expected {len(wanted_answers)} written answers of {lab} (a Markdown cell after "
            f"each '### Written question'), found {len(answers)}"
        )
    marked += answers
    wanted += wanted_answers
    present = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells}
    repaired = []
    for cell, meta in zip(marked, wanted, strict=True):
        if meta["grade_id"] not in present:
            cell.setdefault("metadata", {})["nbgrader"] = dict(meta)
            repaired.append(meta["grade_id"])
    target = course / "submitted" / student / lab / f"{lab}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(submitted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return repaired


KIT_README = """# The instructor kit

Made by `make instructor-kit` from the labs in `labs/`; rerun it after changing a lab.

- `student/`: hand these out (solutions replaced by a stub, graded checks kept, hidden tests
  removed). Students run them in Jupyter, on a JupyterHub, or in Colab (File → Upload
  notebook); the set-up cell installs `labsupport` there.
- `solutions/`: every solution in place; for instructors and teaching assistants.
- `rubric.md`: the points per exercise.
- `course/`: the nbgrader course folder.
- `questions/`: per chapter, 10-15 concept and reading-check questions with answers, and an
  in-class activity (not on the public site).
- `capstone_examples.md`: three capstone reports (strong, adequate, weak) graded against the
  rubric, to calibrate the hand-graded points.

## Grading

1. File each submission (a downloaded `.ipynb`):

       python -m tools.instructor_kit collect \\
           _build/instructor/course 03_memorization alice alice.ipynb

   This also restores any exercise metadata the student's editor dropped.
2. Grade (in `course/`; `LABSUPPORT_PROFILE=smoke` grades in seconds, the default `cpu` in
   about the lab's cpu time):

       cd _build/instructor/course
       LABSUPPORT_PROFILE=smoke python -m nbgrader autograde 03_memorization
       python -m nbgrader generate_feedback 03_memorization

   Scores are in `gradebook.db` (`python -m nbgrader export` writes `grades.csv`); each
   student's feedback is `feedback/<student>/<lab>/<lab>.html`.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write the kit")
    build.add_argument("--out", type=Path, default=ROOT / "_build" / "instructor")
    take = commands.add_parser("collect", help="file a learner's notebook for autograding")
    take.add_argument("course", type=Path)
    take.add_argument("lab", choices=[lab.stem for lab in LABS])
    take.add_argument("student")
    take.add_argument("notebook", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        build_kit(args.out)
        print(f"The kit: {args.out} (student/, solutions/, course/, rubric.md, questions/)")
    else:
        repaired = collect(args.course, args.lab, args.student, args.notebook)
        print(f"filed {args.notebook} for {args.student}; metadata restored on {repaired or 'no cell'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
