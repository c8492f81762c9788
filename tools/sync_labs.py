"""Keep every lab's Colab badge, set-up cell, diagrams, exercise metadata and outputs in the canonical form.

The repository address lives in one place, ``_config.yml`` (``repository.url`` and
``repository.branch``); the package's name and version live in ``pyproject.toml``. On Colab
the set-up cell installs ``name==version`` from the package index, and the Colab badges open
the release's tag, ``v`` + that version. After a fork changes any of them, ``make sync-labs``
rewrites the labs, and ``tests/test_structure.py`` fails until it has been run. The same goes
for the measured times in each lab's title cell, which come from ``benchmarks/lab_times.md``
(``make bench``), and for its estimate of the ``gpu`` profile on a Colab T4, from
``benchmarks/gpu_estimates.md`` (``python -m tools.gpu_estimate``).

Each exercise is a solution cell and, right after it, a graded check cell whose first line is
``# Graded check: exercise N (P points)``; from that line this script writes both cells'
nbgrader metadata (``tools/instructor_kit.py`` and nbgrader read it) and the solution cell's
"Show the solution" toggle for the website.

Labs are committed without outputs, with one exception: a cell marked
``# NBVAL_CHECK_OUTPUT`` keeps its (small, deterministic, text) output, because that stored
output is what nbval compares a fresh run against. ``--record`` re-executes the labs in the
``smoke`` profile and stores those outputs; every run strips all other outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from pathlib import Path

import yaml

from tools.bench_tables import markdown_table
from tools.dist import project
from tools.lab_diagrams import diagram_name, strip_images, sync_cell

ROOT = Path(__file__).resolve().parent.parent
SETUP_MARKER = "# Set-up (the same in every lab)"
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
LAB_TIMES = ROOT / "benchmarks" / "lab_times.md"
TIME_RE = re.compile(r"smoke ≈ \d+ s · cpu ≈ \d+ s")
GPU_ESTIMATES = ROOT / "benchmarks" / "gpu_estimates.md"
GPU_RE = re.compile(r"gpu: not measured yet|gpu on a free Colab T4 ≈ \d+ min \(estimate\)")
WRITTEN_RE = re.compile(r"^### Written question (?P<n>\d+) \((?P<points>\d+) points?, graded by hand\)", re.M)
# A written answer's model answer sits between nbgrader's markers hidden in HTML comments, so
# neither Jupyter nor the site shows them (nbgrader finds its markers anywhere in a line).
ANSWER_RE = re.compile(r"^<!-- BEGIN SOLUTION -->$.*^<!-- END SOLUTION -->$", re.S | re.M)
CHECK_HEADER_RE = re.compile(r"# Graded check: exercise (?P<n>\d+) \((?P<points>\d+) points?\)")
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def repository() -> tuple[str, str]:
    """(url, branch) of the course repository from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def release_tag() -> str:
    """The release's git tag, which the Colab badges open: ``v`` + the package version."""
    return "v" + project()[1]


def setup_cell_source() -> str:
    """The canonical set-up cell: on Colab it installs this release of the course's package,
    by name and version, from the package index (``make dist`` builds it)."""
    name, version = project()
    return (
        f"{SETUP_MARKER}: on Colab, install this release of the course's\n"
        "# support package from the package index; locally, `make` has installed it already.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{name}=={version}"\n'
        "\n"
        "from labsupport import configure_threads, env_report\n"
        "\n"
        "configure_threads()\n"
        "print(env_report())"
    )


def colab_url(notebook: Path) -> str:
    """Where Colab opens ``notebook``'s student version (``labs/student/``), at the release
    the set-up cell installs, so the notebook and its ``labsupport`` always match."""
    url, _ = repository()
    github_path = url.removeprefix("https://github.com/")
    return (
        f"https://colab.research.google.com/github/{github_path}/blob/{release_tag()}"
        f"/labs/student/{notebook.name}"
    )


