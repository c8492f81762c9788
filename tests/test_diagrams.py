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


def _lab_diagram_cells(root):
    """``(lab, diagram name, cell source)`` for every diagram cell of every lab."""
    import json

    from tools.lab_diagrams import diagram_name

    for lab in sorted((root / "labs").glob("0*.ipynb")):
        for cell in json.loads(lab.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and (name := diagram_name(source)):
                yield lab.stem, name, source


def test_every_diagram_is_shown_in_a_lab_too(root):
    """Each mechanism's diagram sits where the lab meets that mechanism."""
    shown = {name for _, name, _ in _lab_diagram_cells(root)}
    missing = sorted({d.name for d in DIAGRAMS} - shown)
    assert not missing, f"diagrams no lab shows: {missing}"


def test_a_labs_diagram_is_the_committed_svg_with_its_chapters_alt_text(root):
    """The lab's copy (a data URL, so Colab shows it) is exactly the file, described exactly as
    the chapter describes it; `make sync-labs` redraws it."""
    import base64
    import html

    from tools.lab_diagrams import IMG_RE, chapter_alt

    for lab, name, source in _lab_diagram_cells(root):
        img = IMG_RE.search(source)
        assert img, f"{lab}: the {name} cell has no image: run `make sync-labs`"
        data = re.search(r"base64,([^\"]*)", img.group(0)).group(1)
        assert base64.b64decode(data) == (OUT / f"{name}.svg").read_bytes(), f"{lab}: {name} is stale"
        alt = re.search(r'alt="([^"]*)"', img.group(0)).group(1)
        assert html.unescape(alt) == chapter_alt(name), f"{lab}: {name}'s alt text differs from the chapter's"
        caption = IMG_RE.sub("", source.partition("\n")[2]).strip()
        assert len(caption.split()) >= 10, f"{lab}: {name} needs a caption that ties it to the lab"


def test_sync_cell_redraws_the_image_and_keeps_the_caption():
    from tools.lab_diagrams import IMG_RE, sync_cell

    bare = "<!-- diagram: lora -->\n\n*A caption.*"
    drawn = sync_cell(bare)
    assert IMG_RE.search(drawn) and drawn.endswith("\n\n*A caption.*")
    assert sync_cell(drawn) == drawn, "syncing twice changes nothing"
    assert sync_cell("## Not a diagram") == "## Not a diagram"
    with pytest.raises(ValueError, match="no diagram named"):
        sync_cell("<!-- diagram: no_such_thing -->\n")
