"""Drawing primitives shared by the course's schematic diagrams (boxes, arrows, labels).

Every diagram is a matplotlib figure on a white ground, so it reads the same in the site's
light and dark modes, drawn with the Okabe-Ito colours (distinguishable with colour-blindness)
and saved as a deterministic SVG: the same code gives the same bytes, so a test can check that
the committed files are the ones the code draws.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

#: Okabe & Ito's palette, with the names the diagrams use.
COLORS = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "grey": "#7F7F7F",
    "ink": "#1A1A1A",
    "muted": "#595959",
}

#: Text uses only "ink" (16:1 on white) or "muted" (7:1); the palette's colours are for lines and
#: fills (several of them are below the 4.5:1 that small text needs).
#: Light fills: a colour at 20% over white, so ink text on it keeps a contrast above 7:1.
FILLS = {name: f"{value}33" for name, value in COLORS.items()}

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "svg.fonttype": "path",
    "svg.hashsalt": "nn-complexity-course",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": COLORS["ink"],
}


@contextmanager
def canvas(width: float, height: float) -> Iterator[tuple[plt.Figure, Axes]]:
    """A blank figure of ``width`` x ``height`` inches whose axes run over data units 0..width, 0..height."""
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(0, height)
        ax.axis("off")
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str = "",
    color: str = "blue",
    size: float = 10,
    dashed: bool = False,
) -> tuple[float, float, float, float]:
    """A rounded box with its lower-left corner at (x, y), centred text; returns (x, y, w, h)."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.06",
            facecolor=FILLS[color],
            edgecolor=COLORS[color],
            linewidth=1.4,
            linestyle="--" if dashed else "-",
        )
    )
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)
    return x, y, w, h


def arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    text: str = "",
    color: str = "ink",
    size: float = 9,
    curve: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.12),
) -> None:
    """An arrow from ``start`` to ``end``, with ``text`` at its middle (shifted by ``offset``)."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            color=COLORS[color],
            linewidth=1.3,
            connectionstyle=f"arc3,rad={curve}",
        )
    )
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=size, color=COLORS["ink"])


def label(ax: Axes, x: float, y: float, text: str, size: float = 10, color: str = "ink", **kw) -> None:
    """Text at (x, y) in data units (centred unless ``ha``/``va`` say otherwise)."""
    kw.setdefault("ha", "center")
    kw.setdefault("va", "center")
    ax.text(x, y, text, fontsize=size, color=COLORS[color], **kw)


def save(fig: plt.Figure, path: Path) -> None:
    """Write ``fig`` as a deterministic SVG (no date, fixed ids)."""
    with plt.rc_context(STYLE):
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
