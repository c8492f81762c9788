"""Chapter 6's fine-tuning diagram: LoRA's low-rank update beside the frozen weight."""

from __future__ import annotations

from pathlib import Path

from matplotlib.patches import Polygon

from tools.diagrams.draw import COLORS, FILLS, arrow, box, canvas, label, save


def _trapezoid(ax, x: float, y: float, bottom: float, top: float, h: float, text: str) -> None:
    """A trapezoid centred on x: ``bottom`` wide at y, ``top`` wide at y + h (a d -> r map narrows)."""
    corners = [(x - bottom / 2, y), (x + bottom / 2, y), (x + top / 2, y + h), (x - top / 2, y + h)]
    ax.add_patch(Polygon(corners, facecolor=FILLS["orange"], edgecolor=COLORS["orange"], linewidth=1.4))
    label(ax, x, y + h / 2, text, size=10)


def lora(path: Path) -> None:
    """h = W x + (alpha/r) B A x: the frozen weight and the trainable r x d_in and d_out x r factors."""
    with canvas(6.4, 4.6) as (fig, ax):
        label(ax, 2.5, 0.25, "x  ($d_{in}$ numbers)", size=11)
        label(ax, 2.5, 4.35, r"h = W x + $\frac{\alpha}{r}$ B A x  ($d_{out}$ numbers)", size=11)
        box(ax, 0.4, 1.2, 2.0, 2.0, "W\n$d_{out} × d_{in}$\nfrozen", color="grey", size=11)
        _trapezoid(ax, 3.9, 0.95, 1.8, 0.5, 1.0, "A  ($r × d_{in}$)")
        _trapezoid(ax, 3.9, 2.45, 0.5, 1.8, 1.0, "B  ($d_{out} × r$)")
        label(ax, 4.7, 2.2, "r numbers", size=8, color="muted", ha="left")
        arrow(ax, (2.3, 0.45), (1.4, 1.2))
        arrow(ax, (2.7, 0.45), (3.7, 0.95))
        arrow(ax, (3.9, 1.95), (3.9, 2.45))
        arrow(ax, (1.4, 3.2), (2.3, 4.15))
        arrow(ax, (3.9, 3.45), (2.7, 4.15))
        label(ax, 0.9, 0.95, "$d_{out} d_{in}$ weights, not updated", size=8, color="muted")
        label(ax, 5.35, 3.75, "trainable:\n$r\\,(d_{in} + d_{out})$\nweights", size=9, color="ink")
        label(ax, 5.3, 0.5, "ΔW = B A:\nrank ≤ r,\nB starts at 0", size=9, color="ink")
        save(fig, path)
