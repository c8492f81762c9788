"""The schematic diagrams: drawn by the code in ``tools/diagrams``, committed, shown with alt text."""

import re

import pytest

from tools.diagrams import DIAGRAMS, OUT, write_all

FIGURE = re.compile(r"```\{figure\} diagrams/(?P<name>[\w-]+)\.svg\n(?P<options>(?: *:\w+:.*\n)*)")


def test_the_committed_files_are_what_the_code_draws(tmp_path):
    """`python -m tools.diagrams` after a change to a diagram's code, and commit the SVG."""
    drawn = {p.name: p.read_bytes() for p in write_all(tmp_path)}
    committed = {p.name: p.read_bytes() for p in OUT.glob("*.svg")}
    assert sorted(committed) == sorted(drawn), "chapters/diagrams/ holds exactly the registered diagrams"
    stale = [name for name in drawn if drawn[name] != committed[name]]
    assert not stale, f"redraw with `python -m tools.diagrams`: {stale}"


def test_drawing_is_deterministic(tmp_path):
    first = {p.name: p.read_bytes() for p in write_all(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in write_all(tmp_path / "b")}
    assert first == second


@pytest.mark.parametrize("diagram", DIAGRAMS, ids=lambda d: d.name)
def test_each_diagram_is_shown_in_its_chapter_with_alt_text_that_says_what_it_shows(root, diagram):
    text = (root / "chapters" / f"{diagram.chapter}.md").read_text()
    uses = [m for m in FIGURE.finditer(text) if m.group("name") == diagram.name]
    assert uses, f"{diagram.chapter}.md has no {{figure}} diagrams/{diagram.name}.svg"
    for use in uses:
        alt = re.search(r"^ *:alt: (.+)$", use.group("options"), flags=re.M)
        assert alt, f"{diagram.name}: the figure needs an :alt: option"
        words = alt.group(1).split()
        assert len(words) >= 12, f"{diagram.name}: alt text should say what the diagram shows"
        assert words[0].lower() not in {"figure", "diagram", "image"}, diagram.name
