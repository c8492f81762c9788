"""Lab 8 (the capstone): the grid of small runs, the learning-rate grid of the transfer
experiment, the budget, the query volumes and the size of the verifier experiment."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class CapstoneSettings(LabSettings):
    """Sizes of the capstone's experiments: the grid the law is fitted to (part 2), the
    decision (parts 3-5), the quantized copies (part 5) and the verifier experiment (part 6)."""

    widths: setting(tuple[int, ...], "hidden units of the grid's student MLPs")
    grid_steps: setting(tuple[int, ...], "every width trains for each of these step counts")
    batch_size: setting(int, "fresh teacher samples per training step")
    lr: setting(float, "Adam learning rate (cosine schedule to each run's last step)")
    budget: setting(float, "the training FLOPs you are given")
    queries_low: setting(float, "a low expected inference volume (queries over the model's life)")
    queries_high: setting(float, "a high expected inference volume")
    fit_starts: setting(int, "L-BFGS starts of the law fitted in the notebook")
    bootstrap: setting(int, "refits of the law on resampled runs")
    serve_batch: setting(int, "inputs per timed forward pass")
    memory_budget: setting(float, "bytes of weights the deployed model may take")
    quant_seeds: setting(int, "part 5: copies of each trained choice that are quantized")
    tasks: setting(int, "part 6: lines of held-out Python to complete")
    samples: setting(tuple[int, ...], "the k of pass@k")
    new_bytes: setting(int, "bytes generated per answer")
    temperature: setting(float, "sampling temperature of the answers")
    success_targets: setting(tuple[float, ...], "task success the cost search must reach")
    transfer_widths: setting(tuple[int, ...], "learning-rate grid: widths (the smallest is the base)")
    transfer_lrs: setting(tuple[float, ...], "learning-rate grid: Adam rates, a factor of 2 apart")
    transfer_steps: setting(int, "learning-rate grid: steps of every run")
    transfer_seeds: setting(int, "learning-rate grid: initialisations per cell")
    transfer_depth: setting(int, "learning-rate grid: hidden layers per student")

    @classmethod
    def profiles(cls) -> dict[str, CapstoneSettings]:
        cpu = cls(
            widths=(8, 11, 16, 23, 32, 45, 64, 91, 128, 181),
            grid_steps=(250, 500, 1000, 2000),
            batch_size=128,
            lr=1e-2,
            budget=3e8,
            fit_starts=8,
            queries_low=1e4,
            queries_high=1e7,
            bootstrap=30,
            serve_batch=65536,
            memory_budget=600,
            quant_seeds=128,
            tasks=192,
            samples=(1, 2, 4, 8),
            new_bytes=32,
            temperature=0.8,
            success_targets=(0.1, 0.2, 0.3),
            transfer_widths=(8, 16, 32, 64, 128),
            transfer_lrs=tuple(2.0**k for k in range(-8, 0)),
            transfer_steps=400,
            transfer_seeds=3,
            transfer_depth=2,
        )
        return {
            "smoke": replace(
                cpu,
                widths=(8, 16, 32, 64),
                grid_steps=(50, 100, 200),
                budget=3e7,
                fit_starts=4,
                bootstrap=3,
                serve_batch=4096,
                quant_seeds=2,
                tasks=12,
                samples=(1, 2),
                new_bytes=16,
                transfer_widths=(8, 32),
                transfer_lrs=tuple(2.0**k for k in range(-6, -2)),
                transfer_steps=20,
                transfer_seeds=1,
            ),
            "cpu": cpu,
            "gpu": replace(
                cpu,
                widths=(*cpu.widths, 256, 362),
                grid_steps=(250, 500, 1000, 2000, 4000),
                budget=1e9,
                bootstrap=100,
                quant_seeds=128,
                tasks=256,
                samples=(1, 2, 4, 8, 16, 32),
                transfer_widths=(8, 16, 32, 64, 128, 256, 512),
                transfer_lrs=tuple(2.0**k for k in range(-10, 0)),
                transfer_steps=1000,
                transfer_seeds=4,
            ),
        }
