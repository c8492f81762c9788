"""``python -m tools.slides [--out DIR]``: one slide deck per chapter, made from the chapter itself.

``make slides`` writes ``_build/slides/``: ``01_complexity.html`` ... ``08_verdict.html`` and an
``index.html``, with the diagrams and MathJax copied beside them, so the decks display offline.
Each deck is read from its chapter at build time (``tools/slides_source.py``): a title slide
(the chapter's title and the first sentences of its opening), its learning objectives, one slide
per figure it shows with the figure's caption, its display equations, a few to a slide under
the heading of their section, and its takeaways. One slide fills the window (CSS scroll-snap);
the arrow keys, PageUp/PageDown, space, Home and End move between slides; printing gives one
slide per page.
"""

from __future__ import annotations

import argparse
import html
import importlib
import itertools
import math
import re
import shutil
from pathlib import Path

import yaml

from tools.slides_roles import load_references
from tools.slides_source import Chapter, Equation, read_chapter

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
OUT = ROOT / "_build" / "slides"
STYLE = Path(__file__).with_name("slides.css")
# A slide holds at most this many list items or equations, and about this much text or TeX.
MAX_ITEMS, MAX_CHARS = 6, 1000
MAX_EQUATIONS, MAX_TEX = 3, 330

MATHJAX_CONFIG = """window.MathJax = {
  tex: {inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]]},
  options: {ignoreHtmlClass: "deck", processHtmlClass: "math"},
  startup: {pageReady: () => MathJax.startup.defaultPageReady().then(fitEquations)}
};"""
# Keyboard navigation (the next or previous slide, the first or the last), and an equation too
# wide for its slide set in a smaller size (MathJax 3 does not break lines).
NAVIGATION = """function fitEquations() {
  for (const box of document.querySelectorAll(".key-equation")) {
    box.style.fontSize = "";
    for (let i = 0; i < 3 && box.scrollWidth > box.clientWidth + 1; i++) {
      const size = parseFloat(getComputedStyle(box).fontSize);
      box.style.fontSize = (0.98 * size * box.clientWidth) / box.scrollWidth + "px";
    }
  }
}
addEventListener("resize", fitEquations);
addEventListener("beforeprint", fitEquations);
const slides = [...document.querySelectorAll(".slide")];
function current() {
  const tops = slides.map(s => Math.abs(s.getBoundingClientRect().top));
  return tops.indexOf(Math.min(...tops));
}
function go(i) {
  const slide = slides[Math.max(0, Math.min(slides.length - 1, i))];
  slide.scrollIntoView({block: "start"});
  history.replaceState(null, "", "#" + slide.id);
}
document.addEventListener("keydown", e => {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  const steps = {ArrowRight: 1, ArrowDown: 1, PageDown: 1, " ": e.shiftKey ? -1 : 1,
                 ArrowLeft: -1, ArrowUp: -1, PageUp: -1};
  if (e.key in steps) go(current() + steps[e.key]);
  else if (e.key === "Home") go(0);
  else if (e.key === "End") go(slides.length - 1);
  else return;
  e.preventDefault();
});"""


def mathjax_dir() -> Path:
    """MathJax 3 as the ``sphinx-mathjax-offline`` package ships it (the book's own copy)."""
    package = importlib.import_module("sphinx-mathjax-offline")
    path = Path(package.__file__).parent / "static" / "mathjax"
    if not (path / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"no MathJax in {path}: reinstall sphinx-mathjax-offline (make setup)")
    return path


def _text_length(fragment: str) -> int:
    return len(re.sub(r"<[^>]+>", "", fragment))


