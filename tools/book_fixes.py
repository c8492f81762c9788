"""A Sphinx extension with the fixes this book needs from its toolchain's HTML.

* With Jupyter Book 1.0.4 (Sphinx 7.4, sphinx-thebe 0.3.1, sphinx-togglebutton) every page
  includes some inline configuration scripts twice. Twice is harmless for ``var``, but
  sphinx-thebe's declares ``const THEBE_JS_URL``, so the browser raised "Identifier
  'THEBE_JS_URL' has already been declared" on every page (tests/test_browser.py catches it).
  Just before each page is rendered, this drops repeated identical scripts.
* Two defects axe-core finds on every page (tests/test_browser.py runs it). The sidebar's
  expand buttons (pydata-sphinx-theme's ``<summary>`` around a chevron icon) have no name a
  screen reader can say: each gets one from its entry's title. And docutils marks each entry of
  the bibliography with the ARIA role ``doc-biblioentry``, which ARIA 1.3 deprecates, so the
  ``role="list"`` around them holds no list items: they become ``listitem``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _drop_repeated_scripts(context: dict) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        # An inline script's filename is None from one extension and "" from another.
        filename = str(getattr(script, "filename", script) or "")
        key = (filename, tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _name_the_toggles(generate: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the theme's sidebar builder (it returns a BeautifulSoup) so that each expand button
    is named for the entry it opens."""

    def generate_named(*args: Any, **kwargs: Any) -> Any:
        soup = generate(*args, **kwargs)
        for summary in soup.select("li.has-children > details > summary"):
            entry = summary.find_parent("li").find("a", recursive=False)
            if entry is not None and not summary.get_text(strip=True):
                summary["aria-label"] = f"Show or hide the pages under {entry.get_text(' ', strip=True)}"
        return soup

    return generate_named


def _fix_page(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    _drop_repeated_scripts(context)
    if "generate_toctree_html" in context:
        context["generate_toctree_html"] = _name_the_toggles(context["generate_toctree_html"])
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app: Any) -> dict[str, Any]:
    """Register the fixes with Sphinx; they run after the theme and the other extensions have
    filled the page's context."""
    app.connect("html-page-context", _fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
