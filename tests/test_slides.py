"""The chapter slides (``make slides``, ``tools/slides.py``): made from each chapter's own source,
and shown offline by a real Chromium with every equation typeset.

The unit tests read each chapter a second, simpler way (regular expressions over its text) and
check that the deck shows exactly its learning objectives, figures, display equations and
takeaways. The browser test builds the decks into a temporary folder, opens each from disk with
every request that is not a local file blocked and recorded, and looks at it as an audience would;
axe-core checks every deck's accessibility in light and dark mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import test_browser
from tests.plugin import ROOT
from tools.slides import build, deck, slides
from tools.slides_roles import Reference, load_references
from tools.slides_source import read_chapter

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
ARTIFACTS = ROOT / "tests" / "artifacts" / "slides"
# Exercises, solutions and code cells are not what a slide shows: cut out before counting.
NOT_SHOWN = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?:exercise|solution|code-cell)\}.*?^(?P=fence)[ \t]*$", re.M | re.S
)
DOLLARS = re.compile(r"^[ \t]*\$\$(?P<tex>.*?)\$\$", re.M | re.S)
MATH_DIRECTIVE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|:{3,})\{math\}[^\n]*\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$", re.M | re.S
)
FIGURE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|:{3,})\{figure\}[ \t]+(?P<path>\S+)\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$",
    re.M | re.S,
)
ITEM = re.compile(r"^(?:[-*+]|\d+\.)[ \t]+", re.M)

browser = test_browser.browser  # the suite's headless Debian Chromium (tests/test_browser.py)


def _shown(path: Path) -> str:
    return NOT_SHOWN.sub("", path.read_text(encoding="utf-8"))


def _squash(tex: str) -> str:
    return "".join(tex.split())


def _display_equations(text: str) -> list[str]:
    """Every display equation in ``text``, in order: ``$$`` blocks and ``{math}`` directives (one
    equation per paragraph of the directive, options left out)."""
    found = [(m.start(), m.group("tex")) for m in DOLLARS.finditer(text)]
    for m in MATH_DIRECTIVE.finditer(text):
        body = re.sub(r"^[ \t]*:[\w-]+:.*$", "", m.group("body"), flags=re.M)
        found += [(m.start(), tex) for tex in re.split(r"\n[ \t]*\n", body.strip())]
    return [_squash(tex) for _, tex in sorted(found, key=lambda f: f[0])]


def _list_after(text: str, title: str) -> int:
    """How many items the list under ``## title`` or in a ``{admonition} title`` has."""
    heading = re.search(
        rf"^##[ \t]+{title}[ \t]*$|^(?P<fence>`{{3,}}|:{{3,}})\{{admonition\}}[ \t]+{title}[ \t]*$",
        text,
        re.M | re.I,
    )
    assert heading, f"no '{title}' in the chapter"
    rest = text[heading.end() :]
    end = re.search(r"^#{1,6} |^(`{3,}|:{3,})[ \t]*$", rest, re.M)
    return len(ITEM.findall(rest[: end.start() if end else None]))


@pytest.fixture(scope="module")
def references() -> dict[str, Reference]:
    return load_references(ROOT / "references.bib")


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_each_deck_shows_the_chapters_objectives_figures_equations_and_takeaways(source, references):
    chapter = read_chapter(source, references)
    text = _shown(source)
    assert chapter.title.startswith("Chapter"), chapter.title
    assert len(chapter.opening.split()) >= 8, f"no opening sentence: {chapter.opening!r}"
    assert len(chapter.objectives) == _list_after(text, "Learning objectives")
    takeaways = "Key takeaways" if re.search(r"\{admonition\}[ \t]+Key takeaways", text) else "Takeaways"
    assert len(chapter.takeaways) == _list_after(text, takeaways)
    figures = list(FIGURE.finditer(text))
    assert [f.path for f in chapter.figures] == [m.group("path") for m in figures]
    for figure, match in zip(chapter.figures, figures, strict=True):
        alt = re.search(r"^[ \t]*:alt:[ \t]*(.+)$", match.group("body"), re.M)
        assert alt and figure.alt == alt.group(1).strip(), f"{figure.path}: the alt text is not the chapter's"
        assert figure.caption, f"{figure.path}: no caption"
    assert [_squash(e.tex) for e in chapter.equations] == _display_equations(text)

    html = deck(chapter, "Course", "")
    assert html.count('class="math key-equation"') == len(chapter.equations)
    for figure in chapter.figures:
        assert f'<img src="{figure.path}" alt="' in html
    for role in ("{cite", "{doc}", "{ref}", "{numref}", "{math}"):
        assert role not in html, f"a MyST role left in the slides: {role}"
    labels = [label for label, _ in slides(chapter, "Course")]
    assert labels[0].startswith("Chapter")
    assert labels[1].startswith("Learning objectives") and labels[-1].startswith("Takeaways")


