"""A small MLPSweep (6 inputs) shared by the sweep model and sweep training tests."""

import torch

from labsupport.sweep.model import MLPSweep


def small_sweep(widths=(3, 8, 5, 8), depth=2, grouping="auto", out=2, activation="relu", seed=0) -> MLPSweep:
    """An MLPSweep of ``widths`` on 6 inputs, seeded."""
    return MLPSweep(
        widths,
        6,
        out,
        depth=depth,
        activation=activation,
        grouping=grouping,
        generator=torch.Generator().manual_seed(seed),
    )
