"""Chapter 1's transformer diagram: where one layer's parameters and forward FLOPs sit."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from tools.diagrams.draw import COLORS, arrow, box, canvas, label, save

#: Centres of the two ledger columns (inches) beside the drawing: parameters, forward FLOPs.
PARAMS_X, FLOPS_X = 4.75, 6.45


def _ledger(ax: Axes, y: float, params: str, flops: str, size: float = 10) -> None:
    """One row of the ledger beside the drawing: a part's parameters and its FLOPs per token."""
    label(ax, PARAMS_X, y, params, size=size)
    label(ax, FLOPS_X, y, flops, size=size)


def _weight(ax: Axes, x: float, y: float, name: str) -> None:
    """A small square for one d x d projection matrix, its name inside."""
    ax.add_patch(Rectangle((x, y), 0.5, 0.5, facecolor="white", edgecolor=COLORS["blue"], linewidth=1.2))
    label(ax, x + 0.25, y + 0.25, name, size=10)


def block_anatomy(path: Path) -> None:
    """One transformer layer: 4d² attention and 8d² MLP weights, 2 FLOPs each per token, plus attention's n_ctx term."""
    with canvas(7.6, 6.5) as (fig, ax):
        label(ax, PARAMS_X, 6.25, "parameters", color="muted")
        label(ax, FLOPS_X, 6.25, "forward FLOPs per token", color="muted")
        ax.plot([3.75, 7.5], [6.05, 6.05], color=COLORS["grey"], linewidth=0.8)

        # Outside the layers: the token embedding, and the unembedding to logits.
        label(ax, 1.9, 0.7, "tokens")
        box(ax, 0.5, 1.1, 2.8, 0.5, "token embedding (a lookup)", color="grey")
        _ledger(ax, 1.35, r"$n_\mathrm{vocab}\cdot d$", "≈ 0")
        box(ax, 0.5, 5.5, 2.8, 0.45, r"unembedding to $n_\mathrm{vocab}$ logits", color="grey")
        _ledger(ax, 5.72, r"$n_\mathrm{vocab}\cdot d$, or 0 if tied", r"$2\, n_\mathrm{vocab}\, d$")

        # One layer, repeated L times: attention, then the MLP; its total on the frame's top line.
        frame = Rectangle(
            (0.25, 1.9), 3.3, 3.4, facecolor="none", edgecolor=COLORS["ink"], linestyle="--", linewidth=1
        )
        ax.add_patch(frame)
        label(ax, 0.4, 5.05, r"one layer, $\times\, L$", ha="left")
        box(ax, 0.5, 2.1, 2.8, 1.75, color="blue")
        for k, name in enumerate(("$W_Q$", "$W_K$", "$W_V$", "$W_O$")):
            _weight(ax, 0.65 + 0.65 * k, 2.25, name)
        label(ax, 1.9, 2.95, r"attention: four $d \times d$ projections", size=9)
        label(
            ax,
            1.9,
            3.45,
            "scores $QK^\\top$ and weighted sum of $V$\nover the $n_\\mathrm{ctx}$ tokens of the context",
            size=9,
        )
        _ledger(ax, 2.5, r"$4d^2$", r"$8d^2$")
        _ledger(ax, 3.45, "none", r"$4\, n_\mathrm{ctx}\, d$")
        label(ax, FLOPS_X, 3.1, "both products in full;\nKaplan et al. count half", size=8, color="muted")
        box(
            ax,
            0.5,
            4.05,
            2.8,
            0.75,
            "MLP:  $d \\to 4d \\to d$\n($d \\times 4d$ and $4d \\times d$)",
            color="orange",
        )
        _ledger(ax, 4.42, r"$8d^2$", r"$16d^2$")
        ax.plot([3.75, 7.5], [4.9, 4.9], color=COLORS["grey"], linewidth=0.8)
        _ledger(ax, 5.1, r"$12d^2$", r"$24d^2 + 4\, n_\mathrm{ctx}\, d$", size=11)

        for y0, y1 in ((0.85, 1.1), (1.6, 2.1), (3.85, 4.05), (4.8, 5.5)):
            arrow(ax, (1.9, y0), (1.9, y1))

        # What the stack adds up to, in the chapter's notation (L and n_layer are the same number).
        stack = (
            r"$L = n_\mathrm{layer}$ layers: $N \approx 12\, L\, d^2$, embeddings left out;",
            r"forward $\approx 2N + 4\, n_\mathrm{layer}\, n_\mathrm{ctx}\, d$ per token:",
            r"the context term passes $2N$ once $n_\mathrm{ctx} > 6d$",
        )
        for k, line in enumerate(stack):
            label(ax, 5.6, 0.6 - 0.25 * k, line, size=9, color="muted")
        save(fig, path)