CHAPTER = """# Chapter 9: A test

*Dated, and skipped.*

The opening sentence cites {cite:p}`kaplan2020scaling` here. A second sentence,
{doc}`the lab <../labs/x>`, follows. A third is left out.

## Learning objectives

- state a law ({cite:t}`kaplan2020scaling`);
- use {ref}`a box <some-label>` and $x^2$.

## A section

$$
a = b
$$ (eq-a)

1. A list item with a figure:

   ```{figure} diagrams/d.svg
   :alt: Two boxes joined by an arrow, the left one labelled x and the right one labelled y.
   :width: 50%

   The caption, with $y = f(x)$.
   ```

```{note}
$$c = d$$
```

```{math}
:label: eq-e
e = f

g = h
```

\\begin{align}
i &= j
\\end{align}

```{code-cell} ipython3
$$not = an equation$$
```

````{exercise}
$$
neither = this
$$
````

## Takeaways

- One.
"""


def _write(tmp_path: Path, text: str) -> Path:
    """A chapter in ``tmp_path/chapters`` with its diagram, and an SVG outside the chapters."""
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    (tmp_path / "chapters" / "diagrams").mkdir(parents=True, exist_ok=True)
    (tmp_path / "chapters" / "diagrams" / "d.svg").write_text(svg)
    (tmp_path / "d.svg").write_text(svg)
    source = tmp_path / "chapters" / "09_test.md"
    source.write_text(text, encoding="utf-8")
    return source


REFERENCES = {"kaplan2020scaling": Reference("Kaplan et al.", "2020")}


