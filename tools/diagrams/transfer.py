"""Chapter 2's hyperparameter-transfer diagram: loss against learning rate per width, SP and μP."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.diagrams.draw import COLORS, canvas, save

#: Four widths, each 4 times the last (schematic: the axes show no numbers).
WIDTH_STEPS = (0, 1, 2, 3)


def _curve(log_lr: np.ndarray, best: float, floor: float) -> np.ndarray:
    """A schematic loss-against-log-learning-rate valley: steeper on the high side, where runs diverge."""
    x = log_lr - best
    return floor + 0.05 * x**2 + np.where(x > 0, 0.06 * x**3, 0.0)


def lr_transfer(path: Path) -> None:
    """Two panels: under SP each wider model's best learning rate is lower; under μP they line up."""
    log_lr = np.linspace(-5.0, 5.0, 300)
    colors = ("orange", "sky", "blue", "purple")
    with canvas(8.4, 3.9) as (fig, frame):
        ink, muted = COLORS["ink"], COLORS["muted"]
        panels = (
            ("standard parametrization (SP)", (0.07, 0.2, 0.41, 0.62), -1.2),
            ("maximal update parametrization (μP)", (0.56, 0.2, 0.41, 0.62), 0.0),
        )
        for title, box, drift in panels:
            ax = fig.add_axes(box)
            for k, color in zip(WIDTH_STEPS, colors, strict=True):
                best = 1.6 + drift * k if drift else 0.3
                floor = 1.0 - 0.17 * k
                loss = _curve(log_lr, best, floor)
                ax.plot(log_lr, loss, color=COLORS[color], linewidth=2, label=f"width × {4**k}")
                ax.plot(best, floor, "*", color=COLORS[color], markersize=12)
            if drift:
                ax.annotate(
                    "", (1.6 + 3 * drift + 0.1, 0.38), xytext=(1.6 - 0.1, 0.38),
                    arrowprops={"arrowstyle": "-|>", "color": ink, "linewidth": 1.2},
                )  # fmt: skip
                ax.text(0.2, 0.28, "best rate falls\nas width grows", ha="center", va="top", fontsize=9)
            else:
                ax.text(-2.2, 0.28, "best rate stays put", ha="center", va="top", fontsize=9)
            ax.set(xlim=(-5, 5), ylim=(0.1, 1.6))
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.set_title(title, fontsize=10, color=ink)
            ax.set_xlabel("learning rate (log scale)", fontsize=10, color=ink)
            ax.set_ylabel("final loss", fontsize=10, color=ink)
        ax.legend(fontsize=8, loc="lower right", frameon=False)
        note = "schematic: one curve per width, a star at its best learning rate; wider models reach lower losses"
        frame.text(4.2, 3.7, note, ha="center", va="center", fontsize=9, color=muted)
        save(fig, path)
