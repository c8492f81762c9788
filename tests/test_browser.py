"""Open the built site in a real headless Chromium and look at it as a reader would; axe-core
checks every page's accessibility in the light and the dark theme.

Uses Debian's ``chromium`` (installed by ``.ci/run``) through Playwright's Python package;
never a browser download. Skipped where no Chromium is installed, except under CI.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1800)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Flags for a sandboxed, offline machine: no background traffic to Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser test: install Debian's chromium (.ci/run does)")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(built_book):
    result, html = built_book
    if result.returncode != 0:
        pytest.fail("the book did not build; see test_book.py")
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


def _visit(browser, url: str, screenshot: str, follow: str | None = None):
    """Open ``url`` (and wait for a redirect to ``follow``); return the page, page errors and
    failed local requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    failed_local: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def is_local(url: str) -> bool:
        return urlparse(url).hostname in ("127.0.0.1", "localhost")

    def on_failed(request) -> None:
        if is_local(request.url):  # requests to CDNs fail offline; local ones must not
            failed_local.append(f"failed {request.url}")

    def on_response(response) -> None:
        if is_local(response.url) and response.status >= 400:
            failed_local.append(f"{response.status} {response.url}")

    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.goto(url, wait_until="load")
    if follow:  # the site's index.html redirects to the landing page
        page.wait_for_url(follow)
        page.wait_for_load_state("load")
    (ARTIFACTS / screenshot).parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=False)
    return page, errors, failed_local


def test_landing_page(browser, site):
    page, errors, failed = _visit(browser, f"{site}/index.html", "landing.png", follow="**/intro.html")
    assert "Neural Network Complexity" in page.title()
    assert page.locator("nav a[href*='01_complexity']").count() > 0, "the chapter is not in the navigation"
    assert not errors, errors
    assert not failed, failed
    page.close()


def test_lab_page_has_colab_link_figures_and_no_errors(browser, site):
    page, errors, failed = _visit(browser, f"{site}/labs/01_complexity.html", "lab01.png")
    colab = page.locator("a[href^='https://colab.research.google.com/github/']")
    assert colab.count() >= 1, "no Colab launch link"
    hrefs = {colab.nth(i).get_attribute("href") for i in range(colab.count())}
    assert all(h.endswith("/labs/student/01_complexity.ipynb") for h in hrefs), hrefs
    figures = page.locator("img[src*='_images/']")
    assert figures.count() >= 2, "the lab's figures are missing"
    for i in range(figures.count()):
        figures.nth(i).scroll_into_view_if_needed()
        width = figures.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width > 0, f"figure {figures.nth(i).get_attribute('src')} did not load"
    assert not errors, errors
    assert not failed, failed
    page.close()


def _pages() -> list[str]:
    """Every page of the book, as its path in the built site."""
    root = Path(__file__).resolve().parent.parent
    chapters = [f"chapters/{p.stem}.html" for p in sorted((root / "chapters").glob("*.md"))]
    labs = [f"labs/{p.stem}.html" for p in sorted((root / "labs").glob("*.ipynb"))]
    return ["intro.html", *chapters, *labs]


# What a reader would see as a defect, measured in the page (the article only, not the sidebars).
READER_CHECKS = """() => {
  const article = document.querySelector("article") || document.body;
  const untypeset = [...article.querySelectorAll(".math")]
    .filter(e => !e.querySelector("mjx-container"))
    .map(e => e.textContent.slice(0, 60));
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, mjx-container, script, style, .math").forEach(e => e.remove());
  const text = prose.textContent;
  const raw = ["\\\\(", "\\\\)", "\\\\[", "\\\\]", "$$"].filter(d => text.includes(d));
  const emphasis = (text.match(/(^|\\s)\\*\\w[^*\\n]{0,40}\\*(?=[\\s.,;:)]|$)/g) || []).slice(0, 5);
  const wide = [...article.querySelectorAll("pre")]
    .filter(p => p.scrollWidth > p.clientWidth + 1)
    .map(p => `${p.scrollWidth}px > ${p.clientWidth}px: ${p.textContent.split("\\n")
      .reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 100)}`);
  const solutions = [...article.querySelectorAll("pre")]
    .filter(p => p.textContent.includes("BEGIN SOLUTION") && p.checkVisibility()).length;
  const hiddenTests = [...article.querySelectorAll("pre")]
    .some(p => p.textContent.includes("BEGIN HIDDEN TESTS"));
  return {math: article.querySelectorAll(".math").length, untypeset, raw, emphasis, wide,
          solutions, hiddenTests};
}"""


