"""The book builds with warnings as errors, and the labs' pages carry executed outputs."""

import re

import pytest

pytestmark = pytest.mark.book


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    # Sphinx writes "file:line: WARNING: ..."; a kernel's own log lines ("[IPKernelApp] WARNING |")
    # are not about the book.
    warnings = [line for line in log.splitlines() if "WARNING:" in line]
    assert not warnings, "\n".join(warnings)
    assert (html / "index.html").is_file()


def test_lab_pages_show_executed_outputs_and_launch_buttons(built_book):
    _, html = built_book
    page = (html / "labs" / "01_complexity.html").read_text()
    assert "cell_output" in page, "the lab was not executed into the page"
    assert "profile      : smoke" in page, "the set-up cell's env_report() output is missing"
    assert "colab.research.google.com/github/" in page and "mybinder.org" in page
    assert '<img alt="_images/' in page or "_images/" in page, "the lab's figures are missing"


def test_chapters_and_bibliography_are_built(built_book, root):
    _, html = built_book
    for chapter in sorted((root / "chapters").glob("*.md")):
        assert (html / "chapters" / f"{chapter.stem}.html").is_file(), chapter.name
    bibliography = (html / "chapters" / "bibliography.html").read_text()
    assert "scaling laws for neural language models" in bibliography.lower()


def test_no_page_loads_a_script_from_the_network(built_book):
    """MathJax comes from the build (sphinx-mathjax-offline), widgets' JavaScript is not loaded:
    every page displays offline."""
    _, html = built_book
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in html.rglob("*.html"):
        remote = re.findall(r'<script[^>]*\bsrc="(https?://[^"]+)"', page.read_text())
        assert not remote, f"{page.relative_to(html)} loads {remote}"


def test_every_chapter_carries_its_figures(built_book, root):
    """Figures drawn by code in the page (remove-input cells), at least three per chapter."""
    _, html = built_book
    for chapter in sorted((root / "chapters").glob("0*.md")):
        page = (html / "chapters" / f"{chapter.stem}.html").read_text()
        assert page.count('<img alt="_images/') + page.count('src="../_images/') >= 3, chapter.name
