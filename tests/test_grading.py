"""The instructor kit, run through real nbgrader on every lab (``tools/instructor_kit.py``).

One nbgrader course holds all eight labs (one gradebook), driven in this process through
nbgrader's API (``instructor_kit.grade_step``), its kernels on ipc sockets, with a cell
timeout of 5 minutes. For each lab ``generate_assignment`` makes the student version; two
submissions are autograded in ``smoke``:

* ``colab``: the student version with every exercise solved but one, answered wrong the way a
  learner might, then "downloaded from Colab" (Colab's metadata added, nbgrader's removed, ids
  changed) and filed with ``instructor_kit.collect``, executed by nbgrader: it loses exactly
  that exercise's points, nbgrader's maximum is the rubric's total, and its feedback names the
  exercise and says what is wrong;
* ``solver``: the lab as it is in the repository (every solution), as nbval executed it in this
  session (the run store's ``smoke`` run), graded by nbgrader without executing it again: full
  marks. (Without that run, as when this file runs alone, nbgrader executes the lab itself.)

And the student version a Colab badge opens (``labs/student/``, committed) is nbgrader's own,
regenerated here, and, run as a learner runs it (every cell in order), stops at its first
exercise with the stub's message.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearOutput, Execute

from tests.labrun import LABS, lab_env, log_execution, stored
from tools.instructor_kit import (
    STUB_MESSAGE,
    collect,
    exercises,
    grade_step,
    write_course,
    written_questions,
)
from tools.notebook_run import execute, nbgrader_kernel_config, socket_prefix
from tools.student_versions import STUDENT_DIR, student_version
from tools.sync_labs import colab_url, setup_cell_source

pytestmark = [pytest.mark.grading, pytest.mark.timeout(1800)]

#: The test course's own settings: ipc kernels, and a cell that hangs fails in 5 minutes
#: instead of being interrupted and followed by the next cell's wait.
TEST_CONFIG = (
    "\n# The tests' settings (tests/test_grading.py):\n"
    "c.Execute.timeout = 300\n"
    "c.Execute.interrupt_on_timeout = False\n"
)
#: nbgrader's autograde of an already executed notebook: outputs kept, nothing run again.
GRADE_AS_EXECUTED = {
    "Autograde": {
        "sanitize_preprocessors": [
            p for p in Autograde.class_traits()["sanitize_preprocessors"].default() if p is not ClearOutput
        ],
        "autograde_preprocessors": [
            p for p in Autograde.class_traits()["autograde_preprocessors"].default() if p is not Execute
        ],
    }
}

# lab -> (the exercise answered wrong, the wrong answer, what the check's message names)
WRONG = {
    "01_complexity": (  # multiply-adds, not FLOPs: the factor 2 forgotten
        1,
        "c = channels\nreturn c * 9 * 28 * 28 + 2 * c * c * 9 * 14 * 14 + 2 * c * 7 * 7 * 10",
        "cnn_flops",
    ),
    "02_scaling_laws": (  # the irreducible loss E forgotten
        3,
        "return (law.A / target) ** (1 / law.alpha)",
        "law_N(size_for_loss(law_N, target))",
    ),
    "03_memorization": (1, "return fraction", "wrong_fraction"),  # a new label may be the old one
    "04_distillation": (  # the T² factor forgotten
        1,
        "soft = F.kl_div(\n    F.log_softmax(student_logits / T, dim=1),\n"
        "    F.softmax(teacher_logits / T, dim=1),\n    reduction='none',\n).sum(dim=1)\n"
        "hard = F.cross_entropy(\n    student_logits, labels, ignore_index=UNLABELED, reduction='none'\n)\n"
        "return (alpha * hard + (1 - alpha) * soft).mean()",
        "distillation_loss",
    ),
    "05_mixture_of_experts": (  # the factor N forgotten
        1,
        "f = F.one_hot(chosen, probs.shape[1]).float().mean(dim=(0, 1))\n"
        "return (f * probs.mean(dim=0)).sum()",
        "balance_loss",
    ),
    "06_efficient_deployment": (  # one scale for the whole tensor
        1,
        "qmax = 2 ** (bits - 1) - 1\nscale = w.abs().max() / qmax\n"
        "return torch.round(w / scale).clamp(-qmax, qmax) * scale",
        "per-channel int8",
    ),
    "07_serving": (  # full_forward's causal attention copied into the step: wrong once t < positions
        1,
        "B, t = new.shape\n"
        "start = cache[0][0].shape[2] if cache else 0\n"
        "x = model.tok(new) + model.pos(torch.arange(start, start + t, device=new.device))\n"
        "for layer, block in enumerate(model.blocks):\n"
        "    d, heads = x.shape[2], block.n_heads\n"
        "    q, k, v = block.qkv(block.ln1(x)).split(d, dim=2)\n"
        "    q, k, v = (z.view(B, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))\n"
        "    if layer < len(cache):\n"
        "        k = torch.cat([cache[layer][0], k], dim=2)\n"
        "        v = torch.cat([cache[layer][1], v], dim=2)\n"
        "        cache[layer] = [k, v]\n"
        "    else:\n"
        "        cache.append([k, v])\n"
        "    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)\n"
        "    x = x + block.proj(y.transpose(1, 2).reshape(B, t, d))\n"
        "    x = x + block.out(F.gelu(block.fc(block.ln2(x))))\n"
        "return model.ln(x) @ model.tok.weight.T",
        "attends over every cached key",
    ),
    "08_capstone": (6, "return 1.0 - (1 - c / n) ** k", "drawn with replacement"),  # pass@k with replacement
}
ROOT_LABS = {lab.stem: lab for lab in LABS}
SOLUTION_RE = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION", re.S | re.M)


@dataclass
class Graded:
    course: Path
    scores: dict[str, dict[str, float]]  # student -> grade id (and "total", "max") -> score
    repaired: list[str]
    unsolved_error: CellExecutionError | None
    unsolved: nbformat.NotebookNode


def _answered(lab: Path, released: dict, wrong: tuple[int, str, str]) -> dict:
    """The student version with the lab's solutions filled in, exercise ``wrong[0]`` answered wrong."""
    solutions = {
        c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
        for c in json.loads(lab.read_text(encoding="utf-8"))["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    number, answer, _ = wrong
    for cell in released["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            source = solutions[grade_id]
            if grade_id == f"{lab.stem}-exercise-{number}":
                source = SOLUTION_RE.sub(lambda m: textwrap.indent(answer, m.group(1)), source)
            cell["source"] = source.splitlines(keepends=True)
    return released


def _downloaded_from_colab(nb: dict) -> dict:
    """What the worst-case editor hands back: Colab's metadata in, nbgrader's out, new ids."""
    nb["metadata"]["colab"] = {"provenance": [], "toc_visible": True}
    nb["metadata"]["accelerator"] = "GPU"
    for cell in nb["cells"]:
        cell["id"] = uuid.uuid4().hex[:12]
        cell["metadata"] = {"id": cell["id"]}
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran on Colab\n"]}]
            cell["execution_count"] = 1
    return nb


def _scores(course: Path, lab: str, student: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(lab, lab, student)
        scores = {grade.name: grade.score for grade in submission.grades}
        return scores | {"total": submission.score, "max": submission.max_score}


def _run_unsolved(released: Path, cache: Path) -> tuple[CellExecutionError | None, nbformat.NotebookNode]:
    """Run the student version cell by cell, as Jupyter's "Run all" does; stop at the first error."""
    nb = nbformat.read(released, as_version=4)
    start = time.perf_counter()
    try:
        execute(nb, cwd=released.parent, env=lab_env("smoke", cache), timeout=600)
    except CellExecutionError as error:
        return error, nb
    finally:
        log_execution(released.stem, "student-version", time.perf_counter() - start, full=False)
    return None, nb


def _autograde_lab(lab: Path, course: Path, work: Path) -> tuple[dict, list[str]]:
    """``lab``'s two submissions filed and autograded: (scores, what collect repaired)."""
    released = course / "release" / lab.stem / lab.name
    answered = _answered(lab, json.loads(released.read_text(encoding="utf-8")), WRONG[lab.stem])
    download = work / f"{lab.stem}-from-colab.ipynb"
    download.write_text(json.dumps(_downloaded_from_colab(answered)), encoding="utf-8")
    repaired = collect(course, lab.stem, "colab", download)
    start = time.perf_counter()
    grade_step(course, "autograde", lab.stem, "colab")
    log_execution(lab.stem, "nbgrader", time.perf_counter() - start)
    grade_step(course, "generate_feedback", lab.stem, "colab")

    executed = stored("smoke", lab.stem)  # nbval's run in this session, if any
    if executed is None:
        collect(course, lab.stem, "solver", lab)
        start = time.perf_counter()
        grade_step(course, "autograde", lab.stem, "solver")
        log_execution(lab.stem, "nbgrader-solver", time.perf_counter() - start)
    else:
        path = work / f"{lab.stem}-executed.ipynb"
        nbformat.write(executed, path)
        collect(course, lab.stem, "solver", path)
        grade_step(course, "autograde", lab.stem, "solver", GRADE_AS_EXECUTED)
    return {student: _scores(course, lab.stem, student) for student in ("solver", "colab")}, repaired


@pytest.fixture(scope="module")
def graded(tmp_path_factory, session_cache, monkeypatch_module) -> dict[str, Graded]:
    """Every lab graded, one at a time, in one course."""
    monkeypatch_module.setenv("LABSUPPORT_PROFILE", "smoke")
    work = tmp_path_factory.mktemp("grading")
    sockets = socket_prefix()  # one folder for nbgrader's kernels, which start one at a time
    course = write_course(work / "course", LABS, extra_config=TEST_CONFIG + nbgrader_kernel_config(sockets))
    graded = {}
    try:
        for lab in LABS:
            scores, repaired = _autograde_lab(lab, course, work)
            # the committed student version, which every Colab badge opens
            opened = STUDENT_DIR / lab.name
            graded[lab.stem] = Graded(course, scores, repaired, *_run_unsolved(opened, session_cache))
    finally:
        shutil.rmtree(Path(sockets).parent, ignore_errors=True)
    return graded


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


STEMS = [lab.stem for lab in LABS]


@pytest.mark.parametrize("stem", STEMS)
def test_the_solutions_score_full_marks(graded, stem):
    """nbgrader's own grading of the lab's solutions as they ran (nbval's run, or its own)."""
    scores = graded[stem].scores["solver"]
    total = sum(e.points for e in exercises(ROOT_LABS[stem]))
    written = written_questions(ROOT_LABS[stem])
    assert written, f"{stem}: no written question graded by hand"
    assert scores["max"] == total + sum(w.points for w in written) > total > 0
    assert scores["total"] == total, f"{stem}: the solutions lose points: {scores}"
    for w in written:
        # autograding leaves a written answer to the instructor: no points until graded by hand
        assert scores[w.answer_id] == 0, f"{stem}: written question {w.number} was graded automatically"


@pytest.mark.parametrize("stem", STEMS)
def test_a_wrong_answer_from_colab_loses_its_points_and_the_feedback_says_why(graded, stem):
    result = graded[stem]
    number, _, named = WRONG[stem]
    wrong = next(e for e in exercises(ROOT_LABS[stem]) if e.number == number)
    written = written_questions(ROOT_LABS[stem])
    graded_ids = (
        {e.solution_id for e in exercises(ROOT_LABS[stem])}
        | {e.check_id for e in exercises(ROOT_LABS[stem])}
        | {w.answer_id for w in written}
    )
    assert set(result.repaired) == graded_ids, "collect must restore the metadata Colab dropped"
    scores = result.scores["colab"]
    by_hand = sum(w.points for w in written)
    auto = sum(e.points for e in exercises(ROOT_LABS[stem]))
    assert scores["max"] == auto + by_hand and auto > 0, "the rubric's total"
    assert scores[wrong.check_id] == 0
    assert scores["total"] == auto - wrong.points, scores
    feedback = (result.course / "feedback" / "colab" / stem / f"{stem}.html").read_text(encoding="utf-8")
    assert f"Graded check: exercise {number} ({wrong.points} points)" in feedback
    assert "AssertionError" in feedback and named in feedback, "the feedback must say what is wrong"


@pytest.mark.parametrize("stem", STEMS)
def test_an_unsolved_student_version_stops_at_its_first_exercise(graded, stem):
    result = graded[stem]
    assert result.unsolved_error is not None, f"{stem}: the unsolved student version ran to the end"
    assert "NotImplementedError" in str(result.unsolved_error) and STUB_MESSAGE in str(result.unsolved_error)
    code = [c for c in result.unsolved.cells if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(code) if any(o.output_type == "error" for o in c.outputs))
    grade_id = code[failed].metadata.get("nbgrader", {}).get("grade_id", "")
    assert grade_id in (f"{stem}-exercise-1", f"{stem}-exercise-1-check"), (
        f"{stem}: the run stopped at code cell {failed}, not at exercise 1"
    )
    assert all(c.execution_count is None for c in code[failed + 1 :]), "no cell may run after the error"


@pytest.mark.parametrize("stem", STEMS)
def test_the_student_version_hides_solutions_and_hidden_tests_and_keeps_the_setup_cell(graded, stem):
    released = (graded[stem].course / "release" / stem / f"{stem}.ipynb").read_text(encoding="utf-8")
    source = ROOT_LABS[stem].read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in released, f"{stem}: the student version shows {marker}"
    assert "BEGIN HIDDEN TESTS" in source, f"{stem}: the lab has no hidden test"
    cells = json.loads(released)["cells"]
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert "".join(first_code["source"]) == setup_cell_source(), "the set-up cell must stay as it is (Colab)"
    badges = re.findall(r"https://colab\.research\.google\.com/[^)\s]+", "".join(cells[0]["source"]))
    assert badges == [colab_url(ROOT_LABS[stem])], (
        "the student version's badge opens itself, never the solutions"
    )


@pytest.mark.parametrize("stem", STEMS)
def test_the_committed_student_version_is_nbgraders_own(graded, stem):
    committed = (STUDENT_DIR / f"{stem}.ipynb").read_text(encoding="utf-8")
    assert committed == student_version(ROOT_LABS[stem], graded[stem].course), (
        f"labs/student/{stem}.ipynb is out of date with labs/{stem}.ipynb: run `make sync-labs`"
    )
    links = [
        c for c in json.loads(committed)["cells"] if "the worked solution to Exercise" in "".join(c["source"])
    ]
    assert len(links) == len(exercises(ROOT_LABS[stem])), "every exercise links to its solution on the site"