def colab_badge(notebook: Path) -> str:
    """Markdown for the "Open in Colab" badge of a lab: it opens the lab's student version.

    The badge image is the course's own (``_static/open-in-colab.svg``, by a relative path), so
    the book shows it offline; GitHub and Jupyter resolve the path too.
    """
    return f"[![Open In Colab](../_static/open-in-colab.svg)]({colab_url(notebook)})"


def measured_times() -> dict[str, tuple[int, int]]:
    """``{lab stem: (smoke seconds, cpu seconds)}`` from the table ``make bench`` writes (its
    ``smoke (s)`` and ``cpu (s)`` columns)."""
    columns = ("smoke (s)", "cpu (s)")
    return {
        lab: (int(row[columns[0]]), int(row[columns[1]]))
        for lab, row in markdown_table(LAB_TIMES).items()
        if all(row.get(c, "").isdigit() for c in columns)
    }


def gpu_minutes() -> dict[str, int]:
    """``{lab stem: minutes}`` of the ``gpu`` profile on a free Colab T4, estimated by
    ``python -m tools.gpu_estimate`` (the ``T4 minutes (estimate)`` column); empty without it."""
    if not GPU_ESTIMATES.exists():
        return {}
    column = "T4 minutes (estimate)"
    rows = markdown_table(GPU_ESTIMATES).items()
    return {lab: int(row[column]) for lab, row in rows if row.get(column, "").isdigit()}


def gpu_text(stem: str) -> str | None:
    """The title cell's phrase for the ``gpu`` profile, or None while the lab has no estimate."""
    minutes = gpu_minutes().get(stem)
    return None if minutes is None else f"gpu on a free Colab T4 ≈ {minutes} min (estimate)"


def time_text(stem: str) -> str | None:
    """The measured-times phrase of a lab's title cell, or None if the lab was not measured."""
    measured = measured_times().get(stem)
    return None if measured is None else f"smoke ≈ {measured[0]} s · cpu ≈ {measured[1]} s"


#: How a lab's learner time is estimated (the title cell says so): reading speed for prose,
#: minutes per code cell (read, run, look at the output), per exercise, per written question
#: and per prediction.
WORDS_PER_MINUTE = 200
MINUTES_PER = {"code cell": 1.5, "exercise": 15, "written question": 10, "prediction": 2}
LEARNER_RE = re.compile(r"\*\*Learner time\*\*[^\n]*")


