"""The book as one PDF, printed by Chromium from the built site (issue 29, item 5).

Every page of the site, in the order of ``_toc.yml``, opens in Debian's Chromium through
Playwright, as the browser tests do: no browser download, and every request outside the site is
refused, so the PDF is built offline. Each page waits for MathJax to typeset its math and for its
images, then prints with the theme's own print styles plus :data:`PRINT_CSS`; pypdf joins the
pages, with one bookmark per page, into ``_build/pdf/course.pdf``, and a copy goes into the site
as ``course.pdf``, which the landing page links. ``make book`` ends with this step, so that link is
never dead on a site ``make book`` built; ``make pdf`` runs it alone on an existing site.

    python -m tools.pdf                                   # _build/html -> _build/pdf/course.pdf
    python -m tools.pdf --html _build/gpu/_build/html --out _build/gpu/_build/pdf/course.pdf
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a sandboxed, offline machine (as tests/test_browser.py): no traffic to Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: Added to the theme's print styles: no second table of contents (the bookmarks are one), code
#: wrapped rather than cut at the margin, a figure or table never split across two sheets.
PRINT_CSS = """
#jb-print-toc { display: none !important; }
pre, pre code { white-space: pre-wrap !important; word-break: break-word; }
figure, table, .cell_output img, mjx-container[display="true"] { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
"""
#: Formulas of the page that MathJax has not turned into its own elements.
UNTYPESET = (
    "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length"
)
MARGIN = {"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"}
#: Seconds a page may take to load, typeset and print.
PAGE_TIMEOUT = 120


def toc_pages(root: Path = ROOT) -> list[str]:
    """The book's documents (``intro``, ``chapters/01_complexity``, ...) in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return pages


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(html: Path) -> Iterator[str]:
    """The site in ``html`` on a local port, for as long as the context lasts; yields its address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def print_pages(html: Path, pages: list[str], chromium: str = CHROMIUM) -> list[tuple[str, bytes]]:
    """``(title, PDF)`` of every page, printed by Chromium after MathJax has typeset it."""
    from playwright.sync_api import sync_playwright

    missing = [p for p in pages if not (html / f"{p}.html").is_file()]
    if missing:
        raise FileNotFoundError(f"{html} has no {missing[0]}.html: build the site first (make book)")
    if not Path(chromium).exists():
        raise FileNotFoundError(f"no Chromium at {chromium}: install Debian's (apt-get install chromium)")
    printed = []
    with serve(html) as site, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(PAGE_TIMEOUT * 1000)
        # offline: anything from outside the site is refused, not waited for
        page.route(
            "**/*", lambda route: route.continue_() if route.request.url.startswith(site) else route.abort()
        )
        for name in pages:
            page.goto(f"{site}/{name}.html", wait_until="load")
            if page.evaluate("() => Boolean(window.MathJax)"):
                page.wait_for_function("() => MathJax.startup && MathJax.startup.promise")
                page.evaluate("() => MathJax.startup.promise")
            untypeset = page.evaluate(UNTYPESET)
            if untypeset:
                raise RuntimeError(
                    f"{name}: MathJax did not typeset {untypeset} formulas; the PDF would show their TeX"
                )
            page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
            page.add_style_tag(content=PRINT_CSS)
            title = page.locator("h1").first.inner_text().strip().rstrip("#").strip()
            printed.append((title, page.pdf(format="A4", print_background=True, margin=MARGIN)))
        browser.close()
    return printed


def join(printed: list[tuple[str, bytes]], out: Path) -> int:
    """Write the pages' PDFs one after another to ``out``, a bookmark at each; return its page count."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for title, pdf in printed:
        writer.append(PdfReader(io.BytesIO(pdf)), outline_item=title)
    writer.add_metadata({"/Title": "Is bigger better? Neural network complexity"})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        writer.write(f)
    return len(writer.pages)


def build(html: Path, out: Path, chromium: str = CHROMIUM) -> int:
    """The site in ``html`` printed into ``out`` and copied into the site as ``course.pdf``."""
    pages = join(print_pages(html, toc_pages(), chromium), out)
    shutil.copyfile(out, html / "course.pdf")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built site")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "course.pdf", help="the PDF")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build(args.html, args.out)
    except FileNotFoundError as error:
        print(f"make pdf: {error}", file=sys.stderr)
        return 1
    print(
        f"{args.out}: {pages} pages in {time.perf_counter() - start:.0f} s (and {args.html / 'course.pdf'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
