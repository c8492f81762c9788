"""The instructors' question bank (``instructor/questions/``): 10-15 answered questions and an
in-class activity for every chapter. It goes into the instructor kit, not onto the site."""

import re

import pytest

QUESTION = re.compile(r"^(\d+)\. \*\*(.+?)\*\*(.*?)(?=^\d+\. \*\*|^## |\Z)", re.S | re.M)


def _chapters(root):
    return sorted(p.stem for p in (root / "chapters").glob("0[1-8]_*.md"))


def test_every_chapter_has_its_questions(root):
    have = sorted(p.stem for p in (root / "instructor" / "questions").glob("*.md"))
    assert have == _chapters(root)


@pytest.mark.parametrize("chapter", [f"0{n}" for n in range(1, 9)])
def test_ten_to_fifteen_answered_questions_and_an_activity(root, chapter):
    path = next((root / "instructor" / "questions").glob(f"{chapter}_*.md"))
    text = path.read_text()
    questions = QUESTION.findall(text.split("## In-class activity")[0])
    assert 10 <= len(questions) <= 15, f"{path.name}: {len(questions)} questions"
    assert [int(n) for n, _, _ in questions] == list(range(1, len(questions) + 1)), path.name
    unanswered = [title for _, title, body in questions if "*Answer.*" not in body]
    assert not unanswered, f"{path.name}: no answer for {unanswered}"
    activity = text.split("## In-class activity", 1)
    assert len(activity) == 2 and re.search(r"\*\*.+\*\* \(\d+ minutes", activity[1]), path.name
