"""Chapter 7's serving diagrams: the KV cache, a speculative round, tensor against pipeline parallelism."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch, Rectangle

from tools.diagrams.draw import COLORS, FILLS, arrow, box, canvas, label, save

#: Llama 2 70B's shape (Chapter 7): layers, key-value heads, head dim, and bytes per bf16 value.
LAYERS, KV_HEADS, HEAD_DIM, BYTES = 80, 8, 128, 2


def _path(ax: Axes, points: list[tuple[float, float]], color: str = "ink") -> None:
    """A line through ``points`` whose last segment ends in an arrowhead."""
    xs, ys = zip(*points[:-1], strict=True)
    ax.plot(xs, ys, color=COLORS[color], linewidth=1.3, solid_capstyle="butt")
    arrow(ax, points[-2], points[-1], color=color)


def kv_cache(path: Path) -> None:
    """One decoding step in one layer: q_t attends over the cached keys and values, k_t and v_t are appended."""
    t = 6
    per_token = 2 * LAYERS * KV_HEADS * HEAD_DIM * BYTES
    with canvas(7.6, 4.9) as (fig, ax):
        for shift in (0.1, 0.05, 0.0):  # the stack of layers, each with its own cache
            ax.add_patch(
                FancyBboxPatch(
                    (0.1 + shift, 1.45 + shift),
                    7.3,
                    2.8,
                    boxstyle="round,pad=0.02,rounding_size=0.06",
                    facecolor="white",
                    edgecolor=COLORS["grey"],
                    linewidth=1.0,
                )
            )
        label(
            ax,
            3.8,
            4.68,
            f"decoding the token at position $t = {t}$: every layer does this, with its own cache",
        )

        box(ax, 0.3, 1.75, 1.95, 1.55, color="blue")
        label(ax, 1.27, 3.0, "attention", size=9)
        scores = rf"$a_i = \mathrm{{softmax}}_i\,(q_{t} \cdot k_i / \sqrt{{\mathrm{{head\ dim}}}})$"
        label(ax, 1.27, 2.55, scores, size=8)
        label(ax, 1.27, 2.1, rf"$o_{t} = \Sigma_{{i=1}}^{{{t}}}\ a_i\, v_i$", size=9)
        for name, y in (("k", 2.75), ("v", 1.9)):
            for i in range(1, t + 1):
                new = i == t  # the new token's key and value, appended in this step
                color = "orange" if new else "sky"
                box(ax, 2.6 + 0.56 * (i - 1), y, 0.46, 0.46, f"${name}_{i}$", color=color, dashed=new)
            arrow(ax, (2.58, y + 0.23), (2.27, y + 0.23))
        label(ax, 3.72, 3.38, f"cached: positions 1–{t - 1} (earlier steps)", size=8, color="muted")
        label(ax, 5.63, 3.38, "appended", size=8, color="muted")
        label(ax, 3.72, 1.63, "each $k_i$, $v_i$: KV heads × head dim numbers", size=8, color="muted")

        box(ax, 6.35, 1.9, 0.95, 1.31, r"$W_Q, W_K, W_V$", color="grey", size=9)
        arrow(ax, (6.35, 2.98), (5.85, 2.98))
        arrow(ax, (6.35, 2.13), (5.85, 2.13))
        _path(ax, [(6.82, 3.21), (6.82, 3.75), (1.7, 3.75), (1.7, 3.31)])
        label(ax, 4.2, 3.88, f"$q_{t}$: the new query (not cached)", size=9)
        arrow(ax, (0.75, 3.31), (0.75, 3.82))
        label(ax, 0.3, 3.98, f"$o_{t}$ → the rest of the layer", size=9, ha="left")
        arrow(ax, (6.82, 0.95), (6.82, 1.88))
        label(ax, 7.45, 0.78, f"$h_{t}$: the new token's input to this layer", size=9, ha="right")

        label(
            ax,
            0.2,
            1.05,
            "KV bytes per token = 2 · layers · KV heads · head dim · bytes per value",
            ha="left",
        )
        label(
            ax,
            0.2,
            0.6,
            f"Llama 2 70B: 2 · {LAYERS} · {KV_HEADS} · {HEAD_DIM} · {BYTES} bytes"
            f" = {per_token // 1024} KiB per token",
            ha="left",
        )
        save(fig, path)


#: One round of speculative decoding, k = 4: each drafted token, its q(x) (draft) and p(x) (target),
#: and the uniform draw u that keeps it if u < min(1, p(x)/q(x)); the fourth is never judged.
DRAFTS = (
    ("sat", 0.60, 0.70, 0.93),
    ("on", 0.50, 0.40, 0.35),
    ("a", 0.50, 0.10, 0.62),
    ("mat", 0.40, None, None),
)
RESAMPLED = "the"


def speculative_round(path: Path) -> None:
    """The draft q proposes k = 4 tokens; the target p scores them in one pass; kept, rejected, resampled."""
    k = len(DRAFTS)
    columns = [1.95 + 1.22 * j for j in range(k + 1)]
    kept = 0
    while kept < k and DRAFTS[kept][3] < min(1, DRAFTS[kept][2] / DRAFTS[kept][1]):
        kept += 1
    assert kept < k, "the example shows a rejection"
    with canvas(7.6, 5.45) as (fig, ax):
        label(ax, 3.8, 5.22, f"one round with $k = {k}$: the draft $q$ proposes, the target $p$ checks")
        label(ax, columns[1] + 0.61, 4.9, r"draft: one step per token, $x \sim q$", size=9)
        box(ax, 0.2, 4.3, 1.1, 0.42, "The cat", color="grey", size=10)
        label(ax, 0.75, 4.08, "prefix", size=8, color="muted")
        for j, (token, q, _, _) in enumerate(DRAFTS):
            box(ax, columns[j] - 0.45, 4.3, 0.9, 0.42, token, color="sky", size=10)
            arrow(ax, (columns[j - 1] + 0.45 if j else 1.3, 4.51), (columns[j] - 0.47, 4.51))
            label(ax, columns[j], 4.08, f"$q$ = {q:.2f}", size=8)
        for x in [0.75, *columns[:k]]:  # the target reads the prefix and the k drafts ...
            arrow(ax, (x, 3.95), (x, 3.62))
        box(ax, 0.2, 3.17, 7.2, 0.43, color="blue")
        label(
            ax,
            3.8,
            3.385,
            f"target: one forward pass over all of them gives $p$ at $k + 1 = {k + 1}$ positions",
            size=9,
        )
        for x in columns:  # ... and gives the next-token distribution after each of them
            arrow(ax, (x, 3.15), (x, 2.9))
        label(ax, 0.2, 2.75, "$p(x)$", size=9, ha="left")
        label(ax, 0.2, 2.3, r"$\min(1,\, p(x)/q(x))$", size=9, ha="left")
        label(ax, 0.2, 1.9, r"draw $u \sim U(0, 1)$", size=9, ha="left")
        label(ax, 0.2, 1.5, "keep if $u$ < min,\nleft to right", size=9, ha="left")
        for j, (_, q, p, u) in enumerate(DRAFTS):
            if j > kept:
                label(ax, columns[j], 2.75, "not used", size=8, color="muted")
                box(ax, columns[j] - 0.5, 1.3, 1.0, 0.4, "discarded", color="grey", size=9, dashed=True)
                continue
            label(ax, columns[j], 2.75, f"$p$ = {p:.2f}", size=8)
            label(ax, columns[j], 2.3, f"{min(1, p / q):.2g}", size=9)
            label(ax, columns[j], 1.9, f"{u:.2f}", size=9)
            if j < kept:
                box(ax, columns[j] - 0.5, 1.3, 1.0, 0.4, "kept", color="green", size=9)
            else:
                box(ax, columns[j] - 0.5, 1.3, 1.0, 0.4, "rejected", color="red", size=9)
                arrow(ax, (columns[j], 1.28), (columns[j], 1.02))
                box(ax, columns[j] - 0.8, 0.6, 3.7, 0.4, color="orange")
                text = rf"resample '{RESAMPLED}' $\sim \max(0,\, p - q)$, renormalised; the round ends"
                label(ax, columns[j] + 1.05, 0.8, text, size=8)
        label(ax, columns[k], 2.75, "$p$ for a bonus", size=8, color="muted")
        box(ax, columns[k] - 0.5, 1.3, 1.0, 0.4, f"bonus if\nall {k} kept", color="grey", size=8, dashed=True)
        accepted = " ".join(token for token, *_ in DRAFTS[:kept])
        text = (
            f"{kept + 1} new tokens for one target pass and {k} draft steps; all {k} kept would give {k + 1}"
        )
        label(ax, 0.2, 0.2, f"output: The cat {accepted} {RESAMPLED}   ({text})", size=9, ha="left")
        save(fig, path)


GPU_COLORS = ("blue", "orange", "green", "purple")
#: Pipeline stages and micro-batches in the schedule (Llama 2 70B's layers over 4 GPUs).
STAGES, MICRO_BATCHES = 4, 4


def _split(ax: Axes, x: float, y: float, w: float, h: float, part: int, columns: bool, text: str) -> None:
    """A matrix's outline with one GPU's half filled: the left or right columns, or the top or bottom rows."""
    color = GPU_COLORS[part]
    ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=COLORS["grey"], linewidth=1, linestyle="--"))
    left, bottom, width, height = (
        (x + part * w / 2, y, w / 2, h) if columns else (x, y + (1 - part) * h / 2, w, h / 2)
    )
    ax.add_patch(
        Rectangle(
            (left, bottom), width, height, facecolor=FILLS[color], edgecolor=COLORS[color], linewidth=1.4
        )
    )
    label(ax, left + width / 2, bottom + height / 2, text, size=9)


def tensor_pipeline(path: Path) -> None:
    """Tensor parallelism splits every layer's matrices over GPUs; pipeline parallelism gives each GPU whole layers."""
    u = 0.25  # inches per d: A is d x 4d, B is 4d x d
    with canvas(7.6, 6.6) as (fig, ax):
        title = r"tensor parallelism, $p = 2$ GPUs: the MLP $Y = \mathrm{GeLU}(XA)\,B$ of every layer"
        label(ax, 0.15, 6.4, title, ha="left")
        box(ax, 0.2, 4.55, 0.55, 0.5, "$X$", color="grey", size=10)
        label(ax, 0.47, 4.38, "copied", size=8, color="muted")
        for gpu, mid in ((0, 5.5), (1, 4.1)):
            label(ax, 1.1, mid + 0.35, f"GPU {gpu + 1}", size=9, ha="left")
            arrow(ax, (0.77, 4.8 + 0.1 * (1 - 2 * gpu)), (1.08, mid))
            _split(ax, 1.1, mid - u / 2, 4 * u, u, gpu, True, f"$A_{gpu + 1}$")
            arrow(ax, (2.12, mid), (2.45, mid))
            box(ax, 2.47, mid - 0.18, 0.7, 0.36, "GeLU", color="grey", size=9)
            arrow(ax, (3.19, mid), (3.5, mid))
            _split(ax, 3.52, mid - 2 * u, u, 4 * u, gpu, False, f"$B_{gpu + 1}$")
            arrow(ax, (3.8, mid), (4.2, mid))
            box(ax, 4.22, mid - 0.2, 0.95, 0.4, f"$Y_{gpu + 1}$ (partial)", color=GPU_COLORS[gpu], size=9)
            arrow(ax, (5.19, mid), (5.68, 4.8 + 0.15 * (1 - 2 * gpu)))
        box(ax, 5.7, 4.4, 1.6, 0.8, "all-reduce\n$Y = Y_1 + Y_2$", color="red", size=10)
        label(ax, 6.5, 3.9, "two per layer: after attention\n(split by heads) and the MLP;\neach: $d$ values per token",
              size=8, ha="center")  # fmt: skip
        label(ax, 1.1, 3.72, "$A$: split by columns", size=8, color="muted", ha="left")
        label(ax, 3.645, 3.42, "$B$: split by rows", size=8, color="muted")
        note = "the columns of $A$ (hidden units) are the rows of the first nn.Linear's (out, in) weight"
        label(ax, 0.15, 3.05, note, size=8, color="muted", ha="left")

        layers = 80 // STAGES
        header = f"pipeline parallelism, {STAGES} GPUs: consecutive layers (Llama 2 70B's 80), one micro-batch after another"
        label(ax, 0.15, 2.6, header, ha="left")
        cell, x0, top, pitch = 0.5, 2.1, 2.0, 0.5
        steps = STAGES + MICRO_BATCHES - 1
        for s in range(STAGES):
            y = top - pitch * s
            label(
                ax,
                0.15,
                y + 0.16,
                f"GPU {s + 1}: layers {s * layers + 1}–{(s + 1) * layers}",
                size=9,
                ha="left",
            )
            for t in range(steps):
                m = t - s  # the micro-batch this stage works on at time t, if any
                busy = 0 <= m < MICRO_BATCHES
                color = GPU_COLORS[s] if busy else "grey"
                ax.add_patch(
                    Rectangle(
                        (x0 + cell * t, y),
                        cell - 0.05,
                        0.32,
                        facecolor=FILLS[color] if busy else "white",
                        edgecolor=COLORS[color],
                        linewidth=1,
                        linestyle="-" if busy else (0, (2, 2)),
                    )
                )
                if busy:
                    label(ax, x0 + cell * t + 0.225, y + 0.16, f"{m + 1}", size=8)
        for s in range(1, STAGES):  # micro-batch 1's activations, handed from stage to stage
            y = top - pitch * s
            arrow(ax, (x0 + cell * (s - 1) + 0.3, y + pitch), (x0 + cell * s + 0.15, y + 0.33))
        end = x0 + cell * steps
        axis = top - pitch * (STAGES - 1) - 0.22
        arrow(ax, (x0, axis), (end, axis))
        label(ax, end + 0.05, axis, "time", size=8, color="muted", ha="left")
        label(ax, end + 0.15, top + 0.16, "1–4: micro-batches", size=8, ha="left")
        label(ax, end + 0.15, top - 0.55, "arrows: activations,\n$d$ values per token", size=8, ha="left")
        label(ax, end + 0.15, top - 1.25, "dashed: idle (the\nbubble) while the\npipeline fills and drains",
              size=8, ha="left")  # fmt: skip
        save(fig, path)