@pytest.mark.parametrize("path", _pages())
def test_every_page_reads_right_offline_in_light_and_dark(browser, site, path):
    """Math typeset by the site's own MathJax, figures loaded, code within its column, no lab
    solution in plain view nor any hidden test, no page error and nothing fetched from the
    network; a screenshot of the page in each theme."""
    name = path.replace("/", "_").removesuffix(".html")
    page, errors, failed = _visit(browser, f"{site}/{path}", f"pages/{name}-light.png")
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        src = page.evaluate("() => [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s))")
        assert src and all(s.startswith(site) for s in src), f"MathJax must come from the site: {src}"
    found = page.evaluate(READER_CHECKS)
    assert not found["untypeset"], f"math left as TeX: {found['untypeset'][:5]}"
    assert not found["raw"], f"raw TeX delimiters in the text: {found['raw']}"
    assert not found["emphasis"], f"unrendered *emphasis*: {found['emphasis']}"
    assert not found["wide"], "code wider than its column at 1280 px:\n" + "\n".join(found["wide"])
    assert found["solutions"] == 0, f"{found['solutions']} lab solutions in plain view (collapse them)"
    assert not found["hiddenTests"], "the page shows the autograder's hidden tests"
    images = page.locator("article img")
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        width = images.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width > 0, f"figure {images.nth(i).get_attribute('src')} did not load"
    page.screenshot(path=str(ARTIFACTS / "pages" / f"{name}-light.png"), full_page=True)
    # Dark mode as a reader with a dark desktop gets it: the theme follows prefers-color-scheme.
    dark = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    dark.goto(f"{site}/{path}", wait_until="load")
    assert dark.evaluate("() => document.documentElement.dataset.theme") == "dark"
    dark.screenshot(path=str(ARTIFACTS / "pages" / f"{name}-dark.png"), full_page=True)
    dark.close()
    assert not errors, errors
    assert not failed, failed
    page.close()


# The accessibility engine: axe-core, through axe-playwright-python, which ships its own
# axe.min.js (nothing fetched). A page fails on any violation of impact "serious" or "critical"
# (contrast, missing labels and names) and on headings out of order, which axe rates "moderate".
FAILING_IMPACTS = {"serious", "critical"}
ALWAYS_FAILING_RULES = {"heading-order"}
# (rule id, the element's CSS selector as axe reports it) pairs the course cannot fix, and why.
# One exact element per entry, never a whole rule.
AXE_EXCEPTIONS: dict[tuple[str, str], str] = {}
# Highlighted code is thousands of tokens in a handful of colours, and axe slows with every
# element: the first visible token of each (colour, weight, background) in a theme stays, the
# others merge into their block's text (its own colour, still checked): a lab takes 2 s, not 30.
SAMPLE_CODE_TOKENS = """seen => {
  const background = e => {
    for (; e; e = e.parentElement) {
      const color = getComputedStyle(e).backgroundColor;
      if (color !== "rgba(0, 0, 0, 0)") return color;
    }
    return "";
  };
  const fresh = [], merged = [];
  for (const pre of document.querySelectorAll("div.highlight pre")) {
    const behind = background(pre);
    for (const token of pre.querySelectorAll("span")) {
      const style = getComputedStyle(token);
      const key = `${style.color} ${style.fontWeight} on ${behind}`;
      // axe skips hidden text (a folded solution): a colour counts where a reader sees it
      if (!token.checkVisibility() || seen.includes(key) || fresh.includes(key)) merged.push(token);
      else fresh.push(key);
    }
  }
  merged.forEach(token => token.replaceWith(...token.childNodes));  // after reading every style
  return fresh;
}"""


def _invisible(node: dict) -> bool:
    """axe leaves text of the same colour as its background "for review" (it may be hidden on
    purpose); on this site it is text no reader can see."""
    return any((check.get("data") or {}).get("messageKey") == "equalRatio" for check in node.get("any", []))


def _axe_findings(response: dict, where: str) -> list[str]:
    """One line per failing element of an axe-core result: page, rule id, element, why."""
    found = []
    unseen = [
        result | {"nodes": [n for n in result["nodes"] if _invisible(n)]}
        for result in response["incomplete"]
        if result["id"] == "color-contrast"
    ]
    for violation in response["violations"] + unseen:
        for node in violation["nodes"]:
            impact = node.get("impact") or violation["impact"]
            if impact not in FAILING_IMPACTS and violation["id"] not in ALWAYS_FAILING_RULES:
                continue
            target = " >>> ".join(" ".join(t) if isinstance(t, list) else t for t in node["target"])
            if (violation["id"], target) in AXE_EXCEPTIONS:
                continue
            why = " ".join(node.get("failureSummary", "").split())[:300]
            found.append(
                f"{where}: {violation['id']} ({impact}) at {target}\n    {node['html'][:200]}\n    {why}"
            )
    return found


