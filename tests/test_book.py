"""The book builds with warnings as errors, and the labs' pages carry executed outputs."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.book, pytest.mark.timeout(1800)]


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    # Sphinx writes "file:line: WARNING: ..."; a kernel's own log lines ("[IPKernelApp] WARNING |")
    # are not about the book.
    warnings = [line for line in log.splitlines() if "WARNING:" in line]
    assert not warnings, "\n".join(warnings)
    assert (html / "index.html").is_file()


def test_lab_pages_show_executed_outputs_and_a_badge_to_the_student_version(built_book):
    _, html = built_book
    page = (html / "labs" / "01_complexity.html").read_text()
    assert "cell_output" in page, "the lab was not executed into the page"
    assert re.search(r"profile\s*:\s*smoke", page), "the set-up cell's env_report() output is missing"
    links = set(re.findall(r"https://colab\.research\.google\.com/[^\"\s<]+", page))
    assert links and all("/labs/student/01_complexity.ipynb" in link for link in links), links
    assert "mybinder.org" not in page, "no launch button: it would open the solution version"
    assert '<img alt="_images/' in page or "_images/" in page, "the lab's figures are missing"


def test_the_student_versions_solution_links_reach_their_exercises(built_book):
    _, html = built_book
    from tools.instructor_kit import LABS
    from tools.student_versions import site_url, solution_links

    for lab in LABS:
        page = (html / "labs" / f"{lab.stem}.html").read_text()
        for link in solution_links(lab).values():
            url = re.search(r"\]\((\S+)\)", link).group(1)
            assert url.startswith(f"{site_url()}labs/{lab.stem}.html#"), url
            anchor = url.split("#", 1)[1]
            assert f'id="{anchor}"' in page, f"{lab.stem}: the site has no #{anchor} for {link!r}"


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


def _details_spans(page: str) -> list[tuple[int, int, bool]]:
    """``(start, end, open)`` of every ``<details>`` element (MyST-NB does not nest them)."""
    return [
        (m.start(), page.index("</details>", m.end()), " open" in m.group(0))
        for m in re.finditer(r"<details[^>]*>", page)
    ]


def test_the_site_shows_lab_solutions_collapsed_and_no_hidden_test(built_book, root):
    """The public site is the student view: every solution behind "Show the solution"."""
    _, html = built_book
    for lab in sorted((root / "labs").glob("*.ipynb")):
        # what a reader sees: written answers hide nbgrader's markers in HTML comments
        page = re.sub(r"<!--.*?-->", "", (html / "labs" / f"{lab.stem}.html").read_text(), flags=re.S)
        spans = _details_spans(page)
        solutions = [m.start() for m in re.finditer("BEGIN SOLUTION", page)]
        assert solutions, f"{lab.name}: no solution on the page"
        for at in solutions:
            inside = [s for s in spans if s[0] < at < s[1]]
            assert inside and not inside[0][2], f"{lab.name}: a solution is in plain view"
        assert page.count("Show the solution") == len(solutions), lab.name
        assert "BEGIN HIDDEN TESTS" not in page and "hidden tests: the autograder" in page, lab.name
    for chapter in sorted((root / "chapters").glob("0*.md")):
        page = (html / "chapters" / f"{chapter.stem}.html").read_text()
        for classes in re.findall(r'<div class="([^"]*\bsolution\b[^"]*)"', page):
            assert "dropdown" in classes.split(), f"{chapter.name}: a solution is not collapsed"


def test_the_instructor_guide_is_generated_from_the_labs(built_book):
    _, html = built_book
    from html import unescape

    from tools.instructor_kit import LABS, exercises, lab_title

    # the text as a reader sees it: entities decoded, Sphinx's typographic quotes made plain
    page = unescape((html / "chapters" / "instructors.html").read_text()).replace("\u2019", "'")

    for lab in LABS:
        assert lab_title(lab).split(":")[0] in page
        for exercise in exercises(lab):
            assert exercise.title.split("$")[0].strip() in page, exercise
    assert "smoke ≈" in page and "cpu ≈" in page, "the syllabus lacks the measured times"


def test_the_instructor_only_material_stays_off_the_public_site(built_book, root):
    """The question bank and the graded example reports go into the instructor kit only."""
    _, html = built_book
    assert not (html / "instructor").exists()
    answers = [
        q.read_text().split("*Answer.*")[1][:60].strip()
        for q in (root / "instructor" / "questions").glob("*.md")
    ]
    for page in html.rglob("*.html"):
        text = page.read_text()
        leaked = [a for a in answers if a and a in text]
        assert not leaked, f"{page.name} shows the question bank: {leaked[:1]}"


class _Images(HTMLParser):
    """The ``alt`` of every ``<img>`` in a page (``None`` where it has none)."""

    def __init__(self) -> None:
        super().__init__()
        self.alts: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            found = dict(attrs)
            self.alts.append((found.get("src") or "", found.get("alt")))


#: An alt text that is a file's name or path (MyST-NB's default is the image's path).
FILE_NAME = re.compile(r"(^|[\s/])[\w.-]+\.(png|svg|jpe?g|gif|webp)\b|_images/", re.IGNORECASE)


def _bare_images(page: Path, skip: str | None = None) -> tuple[int, list[str]]:
    """How many images ``page`` shows (those whose src contains ``skip`` left out), and those
    without alt text of at least eight words that is not a file name."""
    parser = _Images()
    parser.feed(page.read_text())
    shown = [(src, alt) for src, alt in parser.alts if skip is None or skip not in src]
    bare = [
        f"{page.name}: {src[:80]} has alt {alt!r}"
        for src, alt in shown
        if alt is None or len(alt.split()) < 8 or FILE_NAME.search(alt)
    ]
    return len(shown), bare


def test_every_chapter_image_says_what_it_shows(built_book, root):
    """Each figure and diagram a chapter shows carries alt text of at least eight words that
    is not a file name (a plotting cell sets it with ``mystnb: image: alt:`` in its metadata)."""
    _, html = built_book
    bare = []
    for chapter in sorted((root / "chapters").glob("*.md")):
        bare += _bare_images(html / "chapters" / f"{chapter.stem}.html")[1]
    assert not bare, "images without alt text that says what they show:\n" + "\n".join(bare)


def test_every_lab_figure_says_what_it_shows(built_book, root):
    """The same for the labs' pages: every figure a lab draws (its plotting cells' metadata,
    which ``tests/test_structure.py`` checks in the notebooks) and every diagram it shows. The
    Colab badge, a link whose alt is its label, is left out."""
    _, html = built_book
    bare = []
    for lab in sorted((root / "labs").glob("*.ipynb")):
        shown, missing = _bare_images(html / "labs" / f"{lab.stem}.html", skip="open-in-colab.svg")
        assert shown, f"{lab.name}: its page shows no figure"
        bare += missing
    assert not bare, "images without alt text that says what they show:\n" + "\n".join(bare)


def test_every_page_names_both_licences_in_its_footer(built_book):
    """The footer (``html.extra_footer``) links the code's MIT License and the content's
    CC BY 4.0 on every page a reader can open (LICENSE, LICENSE-content)."""
    _, html = built_book
    pages = [p for p in html.rglob("*.html") if "_static" not in p.parts]
    without = []
    for page in pages:
        text = page.read_text()
        if 'http-equiv="refresh"' in text.lower():  # index.html only redirects to the landing page
            continue
        footer = re.search(r'<div class="extra_footer">(.*?)</div>', text, re.S)
        links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', footer.group(1)) if footer else []
        named = {url.rsplit("/", 1)[-1]: " ".join(label.split()) for url, label in links}
        if named.get("LICENSE") != "MIT License" or "(CC BY 4.0)" not in named.get("LICENSE-content", ""):
            without.append(f"{page.relative_to(html)}: {named}")
    assert len(pages) > 20, f"only {len(pages)} pages found in {html}"
    assert not without, "pages whose footer does not name both licences:\n" + "\n".join(without)
