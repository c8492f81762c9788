"""Lab 2 (scaling laws): the compute budgets of its IsoFLOP profiles and the sizes of its
language-model sweep."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class ScalingSettings(LabSettings):
    """Sizes of Lab 2's experiments: IsoFLOP profiles (part 2), a sweep of byte-level
    transformers on Python source and the larger model it predicts (part 3)."""

    budgets: setting(tuple[float, ...], "part 2: training FLOPs of each IsoFLOP profile")
    seeds: setting(int, "students per width, averaged to smooth the profiles")
    batch_size: setting(int, "fresh teacher samples per training step")
    min_steps: setting(int, "a profile includes the widths whose budget buys at least this many steps")
    max_steps: setting(int, "... and at most this many")
    lm_widths: setting(tuple[int, ...], "part 3: d_model of the sweep's transformers")
    held_out_width: setting(int, "d_model of the larger model whose loss the laws predict")
    n_layers: setting(int, "transformer blocks per model")
    context: setting(int, "bytes per training window")
    lm_batch: setting(int, "windows per training step")
    lm_steps: setting(int, "training steps, the same for every size (a fixed number of bytes D)")
    lm_lr: setting(float, "AdamW learning rate after the warm-up")
    eval_every: setting(int, "steps between validation checkpoints")
    eval_windows: setting(int, "validation windows per checkpoint")
    corpus_bytes: setting(int, "bytes of Python source read (train and validation files)")
    fit_starts: setting(int, "L-BFGS starts of the parametric fit L(N, D)")

    @classmethod
    def profiles(cls) -> dict[str, ScalingSettings]:
        cpu = cls(
            budgets=(4e7, 1.2e8, 3.6e8),
            seeds=2,
            batch_size=128,
            min_steps=50,
            max_steps=2000,
            lm_widths=(8, 12, 16, 24, 32),
            held_out_width=64,
            n_layers=2,
            context=64,
            lm_batch=32,
            lm_steps=400,
            lm_lr=1e-2,
            eval_every=80,
            eval_windows=128,
            corpus_bytes=4_000_000,
            fit_starts=16,
        )
        return {
            "smoke": replace(
                cpu,
                budgets=(4e6, 1.6e7),
                seeds=1,
                batch_size=64,
                min_steps=20,
                max_steps=150,
                lm_widths=(8, 12, 16, 24),
                held_out_width=32,
                n_layers=1,
                context=32,
                lm_batch=8,
                lm_steps=40,
                eval_every=10,
                eval_windows=16,
                corpus_bytes=300_000,
                fit_starts=2,
            ),
            "cpu": cpu,
            "gpu": replace(
                cpu,
                budgets=(4e7, 1.2e8, 3.6e8, 1.1e9),
                seeds=4,
                max_steps=4000,
                lm_widths=(32, 48, 64, 96, 128),
                held_out_width=256,
                n_layers=4,
                context=128,
                lm_batch=64,
                lm_steps=2000,
                lm_lr=3e-3,
                eval_every=250,
                eval_windows=512,
                corpus_bytes=16_000_000,
                fit_starts=32,
            ),
        }