def _five(minutes: float) -> int:
    return max(5, 5 * round(minutes / 5))


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def learner_time(nb: dict, cpu_seconds: int | None) -> str:
    """The title cell's learner-time line, estimated from the lab's own words and cells."""
    cells = nb["cells"][1:]
    text = " ".join(strip_images("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    exercises = sum("### BEGIN SOLUTION" in c for c in code)
    written = sum(
        written_question("".join(c["source"])) is not None for c in cells if c["cell_type"] == "markdown"
    )
    predictions = sum(len(re.findall(r"^\w+ = predict\(", c, re.M)) for c in code)
    reading = len(re.findall(r"\w+", text)) / WORDS_PER_MINUTE + MINUTES_PER["code cell"] * len(code)
    tasks = (
        MINUTES_PER["exercise"] * exercises
        + MINUTES_PER["written question"] * written
        + MINUTES_PER["prediction"] * predictions
    )
    runs = (cpu_seconds or 0) / 60
    total = _five(reading) + _five(tasks) + _five(runs)
    return (
        f"**Learner time** ≈ {_duration(total)}: reading and running ≈ {_five(reading)} min, "
        f"{exercises} exercises, {written} written question{'s' * (written != 1)} and "
        f"{predictions} predictions ≈ {_five(tasks)} min, waiting for the `cpu` runs ≈ {_five(runs)} min "
        f"(estimated by `tools/sync_labs.py`: {WORDS_PER_MINUTE} words a minute, "
        f"{MINUTES_PER['code cell']} min per code cell, {MINUTES_PER['exercise']} per exercise, "
        f"{MINUTES_PER['written question']} per written question)."
    )


def is_checked(cell: dict) -> bool:
    """Whether nbval compares this code cell's output with the stored one."""
    return cell["cell_type"] == "code" and "".join(cell["source"]).lstrip().startswith(CHECK_MARKER)


def nbgrader_metadata(notebook: Path, index: int) -> dict:
    """nbgrader's metadata for the ``index``-th exercise's solution cell of ``notebook``.

    With it, ``nbgrader generate_assignment`` replaces each ``### BEGIN SOLUTION`` ...
    ``### END SOLUTION`` region with a stub, which gives instructors the student version.
    """
    return {
        "grade": False,
        "grade_id": f"{notebook.stem}-exercise-{index}",
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }


def check_metadata(notebook: Path, index: int, points: int) -> dict:
    """nbgrader's metadata for the graded check cell of the ``index``-th exercise: locked (a
    student cannot change it; autograde restores it, hidden tests included) and worth
    ``points``."""
    return {
        "grade": True,
        "grade_id": f"{notebook.stem}-exercise-{index}-check",
        "locked": True,
        "points": points,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }


def written_metadata(notebook: Path, index: int, points: int) -> dict:
    """nbgrader's metadata for the answer cell of the ``index``-th written question: a Markdown
    solution cell graded by hand, worth ``points``. ``generate_assignment`` replaces the model
    answer and rubric (between the solution markers) with "YOUR ANSWER HERE"."""
    return {
        "grade": True,
        "grade_id": f"{notebook.stem}-written-{index}",
        "locked": False,
        "points": points,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }


def written_question(source: str) -> tuple[int, int] | None:
    """``(question number, points)`` from a written question's heading cell, or None."""
    match = WRITTEN_RE.search(source)
    return None if match is None else (int(match["n"]), int(match["points"]))


def _sync_written(notebook: Path, cells: list[dict]) -> None:
    """Number the written questions in order and give each answer cell (the Markdown cell after
    the question, holding a model answer between solution markers) its nbgrader metadata."""
    number = 0
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "markdown" or (found := written_question(source)) is None:
            continue
        number += 1
        answer = cells[i + 1] if i + 1 < len(cells) else None
        if (
            answer is None
            or answer["cell_type"] != "markdown"
            or not ANSWER_RE.search("".join(answer["source"]))
        ):
            raise ValueError(
                f"{notebook.name}: written question {number} needs a Markdown answer cell right after it, "
                "with a model answer and its rubric between <!-- BEGIN SOLUTION --> and <!-- END SOLUTION -->"
            )
        cell["source"] = WRITTEN_RE.sub(
            f"### Written question {number} ({found[1]} points, graded by hand)", source, count=1
        ).splitlines(keepends=True)
        answer["metadata"]["nbgrader"] = written_metadata(notebook, number, found[1])


SOLUTION_VIEW = {"code_prompt_show": "Show the solution", "code_prompt_hide": "Hide the solution"}


def graded_check(source: str) -> tuple[int, int] | None:
    """``(exercise number, points)`` from a graded check cell's first line, or None."""
    match = CHECK_HEADER_RE.match(source)
    return None if match is None else (int(match["n"]), int(match["points"]))


def _sync_exercises(notebook: Path, cells: list[dict]) -> None:
    """Number each exercise's check cell, and give both cells their nbgrader metadata.

    The solution cell is collapsed on the website (tag ``hide-input`` and a "Show the
    solution" toggle); the check cell right after it is shown.
    """
    code = [c for c in cells if c["cell_type"] == "code"]
    exercises = 0
    for i, cell in enumerate(code):
        if "### BEGIN SOLUTION" not in "".join(cell["source"]):
            continue
        exercises += 1
        following = "".join(code[i + 1]["source"]) if i + 1 < len(code) else ""
        if (found := graded_check(following)) is None:
            raise ValueError(
                f"{notebook.name}: exercise {exercises} needs a graded check cell right after its "
                "solution, starting with '# Graded check: exercise N (P points)'"
            )
        _, points = found
        check = code[i + 1]
        check["source"] = CHECK_HEADER_RE.sub(
            f"# Graded check: exercise {exercises} ({points} points)", following, count=1
        ).splitlines(keepends=True)
        check["metadata"]["nbgrader"] = check_metadata(notebook, exercises, points)
        cell["metadata"]["nbgrader"] = nbgrader_metadata(notebook, exercises)
        tags = cell["metadata"].setdefault("tags", [])
        if "hide-input" not in tags:
            tags.append("hide-input")
        cell["metadata"]["mystnb"] = dict(SOLUTION_VIEW)


def _record_checked_outputs(notebook: Path, nb: dict) -> None:
    """Execute ``nb`` in the smoke profile and copy the outputs of checked cells into it."""
    import nbformat

    from tools.notebook_run import execute

    env = os.environ | {"LABSUPPORT_PROFILE": "smoke", "LABSUPPORT_WIDGETS": "static"}
    executed = nbformat.reads(json.dumps(nb), as_version=4)
    execute(executed, cwd=notebook.parent, env=env, timeout=600)
    for cell, done in zip(nb["cells"], executed.cells, strict=True):
        if is_checked(cell):
            cell["outputs"] = [dict(o) for o in done.outputs]
            cell["execution_count"] = 1


def _new_cell_id(taken: set) -> str:
    """A short random cell id that is not in ``taken``."""
    while (new := uuid.uuid4().hex[:8]) in taken:
        pass
    return new


def sync(notebook: Path, *, record: bool = False) -> bool:
    """Rewrite badge, set-up cell and outputs of one lab; return whether anything changed."""
    text = notebook.read_text(encoding="utf-8")
    nb = json.loads(text)
    changed = False
    if record:
        _record_checked_outputs(notebook, nb)
    taken = {cell.get("id") for cell in nb["cells"]}
    for cell in nb["cells"]:
        if "id" not in cell:  # nbformat 4.5 requires one per cell; new cells get a fresh one
            cell["id"] = _new_cell_id(taken)
            taken.add(cell["id"])
        if cell["cell_type"] == "code" and not is_checked(cell):
            cell["outputs"], cell["execution_count"] = [], None
        cell.setdefault("metadata", {}).pop("execution", None)
    _sync_exercises(notebook, nb["cells"])
    _sync_written(notebook, nb["cells"])
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and BADGE_RE.search(source):
            new = BADGE_RE.sub(colab_badge(notebook), source)
            if (measured := time_text(notebook.stem)) is not None:
                new = TIME_RE.sub(measured, new, count=1)
            if (gpu := gpu_text(notebook.stem)) is not None:
                new = GPU_RE.sub(gpu, new, count=1)
            line = learner_time(nb, measured_times().get(notebook.stem, (0, None))[1])
            if LEARNER_RE.search(new):
                new = LEARNER_RE.sub(line, new, count=1)
            else:
                new = new.replace("\n**Time**", f"\n{line}\n\n**Time**", 1)
        elif cell["cell_type"] == "markdown" and diagram_name(source):
            new = sync_cell(source)
        elif cell["cell_type"] == "code" and source.startswith(SETUP_MARKER):
            new = setup_cell_source()
        else:
            continue
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    new_text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new_text != text:
        notebook.write_text(new_text, encoding="utf-8")
        changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", type=Path, help="notebooks (default: labs/*.ipynb)")
    parser.add_argument("--record", action="store_true", help="re-run labs to store checked outputs")
    args = parser.parse_args(argv)
    labs = [n.resolve() for n in args.labs] or sorted((ROOT / "labs").glob("*.ipynb"))
    for notebook in labs:
        changed = sync(notebook, record=args.record)
        print(f"{'updated' if changed else 'unchanged'}: {notebook}")
    from tools.student_versions import write_all  # nbgrader: imported only when it is needed

    for student in write_all(labs):
        print(f"updated: {student.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