def test_a_chapter_is_read_with_its_roles_as_text_and_only_its_prose_math(tmp_path):
    chapter = read_chapter(_write(tmp_path, CHAPTER), REFERENCES)
    assert chapter.title == "Chapter 9: A test"
    assert (
        chapter.opening
        == "The opening sentence cites (Kaplan et al., 2020) here. A second sentence, the lab, follows."
    )
    assert "Kaplan et al. (2020)" in chapter.objectives[0]
    assert "a box" in chapter.objectives[1] and r"\(x^2\)" in chapter.objectives[1]
    assert [e.tex for e in chapter.equations] == [
        "a = b",
        "c = d",
        "e = f",
        "g = h",
        "\\begin{align}\ni &= j\n\\end{align}",
    ]
    assert {e.section for e in chapter.equations} == {"A section"}
    [figure] = chapter.figures
    assert figure.path == "diagrams/d.svg" and figure.alt.startswith("Two boxes")
    assert r"\(y = f(x)\)" in figure.caption
    assert chapter.takeaways == ["One."]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("## Learning objectives", "## Goals"), "09_test.md: no learning objectives"),
        (("## Takeaways", "## In short"), "09_test.md: no takeaways"),
        (("`kaplan2020scaling`);", "`nobody2099`);"), "nobody2099.* is not in references.bib"),
        (("diagrams/d.svg", "diagrams/missing.svg"), "the figure diagrams/missing.svg does not exist"),
        (("diagrams/d.svg", "../d.svg"), "the figure ../d.svg does not exist in"),
        ((":alt: Two boxes", ":name: two-boxes"), "the figure diagrams/d.svg has no :alt: text"),
    ],
)
def test_a_chapter_the_slides_cannot_be_made_from_is_an_error_that_names_it(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        read_chapter(_write(tmp_path, CHAPTER.replace(*change)), REFERENCES)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slides")
    build(out)
    return out


def test_the_build_writes_a_deck_per_chapter_an_index_and_what_they_load(built):
    assert sorted(p.name for p in built.glob("*.html")) == sorted(
        [*(f"{p.stem}.html" for p in CHAPTERS), "index.html"]
    )
    assert (built / "mathjax" / "tex-chtml.js").is_file()
    index = (built / "index.html").read_text()
    for source in CHAPTERS:
        assert f'href="{source.stem}.html"' in index
        for src in re.findall(r'<img src="([^"]+)"', (built / f"{source.stem}.html").read_text()):
            assert (built / src).is_file(), f"{source.stem}: {src} was not copied"


# What an audience would see as a defect, measured after MathJax has run.
DECK_CHECKS = """() => {
  const slides = [...document.querySelectorAll(".slide")];
  return {
    slides: slides.length,
    math: document.querySelectorAll(".math").length,
    typeset: document.querySelectorAll("mjx-container").length,
    untypeset: [...document.querySelectorAll(".math")].filter(e => !e.querySelector("mjx-container"))
      .map(e => e.textContent.slice(0, 60)),
    keyEquations: document.querySelectorAll(".key-equation mjx-container").length,
    errors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent.slice(0, 60)),
    wide: [...document.querySelectorAll(".key-equation")].filter(e => e.scrollWidth > e.clientWidth + 1)
      .map(e => e.textContent.slice(0, 60)),
    overfull: slides.filter(s => s.scrollHeight > s.clientHeight + 1).map(s => s.id),
  };
}"""
AT_SLIDE = "i => Math.abs(document.querySelectorAll('.slide')[i].getBoundingClientRect().top) < 2"


def _open(browser, url: str, remote: list[str], scheme: str = "light"):
    """A page at 1280 x 720 with every request that is not a local file blocked and recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 720}, color_scheme=scheme)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def route(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            remote.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    return page, errors


@pytest.mark.browser
@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_each_deck_displays_offline_with_its_math_typeset_and_moves_by_keyboard(
    browser, built, references, source
):
    chapter = read_chapter(source, references)
    remote: list[str] = []
    page, errors = _open(browser, (built / f"{source.stem}.html").as_uri(), remote)
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    found = page.evaluate(DECK_CHECKS)
    assert not found["errors"], f"MathJax could not typeset: {found['errors']}"
    assert not found["untypeset"], f"math left as TeX: {found['untypeset']}"
    assert found["typeset"] == found["math"] > 0
    assert found["keyEquations"] == len(chapter.equations)
    assert not found["wide"], f"equations wider than their slide: {found['wide']}"
    assert not found["overfull"], f"slides whose content does not fit 1280 x 720: {found['overfull']}"
    images = page.locator("img")
    assert images.count() == len(chapter.figures)
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        assert images.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0") > 0, (
            "an image did not load"
        )
        assert (images.nth(i).get_attribute("alt") or "").strip(), "an image has no alt text"

    page.evaluate("() => window.scrollTo(0, 0)")
    for key, slide in [("ArrowRight", 1), ("PageDown", 2), ("ArrowLeft", 1), ("End", found["slides"] - 1)]:
        page.keyboard.press(key)
        page.wait_for_function(AT_SLIDE, arg=slide, timeout=5000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.keyboard.press("Home")
    page.wait_for_function(AT_SLIDE, arg=0, timeout=5000)
    page.screenshot(path=str(ARTIFACTS / f"{source.stem}-light.png"))
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == found["slides"], f"printing gives {pages} pages for {found['slides']} slides"

    dark, dark_errors = _open(browser, (built / f"{source.stem}.html").as_uri(), remote, scheme="dark")
    dark.evaluate("() => MathJax.startup.promise")
    background = dark.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert sum(map(int, re.findall(r"\d+", background)[:3])) < 150, f"not dark: {background}"
    dark.locator(".slide").nth(2).scroll_into_view_if_needed()
    dark.screenshot(path=str(ARTIFACTS / f"{source.stem}-dark.png"))
    assert not remote, f"requests that left the machine: {remote}"
    assert not errors + dark_errors, errors + dark_errors
    page.close()
    dark.close()


@pytest.mark.browser
def test_the_index_links_every_deck(browser, built):
    remote: list[str] = []
    page, errors = _open(browser, (built / "index.html").as_uri(), remote)
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(f"{p.stem}.html" for p in CHAPTERS)
    assert not remote and not errors, (remote, errors)
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_deck_passes_the_accessibility_engine(browser, built, scheme):
    """axe-core (axe-playwright-python's own copy, nothing fetched): no serious or critical
    violation (contrast, names, labels) and headings in order, on every deck in both modes."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    found, remote = [], []
    for name in ["index", *(p.stem for p in CHAPTERS)]:
        page, _ = _open(browser, (built / f"{name}.html").as_uri(), remote, scheme=scheme)
        page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
        for violation in axe.run(page).response["violations"]:
            if violation["impact"] in ("serious", "critical") or violation["id"] == "heading-order":
                found += [f"{name}: {violation['id']} at {node['target']}" for node in violation["nodes"]]
        page.close()
    assert not found, "\n".join(found)
    assert not remote, remote
