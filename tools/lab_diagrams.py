"""The chapters' diagrams inside the labs, where a learner meets the mechanism they draw.

A lab shows a diagram in a markdown cell of its own whose first line is a marker::

    <!-- diagram: kv_cache -->
    <img src="data:image/svg+xml;base64,..." alt="..." width="100%">

    *The caption, written in the lab.*

``make sync-labs`` rewrites the ``<img>`` line from the committed SVG (``chapters/diagrams/``)
and the alt text of the chapter's ``{figure}`` of the same diagram, so the picture and its
description cannot drift from the chapter's. The SVG travels inside the notebook as a data
URL, not as a relative path: Colab opens a lab from GitHub on its own, where a path to
``chapters/diagrams/`` would not resolve, and JupyterLab does not show SVG cell attachments;
an ``<img>`` with a data URL shows in JupyterLab, Colab, the classic notebook and the book.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from tools.diagrams import DIAGRAMS, OUT

ROOT = Path(__file__).resolve().parent.parent
MARKER_RE = re.compile(r"\A<!-- diagram: (?P<name>[\w-]+) -->\n")
FIGURE_RE = re.compile(r"```\{figure\} diagrams/(?P<name>[\w-]+)\.svg\n(?P<options>(?: *:\w+:.*\n)*)")
IMG_RE = re.compile(r'<img src="data:image/svg\+xml;base64,[^"]*"[^>]*>')
NAMES = {d.name: d for d in DIAGRAMS}


def chapter_alt(name: str) -> str:
    """The alt text of the chapter's ``{figure}`` that shows diagram ``name``."""
    if name not in NAMES:
        raise ValueError(f"no diagram named {name!r}; the diagrams are {sorted(NAMES)}")
    chapter = ROOT / "chapters" / f"{NAMES[name].chapter}.md"
    for figure in FIGURE_RE.finditer(chapter.read_text(encoding="utf-8")):
        alt = re.search(r"^ *:alt: (.+)$", figure.group("options"), flags=re.M)
        if figure.group("name") == name and alt:
            return alt.group(1).strip()
    raise ValueError(f"{chapter.name} has no {{figure}} diagrams/{name}.svg with an :alt: option")


def img_tag(name: str, diagrams: Path = OUT) -> str:
    """The ``<img>`` line that shows diagram ``name`` from its committed SVG."""
    alt = html.escape(chapter_alt(name), quote=True)
    data = base64.b64encode((diagrams / f"{name}.svg").read_bytes()).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{alt}" width="100%">'


def diagram_name(source: str) -> str | None:
    """The diagram a markdown cell shows (its marker line), or None for any other cell."""
    found = MARKER_RE.match(source)
    return found.group("name") if found else None


def sync_cell(source: str) -> str:
    """A diagram cell's source with its ``<img>`` line drawn afresh; other cells unchanged."""
    name = diagram_name(source)
    if name is None:
        return source
    marker, _, rest = source.partition("\n")
    rest = IMG_RE.sub("", rest, count=1).lstrip("\n")
    caption = f"\n\n{rest}" if rest else ""
    return f"{marker}\n{img_tag(name)}{caption}"


def strip_images(markdown: str) -> str:
    """``markdown`` without diagram markers and data-URL images (for counting its words)."""
    return IMG_RE.sub("", MARKER_RE.sub("", markdown))
