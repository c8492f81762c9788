"""Chapter 2's scaling diagram: the IsoFLOP valley, loss against model size at a fixed compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labsupport.scaling import BESIROGLU_2024
from tools.diagrams.draw import COLORS, canvas, save

#: Three budgets, each 100 times the last: C1 < C2 < C3 (FLOPs; the axes show no numbers).
BUDGETS = (1e19, 1e21, 1e23)


def _isoflop_loss(N: np.ndarray, C: float) -> np.ndarray:
    """Chapter 2's law L(N, D) = E + A/N^alpha + B/D^beta along the budget C, where D = C/(6N)."""
    law = BESIROGLU_2024
    return law.E + law.A / N**law.alpha + law.B / (C / (6 * N)) ** law.beta


def isoflop_valley(path: Path) -> None:
    """Loss against N at three fixed budgets C = 6ND: each a valley whose bottom N_opt(C) moves right as C grows."""
    N = np.logspace(7, 12.5, 400)
    with canvas(7.2, 4.6) as (fig, frame):
        ax = fig.add_axes((0.07, 0.16, 0.91, 0.74))
        ink, muted = COLORS["ink"], COLORS["muted"]
        bottoms = []
        for k, (C, color) in enumerate(zip(BUDGETS, ("orange", "blue", "green"), strict=True)):
            loss = _isoflop_loss(N, C)
            ax.plot(N, loss, color=COLORS[color], linewidth=2)
            i = int(np.argmin(loss))
            bottoms.append((N[i], loss[i]))
            ax.plot(N[i], loss[i], "o", color=COLORS[color], markersize=6)
            ax.plot([N[i], N[i]], [1.8, loss[i]], ":", color=COLORS[color], linewidth=1.2)
            # Name each curve beside its right arm; the largest budget's arm stays low: above its end.
            right_arm = np.arange(N.size) > i
            j = int(np.argmax((loss > 3.6) & right_arm))
            if j:
                ax.text(N[j] * 1.25, loss[j], f"$C_{k + 1}$", fontsize=11, color=ink, va="center")
            else:
                ax.text(
                    N[-30], loss[-30] + 0.1, f"$C_{k + 1}$", fontsize=11, color=ink, ha="center", va="bottom"
                )
        ax.plot(*zip(*bottoms, strict=True), "--", color=COLORS["grey"], linewidth=1.2)

        for n, text, xytext, ha in (
            (2.5e7, "too small a model:\ncannot learn enough", (1.3e7, 4.25), "left"),
            (3e11, "too large a model:\nsees too few tokens", (2e10, 4.3), "left"),
        ):
            loss = float(_isoflop_loss(np.array([n]), BUDGETS[1])[0])
            arrowprops = {"arrowstyle": "-|>", "color": ink, "linewidth": 1, "shrinkB": 3}
            ax.annotate(text, (n, loss), xytext=xytext, ha=ha, va="center", fontsize=9, arrowprops=arrowprops)
        ax.text(
            1.3e7, 2.02, "dashed: the valleys' bottoms,\nwhich move right as $C$ grows", fontsize=9, color=ink
        )

        ax.set(xscale="log", xlim=(N[0], N[-1]), ylim=(1.8, 4.6))
        ax.set_xticks(
            [n for n, _ in bottoms], [f"$N_\\mathrm{{opt}}(C_{k + 1})$" for k in range(3)], fontsize=9
        )
        ax.set_yticks([])
        ax.tick_params(axis="x", which="minor", bottom=False)
        ax.tick_params(axis="x", colors=ink, length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("model size $N$ (parameters, log scale)", fontsize=10, color=ink)
        ax.set_ylabel("final loss $L(N, D)$", fontsize=10, color=ink)
        note = "each curve is one budget $C = 6ND$ ($C_1 < C_2 < C_3$): a model of size $N$ sees $D = C/(6N)$ tokens"
        frame.text(3.6, 4.4, note, ha="center", va="center", fontsize=9, color=muted)
        save(fig, path)
