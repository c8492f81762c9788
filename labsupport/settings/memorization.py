"""Lab 3 (overfitting versus memorization): the sizes of its five experiments."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from labsupport.settings.base import LabSettings, setting

#: The MNIST-1D authors' 19 widths, 2 to 300 (their notebook "6. deep_double_descent").
AUTHORS_WIDTHS = tuple(np.unique(np.geomspace(2, 300, 20).astype(int)).tolist())


@dataclass(frozen=True)
class MemorizationSettings(LabSettings):
    """Sizes of Lab 3's experiments: random labels (part 1), random features (parts 2 and 4),
    a trained width sweep (part 3) and training trajectories (part 5, with its control at
    one noise level)."""

    memo_dataset: setting(str, 'part 1: "mnist1d", or "cifar10" (Zhang et al.\'s data)')
    memo_samples: setting(int, "part 1: training examples")
    memo_width: setting(int, "part 1: hidden width of the MLP's two hidden layers")
    memo_max_epochs: setting(int, "part 1: give up after this many passes")
    memo_seeds: setting(int, "part 1: repeats of each run (initialization, minibatch order)")
    memo_lr: setting(float, "part 1: SGD's learning rate (momentum 0.9, batch 100)")
    fractions: setting(tuple, "part 1: fractions of corrupted labels")
    rf_samples: setting(int, "parts 2 and 4: training points n on the unit sphere")
    rf_dim: setting(int, "parts 2 and 4: input dimension d")
    rf_max_features: setting(int, "parts 2 and 4: the largest number of features p")
    rf_points: setting(int, "parts 2 and 4: values of p on a log grid")
    mnist1d_samples: setting(int, "MNIST-1D examples generated (80% train, 20% test)")
    dd_samples: setting(int, "part 3: training examples (15% of labels wrong)")
    dd_widths: setting(tuple, "part 3: hidden widths of the 40 -> w -> w -> 10 MLPs")
    dd_repeats: setting(int, "part 3: initializations (seeds) per width")
    dd_epochs: setting(int, "part 3: passes of SGD (batch 100, lr 0.01, momentum 0.9)")
    dd_workers: setting(int, "part 3: threads sharing the sweep's stacks (one per CPU core)")
    noise_levels: setting(tuple, "part 5: label-noise standard deviation of each target")
    sine_repeats: setting(int, "part 5: initializations per noise level")
    sine_steps: setting(int, "part 5: full-batch Adam steps")
    control_noise: setting(float, "part 5, the control: the one noise level")
    control_runs: setting(int, "part 5, the control: initializations at that level")

    @classmethod
    def profiles(cls) -> dict[str, MemorizationSettings]:
        cpu = cls(
            memo_dataset="mnist1d",
            memo_samples=1_000,
            memo_width=512,
            memo_max_epochs=150,
            memo_seeds=3,
            memo_lr=0.05,
            fractions=(0.0, 0.25, 0.5, 0.75, 1.0),
            rf_samples=100,
            rf_dim=20,
            rf_max_features=10_000,
            rf_points=30,
            mnist1d_samples=10_000,
            dd_samples=4_000,
            # all the authors' 19 widths, 2 seeds, on both cores; 200 of their 500 epochs
            dd_widths=AUTHORS_WIDTHS,
            dd_repeats=2,
            dd_epochs=200,
            dd_workers=2,
            noise_levels=(0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
            sine_repeats=2,
            sine_steps=2_500,
            control_noise=0.3,
            control_runs=16,
        )
        return {
            "smoke": replace(
                cpu,
                memo_samples=200,
                memo_width=128,
                memo_max_epochs=40,
                memo_seeds=2,
                fractions=(0.0, 1.0),
                rf_samples=40,
                rf_dim=10,
                rf_max_features=2_000,
                rf_points=12,
                mnist1d_samples=5_000,
                dd_samples=200,
                dd_widths=(4, 16, 64),
                dd_repeats=2,
                dd_epochs=5,
                dd_workers=2,
                noise_levels=(0.0, 1.0),
                sine_repeats=1,
                sine_steps=200,
                control_runs=4,
            ),
            "cpu": cpu,
            # 12,800 MNIST-1D training signals: 4,000 used, 12,000 held out with the test set
            "gpu": replace(
                cpu,
                memo_dataset="cifar10",
                memo_samples=4_000,
                memo_width=1_024,
                memo_max_epochs=300,
                memo_seeds=3,
                fractions=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                rf_samples=200,
                rf_dim=40,
                rf_max_features=80_000,
                rf_points=40,
                mnist1d_samples=16_000,
                dd_widths=AUTHORS_WIDTHS,
                dd_repeats=3,
                dd_epochs=500,
                dd_workers=1,
                noise_levels=(0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.85, 1.0),
                sine_repeats=4,
                sine_steps=4_000,
                control_runs=32,
            ),
        }
