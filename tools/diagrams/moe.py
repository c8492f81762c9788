"""Chapter 5's mixture-of-experts diagram: top-k routing into experts of fixed capacity."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from tools.diagrams.draw import COLORS, FILLS, arrow, box, canvas, label, save

#: The router's probabilities p(x) over E = 4 experts for each of T = 8 tokens (rows sum to 1).
#: Expert 1 is the favourite: five tokens choose it first.
ROUTER = (
    (0.50, 0.30, 0.10, 0.10),
    (0.45, 0.15, 0.30, 0.10),
    (0.45, 0.10, 0.10, 0.35),
    (0.40, 0.10, 0.35, 0.15),
    (0.50, 0.30, 0.10, 0.10),
    (0.15, 0.45, 0.30, 0.10),
    (0.15, 0.40, 0.10, 0.35),
    (0.35, 0.45, 0.10, 0.10),
)
K = 2
CAPACITY_FACTOR = 1.0
EXPERT_COLORS = ("blue", "orange", "green", "purple")
EXAMPLE = 2  # x3, whose gate-weighted sum the diagram writes out


def _top_k(p: tuple[float, ...], k: int) -> list[int]:
    """The indices of the ``k`` largest probabilities, largest first."""
    return sorted(range(len(p)), key=lambda i: -p[i])[:k]


def _dispatch(capacity: int) -> tuple[list[list[int]], list[list[int]]]:
    """Fill the slots as GShard (and Lab 5) do: every token's first choice in batch order, then the
    second choices; returns the tokens each expert keeps and those it drops, in order of arrival."""
    experts = len(ROUTER[0])
    kept: list[list[int]] = [[] for _ in range(experts)]
    dropped: list[list[int]] = [[] for _ in range(experts)]
    for rank in range(K):
        for t, p in enumerate(ROUTER):
            i = _top_k(p, K)[rank]
            (kept[i] if len(kept[i]) < capacity else dropped[i]).append(t)
    return kept, dropped


def _x(t: int) -> str:
    """Token t's name in the chapter's notation (1-based)."""
    return f"$x_{t + 1}$"


def _gated(t: int, experts: list[int]) -> str:
    """The gate-weighted sum over ``experts`` for token t, with the router's numbers."""
    terms = [rf"{ROUTER[t][i]:.2f}\ \mathrm{{FFN}}_{i + 1}(x_{t + 1})" for i in experts]
    return rf"$y_{t + 1} = " + " + ".join(terms) + "$"


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
    served = {t: [i for i in _top_k(ROUTER[t], K) if t in kept[i]] for t in range(tokens)}
    partial = [t for t in range(tokens) if len(served[t]) == 1]
    lost = [t for t in range(tokens) if not served[t]]
    assert len(served[EXAMPLE]) == K and partial and lost, "the example shows each case once"
    with canvas(7.6, 5.4) as (fig, ax):
        label(
            ax,
            3.8,
            5.17,
            rf"$T = {tokens}$ tokens, $E = {experts}$ experts, $k = {K}$;   capacity "
            rf"$C = \lceil \mathrm{{capacity\ factor}} \cdot kT/E\, \rceil"
            rf" = \lceil {CAPACITY_FACTOR:.1f} \cdot {K} \cdot {tokens} / {experts}\, \rceil = {capacity}$",
        )
        label(ax, 1.35, 4.75, r"router: $p(x) = \mathrm{softmax}(W_r\, x)$", size=9)
        row = 0.41
        for t, p in enumerate(ROUTER):
            y = 4.2 - row * t
            label(ax, 0.45, y + 0.12, _x(t), size=10)
            _bars(ax, 0.85, y - 0.05, p)
        label(ax, 1.35, 0.95, r"bars: $p_1(x), \ldots, p_4(x)$; filled: top-2", size=8, color="muted")
        arrow(ax, (2.05, 2.95), (3.0, 2.95), "dispatch\n(top-2)", size=9)

        slot, top = 0.46, 4.1
        label(ax, 5.05, 4.75, f"$C = {capacity}$ slots per expert", size=9)
        label(ax, 6.68, 4.75, "full: dropped", size=9)
        for i in range(experts):
            y = top - 0.77 * i
            box(ax, 3.1, y, 0.8, slot, rf"$\mathrm{{FFN}}_{i + 1}$", color=EXPERT_COLORS[i], size=10)
            for j in range(capacity):
                x = 4.05 + 0.52 * j
                if j < len(kept[i]):
                    box(ax, x, y, slot - 0.04, slot, _x(kept[i][j]), color=EXPERT_COLORS[i], size=10)
                    if kept[i][j] == EXAMPLE:
                        _outline(ax, x, y, slot - 0.04, slot)
                else:
                    box(ax, x, y, slot - 0.04, slot, color="grey", dashed=True)
            for j, t in enumerate(dropped[i]):
                box(ax, 6.2 + 0.52 * j, y, slot - 0.04, slot, _x(t), color="red", dashed=True, size=10)
        order = "slots fill with all first choices (in batch order), then second choices"
        label(ax, 3.05, 1.55, order, size=8, color="muted", ha="left")
        label(ax, 3.05, 1.3, "empty slots: padding", size=8, color="muted", ha="left")

        ax.plot([3.0, 7.5], [1.12, 1.12], color=COLORS["grey"], linewidth=0.8)
        formula = r"$y = \Sigma_{i\,\in\,\mathrm{TopK}(p(x),\,k)}\ p_i(x)\, \mathrm{FFN}_i(x)$"
        label(ax, 3.05, 0.9, formula, ha="left")
        label(ax, 3.05, 0.64, _gated(EXAMPLE, served[EXAMPLE]), size=9, ha="left")
        t = partial[0]
        full = next(i for i in _top_k(ROUTER[t], K) if i not in served[t])
        label(ax, 3.05, 0.4, _gated(t, served[t]) + f": expert {full + 1} was full", size=9, ha="left")
        t = lost[0]
        text = rf"$y_{t + 1} = 0$: both its experts full; the residual carries $x_{t + 1}$ on unchanged"
        label(ax, 3.05, 0.16, text, size=9, ha="left")
        save(fig, path)
