"""Chapter 4's distillation diagram: a frozen teacher's softened outputs teach a student, with the label."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch

from tools.diagrams.draw import COLORS, arrow, box, canvas, label, save

#: Chapter 4's loss, in its symbols: student logits s, teacher logits t, label y, temperature T, weight alpha.
LOSS = (
    r"$\mathcal{L} = \alpha\, \mathrm{CE}(y, \mathrm{softmax}(s))"
    r" + (1-\alpha)\, T^2\, \mathrm{KL}(\mathrm{softmax}(t/T)\, \Vert\, \mathrm{softmax}(s/T))$"
)


def _gradient_path(ax: Axes, points: list[tuple[float, float]]) -> None:
    """A dashed path through ``points`` ending in an arrowhead: the gradient flowing back."""
    xs, ys = zip(*points[:-1], strict=True)
    ax.plot(xs, ys, color=COLORS["red"], linestyle="--", linewidth=1.4)
    ax.add_patch(
        FancyArrowPatch(
            points[-2],
            points[-1],
            arrowstyle="-|>",
            mutation_scale=12,
            color=COLORS["red"],
            linewidth=1.4,
            linestyle="--",
        )
    )


def distillation_setup(path: Path) -> None:
    """Teacher (frozen) and student see the same x; the loss mixes CE with y and T²-scaled KL at temperature T."""
    with canvas(7.8, 5.0) as (fig, ax):
        label(ax, 3.9, 4.75, LOSS, size=11)

        box(ax, 0.1, 1.75, 0.6, 0.6, "$x$", color="grey", size=12)
        box(ax, 1.15, 2.55, 1.3, 0.8, "student\n(trained)", color="blue", size=11)
        box(ax, 1.15, 0.7, 1.3, 0.75, "teacher\n(frozen)", color="grey", size=11)
        arrow(ax, (0.7, 2.15), (1.15, 2.85))
        arrow(ax, (0.7, 1.95), (1.15, 1.2))

        box(ax, 2.95, 3.125, 1.6, 0.55, "softmax($s$)", color="blue")
        box(ax, 2.95, 2.025, 1.6, 0.55, "softmax($s/T$)", color="blue")
        box(ax, 2.95, 0.8, 1.6, 0.55, "softmax($t/T$)", color="grey")
        arrow(ax, (2.45, 3.1), (2.95, 3.4), "$s$", offset=(-0.08, 0.05))
        arrow(ax, (2.45, 2.8), (2.95, 2.3))
        arrow(ax, (2.45, 1.075), (2.95, 1.075), "$t$", offset=(0, 0.03))

        box(ax, 5.15, 3.05, 1.5, 0.7, r"$\alpha\, \mathrm{CE}$", color="orange", size=11)
        box(ax, 5.15, 1.1, 1.5, 0.95, "$(1-\\alpha)\\, T^2\\, \\mathrm{KL}$", color="orange", size=11)
        label(ax, 5.9, 2.5, "hard label $y$")
        arrow(ax, (5.9, 2.65), (5.9, 3.05))
        arrow(ax, (4.55, 3.4), (5.15, 3.4))
        arrow(ax, (4.55, 2.3), (5.15, 1.8))
        arrow(ax, (4.55, 1.075), (5.15, 1.35))
        label(ax, 3.75, 0.55, "soft targets", size=9, color="muted", va="top")

        box(ax, 7.0, 2.2, 0.6, 0.6, r"$\mathcal{L}$", color="orange", size=12)
        arrow(ax, (6.65, 3.3), (7.15, 2.8))
        arrow(ax, (6.65, 1.7), (7.15, 2.2))

        _gradient_path(ax, [(7.3, 2.8), (7.3, 4.25), (1.8, 4.25), (1.8, 3.35)])
        label(ax, 4.55, 4.38, "gradient of $\\mathcal{L}$: into the student only", size=9, va="bottom")
        label(ax, 1.8, 0.45, "no gradient", size=9, color="muted", va="top")
        save(fig, path)
