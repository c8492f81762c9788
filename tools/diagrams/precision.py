"""Chapter 6's quantization diagram: absmax rounding onto a grid, an outlier, and per-row scales."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes

from tools.diagrams.draw import COLORS, canvas, label, save

BITS = 4
#: A 2 x 4 weight matrix (rows are output channels), and the outlier that replaces its last weight.
WEIGHTS = ((-0.62, 0.15, 0.48, -0.27), (0.36, -0.81, 0.05, 0.90))
OUTLIER = 4.50
ROW_COLORS = ("blue", "orange")
#: The number line shows [-1, 1] at this many inches per unit, from x = LEFT; larger values sit past a break.
LEFT, UNIT, FAR = 1.15, 2.55, 6.95


def absmax(values: list[float], bits: int = BITS) -> tuple[float, list[int]]:
    """Chapter 6's absmax quantizer: s = max|w| / (2^(b-1) - 1), q = round(w / s); returns (s, q)."""
    s = max(abs(w) for w in values) / (2 ** (bits - 1) - 1)
    return s, [round(w / s) for w in values]


def _x(value: float) -> float:
    """Inches along the number line for ``value`` (a value beyond [-1, 1] sits past the break)."""
    return FAR if value > 1 else LEFT + (value + 1) * UNIT


def _line(ax: Axes, y: float, weights: list[tuple[float, int]]) -> None:
    """One number line: the grid of one scale, each weight (dot) moved to its nearest level (bar)."""
    values = [w for w, _ in weights]
    s, q = absmax(values)
    codes = 2 ** (BITS - 1) - 1
    ax.plot([_x(-1), _x(1)], [y, y], color=COLORS["grey"], linewidth=1)
    for level in range(-codes, codes + 1):
        if abs(level * s) <= 1:
            ax.plot([_x(level * s)] * 2, [y - 0.07, y + 0.07], color=COLORS["grey"], linewidth=1)
    if max(values) > 1:
        ax.plot([_x(1), FAR + 0.25], [y, y], color=COLORS["grey"], linewidth=1, linestyle=(0, (2, 3)))
        label(ax, (_x(1) + FAR) / 2, y, "//", size=9, color="muted")
        ax.plot([FAR] * 2, [y - 0.07, y + 0.07], color=COLORS["grey"], linewidth=1)
    for (w, row), code in zip(weights, q, strict=True):
        x, rounded = _x(w), _x(code * s)
        ax.plot([x, rounded], [y + 0.34, y + 0.1], color=COLORS[ROW_COLORS[row]], linewidth=1)
        ax.plot([x], [y + 0.36], "o", markersize=6, color=COLORS[ROW_COLORS[row]])
        ax.plot([rounded] * 2, [y - 0.11, y + 0.11], color=COLORS["red"], linewidth=2.4)
        if w > 1:
            label(ax, x + 0.12, y + 0.36, f"{w:.2f}", size=8, ha="left")
    ordinary = [(w, code) for (w, _), code in zip(weights, q, strict=True) if w <= 1]
    error = sum(abs(code * s - w) for w, code in ordinary) / len(ordinary)
    levels = len({code for _, code in ordinary})
    for value in (-1, 0, 1):
        label(ax, _x(value), y - 0.2, f"{value}".replace("-", "−"), size=8, color="muted")
    note = "the other " if len(ordinary) < len(weights) else ""
    text = f"{note}{len(ordinary)} weights on {levels} levels, mean |ŵ − w| = {error:.2f}"
    label(ax, _x(-1), y - 0.42, text, size=8, color="muted", ha="left")


def _header(ax: Axes, y: float, text: str) -> None:
    label(ax, 0.15, y, text, size=9.5, ha="left")


def quantization_grid(path: Path) -> None:
    """A 2 x 4 weight matrix in int4 absmax: one scale, the same with an outlier, then a scale per row."""
    plain = [(w, row) for row, ws in enumerate(WEIGHTS) for w in ws]
    spiked = [*plain[:-1], (OUTLIER, 1)]
    codes = 2 ** (BITS - 1) - 1
    with canvas(7.6, 6.3) as (fig, ax):
        label(
            ax,
            3.8,
            6.05,
            rf"$b = {BITS}$:  $s = \max_i |w_i|\, /\, (2^{{b-1}} - 1)$,  $q_i = \mathrm{{round}}(w_i / s)$,"
            rf"  $\hat w_i = s\, q_i$,  codes $-{codes} \ldots {codes}$",
            size=10,
        )
        ax.plot([1.6], [5.7], "o", markersize=6, color=COLORS["blue"])
        ax.plot([2.35], [5.7], "o", markersize=6, color=COLORS["orange"])
        ax.plot([3.1] * 2, [5.6, 5.8], color=COLORS["red"], linewidth=2.4)
        label(ax, 1.7, 5.7, "row 1", size=8, ha="left")
        label(ax, 2.45, 5.7, "row 2", size=8, ha="left")
        label(ax, 3.2, 5.7, r"$\hat w$ (grey ticks: the grid $s\,q$)", size=8, ha="left")

        largest = max(abs(w) for w, _ in plain)
        s, _ = absmax([w for w, _ in plain])
        _header(ax, 5.3, f"one scale for the matrix (per tensor):  $s$ = {largest:.2f} / {codes} = {s:.3f}")
        _line(ax, 4.55, plain)
        s, _ = absmax([w for w, _ in spiked])
        outlier = f"{plain[-1][0]:.2f} → {OUTLIER:.2f}"
        _header(ax, 3.8, f"the same with one outlier, {outlier}:  $s$ = {OUTLIER:.2f} / {codes} = {s:.3f}")
        _line(ax, 3.05, spiked)
        _header(ax, 2.3, "one scale per row (per channel): the outlier coarsens its own row only")
        for row, y in ((0, 1.6), (1, 0.55)):
            weights = [pair for pair in spiked if pair[1] == row]
            s, _ = absmax([w for w, _ in weights])
            label(ax, 0.15, y + 0.1, f"row {row + 1}\n$s$ = {s:.3f}", size=8, ha="left")
            _line(ax, y, weights)
        save(fig, path)
