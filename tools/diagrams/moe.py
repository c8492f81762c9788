"""Chapter 5's mixture-of-experts diagram: top-k routing into experts of fixed capacity."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from tools.diagrams.draw import COLORS, FILLS, arrow, box, canvas, label, save

#: The router's probabilities p(x) over E = 4 experts for each of T = 8 tokens (rows sum to 1).
ROUTER = (
    (0.50, 0.10, 0.30, 0.10),
    (0.10, 0.45, 0.15, 0.30),
    (0.45, 0.35, 0.12, 0.08),
    (0.40, 0.10, 0.15, 0.35),
    (0.05, 0.55, 0.30, 0.10),
    (0.30, 0.40, 0.20, 0.10),
    (0.10, 0.15, 0.40, 0.35),
    (0.42, 0.38, 0.10, 0.10),
)
K = 2
CAPACITY_FACTOR = 1.0
EXPERT_COLORS = ("blue", "orange", "green", "purple")
EXAMPLE = 2  # x3, whose gate-weighted sum the diagram writes out


def _top_k(p: tuple[float, ...], k: int) -> list[int]:
    """The indices of the ``k`` largest probabilities, largest first."""
    return sorted(range(len(p)), key=lambda i: -p[i])[:k]


def _dispatch(capacity: int) -> tuple[list[list[int]], list[list[int]]]:
    """Fill each expert's slots in token order; return (kept, dropped) token indices per expert."""
    experts = len(ROUTER[0])
    kept: list[list[int]] = [[] for _ in range(experts)]
    dropped: list[list[int]] = [[] for _ in range(experts)]
    for t, p in enumerate(ROUTER):
        for i in _top_k(p, K):
            (kept[i] if len(kept[i]) < capacity else dropped[i]).append(t)
    return kept, dropped


def _bars(ax: Axes, x: float, y: float, p: tuple[float, ...]) -> None:
    """The router's probabilities as four small bars; the top-k ones filled in their expert's colour."""
    chosen = _top_k(p, K)
    for i, value in enumerate(p):
        color = EXPERT_COLORS[i] if i in chosen else "grey"
        ax.add_patch(
            Rectangle(
                (x + 0.17 * i, y),
                0.13,
                0.5 * value,
                facecolor=COLORS[color] if i in chosen else FILLS["grey"],
                edgecolor=COLORS[color],
                linewidth=0.8,
            )
        )


def _outline(ax: Axes, x: float, y: float, w: float, h: float) -> None:
    """A heavy ink outline around a slot: the worked example's token."""
    ax.add_patch(
        Rectangle(
            (x - 0.03, y - 0.03), w + 0.06, h + 0.06, fill=False, edgecolor=COLORS["ink"], linewidth=1.8
        )
    )


def moe_routing(path: Path) -> None:
    """T = 8 tokens, E = 4 experts, top-2: each expert has C slots, overflow is dropped, outputs summed."""
    tokens, experts = len(ROUTER), len(ROUTER[0])
    capacity = math.ceil(CAPACITY_FACTOR * K * tokens / experts)
    kept, dropped = _dispatch(capacity)
    assert sum(map(len, kept)) + sum(map(len, dropped)) == K * tokens
    with canvas(7.6, 5.05) as (fig, ax):
        label(
            ax,
            3.8,
            4.8,
            rf"$T = {tokens}$ tokens, $E = {experts}$ experts, $k = {K}$;   capacity "
            rf"$C = \lceil \mathrm{{capacity\ factor}} \cdot kT/E\, \rceil"
            rf" = \lceil {CAPACITY_FACTOR:.1f} \cdot {K} \cdot {tokens} / {experts}\, \rceil = {capacity}$",
        )
        label(ax, 1.35, 4.4, r"router: $p(x) = \mathrm{softmax}(W_r\, x)$", size=9)
        row = 0.41
        for t, p in enumerate(ROUTER):
            y = 3.85 - row * t
            label(ax, 0.45, y + 0.12, f"$x_{t + 1}$", size=10)
            _bars(ax, 0.85, y - 0.05, p)
        label(ax, 1.35, 0.6, r"bars: $p_1(x), \ldots, p_4(x)$; filled: top-2", size=8, color="muted")
        arrow(ax, (2.05, 2.6), (3.0, 2.6), "dispatch\n(top-2)", size=9)

        slot, top = 0.46, 3.75
        for i in range(experts):
            y = top - 0.77 * i
            box(ax, 3.1, y, 0.8, slot, rf"$\mathrm{{FFN}}_{i + 1}$", color=EXPERT_COLORS[i], size=10)
            for j in range(capacity):
                x = 4.05 + 0.52 * j
                if j < len(kept[i]):
                    box(ax, x, y, slot - 0.04, slot, f"$x_{kept[i][j] + 1}$", color=EXPERT_COLORS[i], size=10)
                    if kept[i][j] == EXAMPLE:
                        _outline(ax, x, y, slot - 0.04, slot)
                else:
                    box(ax, x, y, slot - 0.04, slot, color="grey", dashed=True)
            for j, t in enumerate(dropped[i]):
                x = 4.15 + 0.52 * (capacity + j)
                box(ax, x, y, slot - 0.04, slot, f"$x_{t + 1}$", color="red", dashed=True, size=10)
                label(ax, x + slot + 0.08, y + slot / 2, "full:\ndropped", size=8, ha="left")
        label(ax, 5.05, 4.4, f"$C = {capacity}$ slots per expert", size=9)
        label(ax, 5.05, 1.2, "empty slots: padding", size=8, color="muted")

        p = ROUTER[EXAMPLE]
        first, second = _top_k(p, K)
        ax.plot([3.0, 7.5], [1.05, 1.05], color=COLORS["grey"], linewidth=0.8)
        label(
            ax,
            3.05,
            0.8,
            r"$y = \Sigma_{i\,\in\,\mathrm{TopK}(p(x),\,k)}\ p_i(x)\, \mathrm{FFN}_i(x)$",
            ha="left",
        )
        label(
            ax,
            3.05,
            0.5,
            rf"$y_3 = {p[first]:.2f}\ \mathrm{{FFN}}_{first + 1}(x_3) + {p[second]:.2f}\ \mathrm{{FFN}}_{second + 1}(x_3)$"
            r"   (gate-weighted sum)",
            size=9,
            ha="left",
        )
        label(
            ax,
            3.05,
            0.2,
            r"$x_8$: both its experts are full, $y_8 = 0$; the residual carries $x_8$ on unchanged",
            size=9,
            ha="left",
        )
        save(fig, path)
