"""The book's PDF (``tools/pdf.py``, ``make pdf``): every page of the site, printed in order by
Debian's Chromium with its math typeset, and linked from the landing page.

The browser test prints the smoke build of ``tests/conftest.py::built_book`` (about 75 s)."""

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

from tools import pdf

ROOT = Path(__file__).resolve().parent.parent
#: TeX that MathJax should have typeset: in the printed text it means it did not run.
RAW_TEX = re.compile(r"\$\$|\\frac|\\\(|\\\[|\\begin\{|\\mathrm|\\text\{")


def source_title(doc: str) -> str:
    """The first ``# `` heading of a page's source (Markdown or notebook), as it reads."""
    md, nb = ROOT / f"{doc}.md", ROOT / f"{doc}.ipynb"
    if md.exists():
        lines = md.read_text(encoding="utf-8").splitlines()
    else:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        lines = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"]).splitlines()
    title = next(line for line in lines if line.startswith("# "))[2:]
    return re.sub(r"[*`]", "", title).strip()


def plain(text: str) -> str:
    """Extracted PDF text with ligatures undone, words hyphenated at a line's end joined, and
    every run of whitespace one space."""
    return re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(unicodedata.normalize("NFKC", text).split()))


def test_the_pages_are_the_table_of_contents_in_order():
    pages = pdf.toc_pages()
    assert pages[0] == "intro" and len(pages) == len(set(pages))
    chapters = [p for p in pages if p.startswith("chapters/0")]
    labs = [p for p in pages if p.startswith("labs/")]
    assert chapters == sorted(chapters) and labs == sorted(labs) and len(labs) >= 8
    assert pages.index("chapters/01_complexity") + 1 == pages.index("labs/01_complexity"), (
        "each lab follows its chapter"
    )


def test_a_missing_site_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no intro.html: build the site first \(make book\)"):
        pdf.build(tmp_path, tmp_path / "course.pdf")


@pytest.fixture(scope="module")
def printed(built_book, tmp_path_factory):
    result, html = built_book
    if result.returncode != 0:
        pytest.fail("the book did not build; see test_book.py")
    if not Path(pdf.CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must print the book: install Debian's chromium (.ci/run does)")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    out = tmp_path_factory.mktemp("pdf") / "course.pdf"
    return html, out, pdf.build(html, out)


@pytest.mark.browser
@pytest.mark.timeout(900)
def test_the_pdf_holds_every_page_with_its_math_typeset(printed):
    from pypdf import PdfReader

    _, out, sheets = printed
    reader = PdfReader(out)
    pages = pdf.toc_pages()
    assert len(reader.pages) == sheets >= len(pages), "at least one sheet per page of the book"
    titles = [plain(source_title(doc)) for doc in pages]
    assert [plain(item.title) for item in reader.outline] == titles, "one bookmark per page, in order"
    starts = [reader.get_destination_page_number(item) for item in reader.outline] + [len(reader.pages)]
    for doc, title, first, end in zip(pages, titles, starts, starts[1:], strict=False):
        text = plain("".join(reader.pages[i].extract_text() for i in range(first, end)))
        assert title in text, f"{doc}: its title is not in its pages of the PDF"
        raw = RAW_TEX.search(text)
        assert raw is None, f"{doc}: raw TeX {raw[0]!r} in the PDF: MathJax did not typeset it"
    # MathJax's glyphs are the PDF's only Type 3 fonts (the theme's fonts embed as TrueType)
    assert b"/Type3" in out.read_bytes(), "no MathJax glyphs in the PDF: the math was not typeset"


@pytest.mark.browser
@pytest.mark.timeout(900)
def test_the_landing_page_links_the_pdf_in_the_site(printed):
    html, out, _ = printed
    assert (html / "course.pdf").read_bytes() == out.read_bytes()
    assert 'href="course.pdf"' in (html / "intro.html").read_text(encoding="utf-8")