def _chunks(items: list[str], size: int = MAX_ITEMS, chars: int = MAX_CHARS) -> list[list[str]]:
    """``items`` shared evenly among the fewest slides that hold at most ``size`` items and
    about ``chars`` characters of text each."""
    total = sum(_text_length(item) for item in items)
    slides = max(math.ceil(len(items) / size), math.ceil(total / chars), 1)
    cuts = [round(k * len(items) / slides) for k in range(slides + 1)]
    return [items[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def equation_groups(chapter: Chapter) -> list[list[Equation]]:
    """The chapter's equations a few to a slide: consecutive ones, with no figure between them."""
    figures = {figure.order for figure in chapter.figures}
    groups: list[list[Equation]] = []
    for eq in chapter.equations:
        last = groups[-1] if groups else []
        fits = len(last) < MAX_EQUATIONS and sum(len(e.tex) for e in last) + len(eq.tex) <= MAX_TEX
        if last and fits and not figures & set(range(last[-1].order, eq.order)):
            last.append(eq)
        else:
            groups.append([eq])
    return groups


def _equation_slide(group: list[Equation]) -> str:
    """Equations under the heading of their section (one section), or each section's heading
    over its own equations (several)."""
    sections = list(dict.fromkeys(eq.section for eq in group))
    if len(sections) == 1:
        parts = [f'<p class="kicker">Key equations</p><h2>{sections[0]}</h2>']
    else:
        parts = ["<h2>Key equations</h2>"]
    for section in sections:
        if len(sections) > 1:
            parts.append(f"<h3>{section}</h3>")
        parts += [
            f'<div class="math key-equation">\\[{html.escape(e.tex)}\\]</div>'
            for e in group
            if e.section == section
        ]
    return "".join(parts)


def _numbered(heading: str, chunks: list[list[str]]) -> list[tuple[str, list[str]]]:
    if len(chunks) == 1:
        return [(heading, chunks[0])]
    return [(f"{heading} ({i}/{len(chunks)})", chunk) for i, chunk in enumerate(chunks, 1)]


def _list_slide(heading: str, items: list[str]) -> str:
    return f"<h2>{heading}</h2><ul>{''.join(f'<li>{item}</li>' for item in items)}</ul>"


def slides(chapter: Chapter, course: str) -> list[tuple[str, str]]:
    """The deck's slides as ``(label, inner HTML)``, in the order they are shown: the title, the
    objectives, the figures and equations in the chapter's order, the takeaways."""
    title = (
        f'<p class="kicker">{html.escape(course)}</p><h1>{chapter.title}</h1>'
        f'<p class="opening">{chapter.opening}</p>'
    )
    shown = [(_plain(chapter.title), title)]
    for heading, items in _numbered("Learning objectives", _chunks(chapter.objectives)):
        shown.append((heading, _list_slide(heading, items)))
    body: list[tuple[int, str, str]] = []
    for figure in chapter.figures:
        src, alt = html.escape(figure.path), html.escape(figure.alt, quote=True)
        inner = (
            f'<h2>{figure.section}</h2><figure><img src="{src}" alt="{alt}">'
            f"<figcaption>{figure.caption}</figcaption></figure>"
        )
        body.append((figure.order, f"Figure: {_plain(figure.section)}", inner))
    for group in equation_groups(chapter):
        label = "Key equations: " + "; ".join(dict.fromkeys(_plain(e.section) for e in group))
        body.append((group[0].order, label, _equation_slide(group)))
    shown += [(label, inner) for _, label, inner in sorted(body, key=lambda slide: slide[0])]
    for heading, items in _numbered("Takeaways", _chunks(chapter.takeaways)):
        shown.append((heading, _list_slide(heading, items)))
    return shown


def _plain(fragment: str) -> str:
    """An HTML fragment's text, math left as TeX (for labels and the page title)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("\\(", "").replace("\\)", "")


def _page(title: str, body: str, style: str, math: bool) -> str:
    head = (
        f'<script>{MATHJAX_CONFIG}</script>\n<script defer src="mathjax/tex-chtml.js"></script>'
        if math
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{style}</style>
{head}
</head>
<body class="deck">
{body}
</body>
</html>
"""


def deck(chapter: Chapter, course: str, style: str) -> str:
    """A chapter's deck: one self-contained page (its diagrams and MathJax beside it)."""
    shown = slides(chapter, course)
    short = _plain(chapter.title)
    sections = "\n".join(
        f'<section class="slide" id="slide-{n}" aria-label="Slide {n} of {len(shown)}: {html.escape(label)}">'
        f'<div class="body">{inner}</div>'
        f'<footer><span>{html.escape(short)}</span><span><a href="index.html">All chapters</a> · '
        f"{n} / {len(shown)}</span></footer></section>"
        for n, (label, inner) in enumerate(shown, 1)
    )
    return _page(
        f"{short} (slides)", f"<main>\n{sections}\n</main>\n<script>\n{NAVIGATION}\n</script>", style, True
    )


def index(chapters: list[Chapter], course: str, style: str) -> str:
    """The page that lists every deck."""
    links = "".join(f'<li><a href="{c.stem}.html">{html.escape(_plain(c.title))}</a></li>' for c in chapters)
    inner = (
        f'<p class="kicker">{html.escape(course)}</p><h1>Slides</h1>'
        f"<p>One deck per chapter, made from the chapter itself. Arrow keys or PageUp/PageDown "
        f'move between slides; printing gives one slide per page.</p><ul class="deck-list">{links}</ul>'
    )
    body = f'<main><section class="slide" id="slide-1" aria-label="Slides"><div class="body">{inner}</div></section></main>'
    return _page(f"{course}: slides", body, style, False)


def course_title(root: Path = ROOT) -> str:
    """The course's title, from ``_config.yml``."""
    return str(yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["title"])


def build(out: Path = OUT, chapters_dir: Path = CHAPTERS) -> list[Path]:
    """Write every chapter's deck (the numbered ``NN_*.md`` pages), the index, the figures they
    show and MathJax into ``out``; returns the decks written."""
    sources = sorted(chapters_dir.glob("[0-9][0-9]_*.md"))
    if not sources:
        raise FileNotFoundError(f"no chapters (NN_*.md) in {chapters_dir}")
    references = load_references(chapters_dir.parent / "references.bib")
    chapters = [read_chapter(source, references) for source in sources]
    course, style = course_title(chapters_dir.parent), STYLE.read_text(encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    decks = []
    for chapter in chapters:
        for figure in chapter.figures:
            target = out / figure.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(chapters_dir / figure.path, target)
        decks.append(out / f"{chapter.stem}.html")
        decks[-1].write_text(deck(chapter, course, style), encoding="utf-8")
    (out / "index.html").write_text(index(chapters, course, style), encoding="utf-8")
    shutil.copytree(mathjax_dir(), out / "mathjax", dirs_exist_ok=True)
    return decks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where to write the decks (default: %(default)s)"
    )
    args = parser.parse_args()
    decks = build(args.out)
    print(f"{len(decks)} decks in {args.out}: open {(args.out / 'index.html').resolve()}")


if __name__ == "__main__":
    main()