def test_every_page_passes_axe_in_light_and_dark(browser, site, built_book):
    """axe-core over every HTML page of the site, in each theme the reader can choose (the
    theme's toggle keeps its mode in localStorage, and a page reads it before it renders)."""
    from axe_playwright_python.sync_playwright import Axe

    _, html = built_book
    # every page but the redirect to the landing page (index.html: it shows nothing, and the
    # page it opens is checked)
    pages = sorted(
        str(p.relative_to(html))
        for p in html.rglob("*.html")
        if "_static" not in p.parts and 'http-equiv="refresh"' not in p.read_text().lower()
    )
    assert set(pages) >= set(_pages()), sorted(set(_pages()) - set(pages))
    axe = Axe()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    remote: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((site, "data:")) else remote.append(r.url))
    findings: list[str] = []
    for theme in ("light", "dark"):
        page.goto(f"{site}/intro.html", wait_until="load")
        page.evaluate("mode => localStorage.setItem('mode', mode)", theme)
        code_colours: list[str] = []
        for path in pages:
            page.goto(f"{site}/{path}", wait_until="load")
            if page.locator(".math").count():  # checked as typeset
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
                page.evaluate("() => MathJax.startup.promise")
            assert page.evaluate("() => document.documentElement.dataset.theme") == theme, path
            code_colours += page.evaluate(SAMPLE_CODE_TOKENS, code_colours)
            result = axe.run(page, options={"resultTypes": ["violations", "incomplete"]})
            findings += _axe_findings(result.response, f"{path} ({theme})")
        assert code_colours, f"no highlighted code found in the {theme} theme"
    page.close()
    assert not remote, f"requests off the site (axe-core must run offline): {remote[:5]}"
    assert not findings, f"{len(findings)} accessibility violations:\n" + "\n".join(findings)


def test_every_diagram_loads_and_keeps_its_light_ground_in_light_and_dark(browser, site):
    """The schematic diagrams (tools/diagrams): each loads on its chapter's page, and in both
    themes keeps the light ground its ink is drawn for. A screenshot of each, per theme, goes to
    tests/artifacts/diagrams/."""
    from tools.diagrams import DIAGRAMS

    out = ARTIFACTS / "diagrams"
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    for theme in ("light", "dark"):
        page.goto(f"{site}/intro.html", wait_until="load")
        page.evaluate("mode => localStorage.setItem('mode', mode)", theme)
        for diagram in DIAGRAMS:
            page.goto(f"{site}/chapters/{diagram.chapter}.html", wait_until="load")
            image = page.locator(f'img[src$="{diagram.name}.svg"]').first
            image.scroll_into_view_if_needed()
            loaded = image.evaluate("img => img.complete && img.naturalWidth > 0")
            width = image.evaluate("img => img.getBoundingClientRect().width")
            if not loaded or width < 300:
                problems.append(f"{diagram.name} ({theme}): loaded={loaded}, width={width:.0f} px")
                continue
            shot = out / f"{diagram.name}-{theme}.png"
            image.screenshot(path=str(shot))
            corner = page.evaluate(CORNER_BRIGHTNESS, shot.read_bytes().hex())
            # The theme dims images in dark mode (brightness 0.8, contrast 1.2): the ground stays
            # light grey. A transparent or inverted ground would be dark, and the ink lost in it.
            if corner < 0.75:
                problems.append(f"{diagram.name} ({theme}): its ground has brightness {corner:.2f}")
    page.close()
    assert not problems, "\n".join(problems)


#: The mean brightness (0-1) of the 8x8 top-left pixels of a PNG, decoded by the browser.
CORNER_BRIGHTNESS = """async hex => {
  const bytes = new Uint8Array(hex.match(/../g).map(h => parseInt(h, 16)));
  const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
  const canvas = new OffscreenCanvas(8, 8);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 2, 2, 8, 8, 0, 0, 8, 8);
  const d = ctx.getImageData(0, 0, 8, 8).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
  return sum / (d.length / 4) / 255;
}"""
