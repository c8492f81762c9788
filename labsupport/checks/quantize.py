"""Lab 6's check: a learner's fake quantizer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from labsupport.checks.core import check_tensor_function
from labsupport.quantize import fake_quantize


def check_fake_quantizer(
    name: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    bits: int,
    granularity: str,
    group_size: int | None = None,
) -> None:
    """Check a learner's ``fn(weight) -> fake-quantized weight`` against :func:`labsupport.fake_quantize`.

    Prints a confirmation, or raises ``AssertionError`` saying where the answer differs.
    """
    g = torch.Generator().manual_seed(0)
    cases = [
        torch.randn(16, 32, generator=g),
        torch.randn(8, 64, generator=g)
        * torch.logspace(-2, 1, 8).unsqueeze(1),  # rows of very different size
        torch.cat([torch.zeros(1, 32), torch.randn(3, 32, generator=g)]),  # an all-zero row
    ]
    check_tensor_function(
        name, fn, lambda weight: fake_quantize(weight, bits, granularity, group_size), cases
    )
