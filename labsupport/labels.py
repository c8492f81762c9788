"""Corrupting class labels on purpose, as in the random-label experiments (Chapter 3).

Zhang et al. (2017) replace the label of each training example, with probability ``fraction``,
by a class drawn uniformly at random. :func:`corrupt_labels` does the same with an exact count:
``round(fraction * n)`` examples, chosen at random, get a uniformly random class. The new class
may happen to equal the old one, so about ``fraction * (1 - 1/num_classes)`` of the labels end
up wrong; ``fraction=1`` gives labels that carry no information about the inputs at all.
"""

from __future__ import annotations

import torch


def corrupt_labels(
    labels: torch.Tensor,
    fraction: float,
    num_classes: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A copy of ``labels`` where a random ``fraction`` of them is redrawn uniformly (Chapter 3).

    Args:
        labels: integer class labels, shape ``(n,)``, values in ``[0, num_classes)``.
        fraction: share of examples whose label is redrawn, in ``[0, 1]``.
        num_classes: number of classes to draw from.
        generator: a CPU ``torch.Generator`` for repeatable corruption.

    Returns:
        New labels on the same device as ``labels``; the input is left unchanged.
    """
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long or labels.ndim != 1:
        got = (
            f"{labels.dtype} tensor of shape {tuple(labels.shape)}"
            if isinstance(labels, torch.Tensor)
            else type(labels).__name__
        )
        raise TypeError(f"labels must be a 1-D tensor of integer (torch.long) class labels, got {got}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got values from {labels.min().item()} to {labels.max().item()}"
        )
    n = len(labels)
    count = round(fraction * n)
    chosen = torch.randperm(n, generator=generator)[:count]
    new_classes = torch.randint(0, num_classes, (count,), generator=generator)
    corrupted = labels.clone()
    corrupted[chosen.to(labels.device)] = new_classes.to(labels.device)
    return corrupted
