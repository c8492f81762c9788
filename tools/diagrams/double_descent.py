"""Chapter 3's double-descent diagram: test and training error against capacity, in its regimes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.diagrams.draw import COLORS, FILLS, canvas, save

#: A schematic, not a fit: the noise level and the peak's width only set where the curves sit.
NOISE, WIDTH = 0.2, 0.2


def _errors(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Schematic (test, training) error against p/n: bias falls with capacity, the noise's share peaks at p = n."""
    bias = 0.1 + np.exp(-12 * ratio)
    noise = NOISE * np.minimum(ratio, 1) / (np.abs(1 - ratio) + WIDTH)
    train = np.where(ratio < 1, bias * (1 - ratio), 0.0)  # the fit's residual vanishes at p = n
    return bias + noise, train


def double_descent_regimes(path: Path) -> None:
    """Test error: the classical U below p = n, a peak at the interpolation threshold, a second descent past it."""
    ratio = np.logspace(np.log10(0.02), np.log10(30), 600)
    test, train = _errors(ratio)
    ink, muted = COLORS["ink"], COLORS["muted"]
    with canvas(7.2, 4.6) as (fig, frame):
        ax = fig.add_axes((0.06, 0.13, 0.92, 0.7))
        ax.axvspan(ratio[0], 1, color=FILLS["sky"], linewidth=0)
        ax.axvline(1, color=COLORS["grey"], linestyle=":", linewidth=1.4)
        ax.plot(ratio, test, color=COLORS["red"], linewidth=2.2)
        ax.plot(ratio, train, color=COLORS["blue"], linewidth=2.2)

        bottom = int(np.argmin(np.where(ratio < 1, test, np.inf)))
        ax.plot(ratio[bottom], test[bottom], "o", color=COLORS["red"], markersize=5)
        ax.annotate("bottom of the U", (ratio[bottom], test[bottom]), xytext=(0.3, 0.62), ha="center",
                    fontsize=9, color=ink, arrowprops={"arrowstyle": "-", "color": muted})  # fmt: skip
        ax.text(0.042, 0.78, "test error", fontsize=10, color=ink)
        ax.text(0.075, 0.1, "training error", fontsize=10, color=ink, ha="right")
        ax.text(0.022, 1.17, "under-parameterized:\nthe classical U", fontsize=10, color=ink, va="top")
        ax.text(
            1.15,
            1.17,
            "over-parameterized:\nthe modern interpolating regime",
            fontsize=10,
            color=ink,
            va="top",
        )
        ax.text(27, 0.5, "every fit interpolates;\nthe smallest-norm one\ngets smoother",
                fontsize=9, color=ink, ha="right", va="top")  # fmt: skip
        threshold = "interpolation threshold: training error reaches zero"
        ax.annotate(threshold, (1, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 6),
                    textcoords="offset points", ha="center", fontsize=10, color=ink)  # fmt: skip

        ax.set(xscale="log", xlim=(ratio[0], ratio[-1]), ylim=(-0.03, 1.2))
        ax.set_xticks([1], ["$p = n$"], fontsize=10)
        ax.tick_params(axis="x", which="minor", bottom=False)
        ax.tick_params(axis="x", colors=ink)
        ax.set_yticks([])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(
            "capacity: random features $p$, or a network's width (log scale)", fontsize=10, color=ink
        )
        ax.set_ylabel("error", fontsize=10, color=ink)
        source = "Belkin et al. (2019): $p$ random features, $n$ training points; Nakkiran et al. (2020): the same in ResNet width"
        frame.text(3.6, 4.42, source, ha="center", va="center", fontsize=9, color=muted)
        save(fig, path)
