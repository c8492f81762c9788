"""A Sphinx extension with the one fix this book needs from its toolchain.

With Jupyter Book 1.0.4 (Sphinx 7.4, sphinx-thebe 0.3.1, sphinx-togglebutton) every page
includes some inline configuration scripts twice. Twice is harmless for ``var``, but
sphinx-thebe's declares ``const THEBE_JS_URL``, so the browser raised "Identifier
'THEBE_JS_URL' has already been declared" on every page (tests/test_browser.py catches it).
Just before each page is rendered, this drops repeated identical scripts.
"""

from __future__ import annotations

from typing import Any


def _drop_repeated_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
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


def setup(app: Any) -> dict[str, Any]:
    """Register the fix with Sphinx; it runs after other extensions have added their scripts."""
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
