"""tools/instructor_kit.py and the exercise metadata of tools/sync_labs.py, without running nbgrader
(tests/test_grading.py runs it)."""

import json
import shutil

import pytest

from tools.instructor_kit import LABS, collect, exercises, rubric_markdown, written_questions
from tools.sync_labs import _sync_written, sync

LAB = LABS[0]


@pytest.fixture
def course(tmp_path):
    """A course folder whose released Lab 1 is the lab itself (the same nbgrader metadata)."""
    release = tmp_path / "course" / "release" / LAB.stem
    release.mkdir(parents=True)
    shutil.copy2(LAB, release / LAB.name)
    return tmp_path / "course"


def _graded_ids(nb: dict) -> list[str]:
    return [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"] if "nbgrader" in c["metadata"]]


def test_collect_restores_the_metadata_an_editor_dropped(course, tmp_path):
    nb = json.loads(LAB.read_text())
    wanted = _graded_ids(nb)
    for cell in nb["cells"]:
        cell["metadata"] = {}
    download = tmp_path / "download.ipynb"
    download.write_text(json.dumps(nb))
    assert collect(course, LAB.stem, "alice", download) == wanted
    filed = json.loads((course / "submitted" / "alice" / LAB.stem / LAB.name).read_text())
    assert _graded_ids(filed) == wanted


def test_collect_leaves_intact_metadata_alone_even_around_a_scratch_cell(course, tmp_path):
    nb = json.loads(LAB.read_text())
    check = next(i for i, c in enumerate(nb["cells"]) if "# Graded check" in "".join(c["source"]))
    nb["cells"].insert(check, {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": []})
    download = tmp_path / "download.ipynb"
    download.write_text(json.dumps(nb))
    assert collect(course, LAB.stem, "bob", download) == []
    filed = json.loads((course / "submitted" / "bob" / LAB.stem / LAB.name).read_text())
    assert _graded_ids(filed) == _graded_ids(json.loads(LAB.read_text()))


def test_collect_says_what_it_expected(course, tmp_path):
    nb = json.loads(LAB.read_text())
    nb["cells"] = [c for c in nb["cells"] if "# Graded check: exercise 2" not in "".join(c["source"])]
    short = tmp_path / "short.ipynb"
    short.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match=r"expected 4 exercises of 01_complexity .* found 3"):
        collect(course, LAB.stem, "carol", short)
    with pytest.raises(ValueError, match="has no released '02_scaling_laws'"):
        collect(course, "02_scaling_laws", "carol", short)
    (tmp_path / "notes.ipynb").write_text("my notes")
    with pytest.raises(ValueError, match="is not a notebook"):
        collect(course, LAB.stem, "carol", tmp_path / "notes.ipynb")
    with pytest.raises(ValueError, match="no notebook at"):
        collect(course, LAB.stem, "carol", tmp_path / "missing.ipynb")


def test_the_rubric_totals_each_labs_points():
    text = rubric_markdown()
    for lab in LABS:
        written = written_questions(lab)
        assert f"**{sum(e.points for e in exercises(lab)) + sum(w.points for w in written)}**" in text
        assert all(
            f"| W{w.number} | {w.title} (written, graded by hand) | {w.points} |" in text for w in written
        )
    assert all(e.points > 0 for lab in LABS for e in exercises(lab))


def test_sync_numbers_written_questions_and_gives_their_answers_metadata(tmp_path):
    nb = json.loads(LAB.read_text())
    question = next(c for c in nb["cells"] if "### Written question" in "".join(c["source"]))
    question["source"] = "".join(question["source"]).replace("question 1 (2 points", "question 7 (3 points")
    answer = nb["cells"][nb["cells"].index(question) + 1]
    answer["metadata"] = {}
    _sync_written(LAB, nb["cells"])
    renumbered = tmp_path / LAB.name
    renumbered.write_text(json.dumps(nb))
    (found,) = written_questions(renumbered)
    assert (found.number, found.points) == (1, 3)
    meta = answer["metadata"]["nbgrader"]
    assert meta["grade"] and meta["solution"] and meta["points"] == 3
    assert meta["grade_id"] == f"{LAB.stem}-written-1"


def test_sync_refuses_a_written_question_without_an_answer_cell(tmp_path):
    nb = json.loads(LAB.read_text())
    question = next(c for c in nb["cells"] if "### Written question" in "".join(c["source"]))
    del nb["cells"][nb["cells"].index(question) + 1]
    with pytest.raises(ValueError, match="written question 1 needs a Markdown answer cell"):
        _sync_written(LAB, nb["cells"])


def test_stale_points_are_caught(tmp_path):
    nb = json.loads(LAB.read_text())
    check = next(c for c in nb["cells"] if "# Graded check: exercise 1" in "".join(c["source"]))
    check["source"] = "".join(check["source"]).replace("(2 points)", "(5 points)")
    stale = tmp_path / LAB.name
    stale.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="metadata is stale; run `make sync-labs`"):
        exercises(stale)


def test_sync_refuses_an_exercise_without_a_graded_check(tmp_path):
    nb = json.loads(LAB.read_text())
    nb["cells"] = [c for c in nb["cells"] if "# Graded check: exercise 1" not in "".join(c["source"])]
    broken = tmp_path / LAB.name
    broken.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="exercise 1 needs a graded check cell right after its solution"):
        sync(broken)


def test_every_lab_belongs_to_the_one_chapter_with_its_number(tmp_path, monkeypatch):
    from tools import course_tables

    assert [course_tables.chapter_of(lab)[:3] for lab in LABS] == [lab.stem[:3] for lab in LABS]
    assert course_tables.chapter_of(next(lab for lab in LABS if lab.stem.startswith("08"))) == "08_verdict"
    monkeypatch.setattr(course_tables, "ROOT", tmp_path)
    (tmp_path / "chapters").mkdir()
    with pytest.raises(ValueError, match="expected one chapter"):
        course_tables.chapter_of(LABS[0])


def test_the_shorter_plans_name_real_sections_and_add_up_their_times():
    from tools import course_tables

    plans = course_tables.plans_markdown()
    assert plans.count("| Week ") == 4 and plans.count("| Lecture ") == 2
    lab8 = course_tables.lab_minutes(next(lab for lab in LABS if lab.stem.startswith("08")))
    whole = course_tables.reading_minutes("08_verdict")
    part = course_tables.reading_minutes("08_verdict", "The verdict")
    assert 0 < part < whole and lab8 > 60
    with pytest.raises(ValueError, match="no section '## Nowhere'"):
        course_tables.reading_minutes("08_verdict", "Nowhere")


def test_the_capstone_rubric_agrees_with_the_lab(root):
    """The instructor page's capstone table is typed; its exercise row and total must match Lab 8."""
    import re

    page = (root / "chapters" / "instructors.md").read_text()
    table = page.split("(instructors-capstone)=", 1)[1].split("**total**", 1)
    rows = re.findall(r"^\| (.+?) \| .+? \| (\d+) \|$", table[0], flags=re.M)
    lab8 = next(lab for lab in LABS if lab.stem.startswith("08"))
    numbered = exercises(lab8)
    first = dict(rows)[f"exercises 1–{len(numbered)}"]
    assert int(first) == sum(e.points for e in numbered)
    total = int(re.match(r" \| \| \*\*(\d+)\*\*", table[1]).group(1))
    assert total == sum(int(points) for _, points in rows)
