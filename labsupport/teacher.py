"""A random teacher network: a regression task where both size and data keep helping (Labs 2, 8).

Its outputs are the targets; every step draws fresh inputs, so data never repeats, as in a
large corpus; student MLPs of several widths learn to imitate it. The output is standardised,
so a mean squared error of 1 means "no better than predicting the mean"::

    teacher = make_teacher(d_in=4, width=64, seed=0)
    sample = teacher_sampler(teacher, d_in=4)
    x, y = sample(128, torch.Generator().manual_seed(0))  # (128, 4), (128, 1)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from labsupport._validate import module, positive_int

#: ``sample(batch_size, generator) -> (x, y)``: fresh inputs and the teacher's outputs.
Sampler = Callable[[int, torch.Generator | None], tuple[torch.Tensor, torch.Tensor]]


def make_teacher(d_in: int, width: int, seed: int) -> nn.Module:
    """A fixed random ReLU network with two hidden layers: the function the students learn.

    Like ``torch.manual_seed``, this seeds torch's global generator with ``seed`` (Lab 2
    always did); pass your own generators to what runs after it.
    """
    positive_int("d_in", d_in)
    positive_int("width", width)
    torch.manual_seed(seed)
    teacher = nn.Sequential(
        nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1)
    )
    return teacher.requires_grad_(False)


def teacher_sampler(teacher: nn.Module, d_in: int) -> Sampler:
    """A function ``(batch_size, generator) -> (x, y)``: standard normal inputs ``(B, d_in)``
    and the teacher's outputs ``(B, 1)``, standardised on 20,000 reference inputs."""
    module("teacher", teacher)
    positive_int("d_in", d_in)
    x_ref = torch.randn(20_000, d_in, generator=torch.Generator().manual_seed(12345))
    y_ref = teacher(x_ref)
    mean, std = y_ref.mean(), y_ref.std()

    def sample(batch_size: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(batch_size, d_in, generator=generator)
        return x, (teacher(x) - mean) / std

    return sample
