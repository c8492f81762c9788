"""Lab 6's checks: a learner's per-channel fake quantizer.

:func:`check_per_channel_quantizer` tests properties of the answer (every row on a symmetric
grid of its own scale, the row's largest weight kept, at most half a step of error, rows
independent, an all-zero row left at zero); :func:`check_fake_quantizer` compares with
:func:`labsupport.fake_quantize` and is the oracle of the lab's hidden tests.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from labsupport._validate import describe
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

    The oracle: for hidden tests. Prints a confirmation, or raises ``AssertionError`` saying
    where the answer differs.
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


def _quantized(name: str, fn: Callable[[torch.Tensor], torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """``fn(w)`` on a copy, checked for shape and finiteness."""
    given = w.clone()
    out = fn(given)
    if not torch.equal(given, w):
        raise AssertionError(f"{name}: the function changed its input weight; return a new tensor")
    if not isinstance(out, torch.Tensor) or out.shape != w.shape:
        raise AssertionError(f"{name}: expected a tensor of shape {tuple(w.shape)}, got {describe(out)}")
    out = out.detach().float()
    if not torch.isfinite(out).all():
        zero_rows = (w == 0).all(dim=1)
        if zero_rows.any() and not torch.isfinite(out[zero_rows]).all():
            raise AssertionError(
                f"{name}: an all-zero row gives NaN (its absmax is 0, so 0 / 0); give such a row scale 1"
            )
        raise AssertionError(f"{name}: the output holds NaN or infinite values")
    return out


def _on_grid(out: torch.Tensor, absmax: torch.Tensor, top: int) -> bool:
    """Whether every row of ``out`` is ``code * absmax / top`` with integer codes in ``[-top, top]``."""
    codes = out * top / absmax
    return bool((codes - codes.round()).abs().max() < 1e-3 and codes.abs().max() <= top + 1e-3)


def check_per_channel_quantizer(name: str, fn: Callable[[torch.Tensor], torch.Tensor], bits: int) -> None:
    """Check a learner's per-channel symmetric fake quantizer ``fn(weight (out, in))`` by its properties.

    Every row must land on at most ``2**bits - 1`` symmetric levels of its own scale, keep its
    largest ``|w|`` exactly, be off by at most half a step anywhere, and not depend on the
    other rows; an all-zero row stays zero (no NaN). A per-tensor scale and an off-by-one
    ``qmax`` get a hint. Prints a confirmation or raises AssertionError.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    top = 2 ** (bits - 1) - 1
    g = torch.Generator().manual_seed(0)
    sizes = torch.logspace(-2, 1, 12).unsqueeze(1)  # rows of very different size
    spread = torch.randn(12, 48, generator=g) * sizes
    spread[5] = 0.0  # an all-zero row
    dense = torch.linspace(-1, 1, 1001) * torch.tensor([[1.0], [0.03], [-7.0]])  # every level used
    for w in (spread, dense):
        out = _quantized(name, fn, w)
        nonzero = (w != 0).any(dim=1)
        if (out[~nonzero] != 0).any():
            raise AssertionError(f"{name}: an all-zero row must stay zero")
        big = int(w.abs().amax(dim=1).argmax())
        louder = w.clone()
        louder[big] *= 4
        others = torch.arange(len(w)) != big
        if not torch.allclose(_quantized(name, fn, louder)[others], out[others], rtol=1e-6, atol=1e-9):
            raise AssertionError(
                f"{name}: multiplying one row by 4 changed the other rows: one scale for the whole "
                "tensor? Each row (output channel) needs its own absmax scale"
            )
        w, out = w[nonzero], out[nonzero]
        absmax = w.abs().amax(dim=1, keepdim=True)
        if not _on_grid(out, absmax, top):
            for wrong in (2 ** (bits - 1), 2**bits - 1, 2**bits, top - 1):
                if _on_grid(out, absmax, wrong):
                    raise AssertionError(
                        f"{name}: the codes run from -{wrong} to {wrong}: a {bits}-bit symmetric grid "
                        f"has 2^{bits} - 1 levels, so the largest code is 2^{bits - 1} - 1 (off by one?)"
                    )
            raise AssertionError(
                f"{name}: some row is not on a symmetric grid of 2^{bits} - 1 levels scaled to its "
                "own largest |w|"
            )
        if ((out - w).abs() > absmax / top / 2 * (1 + 1e-4) + 1e-7).any():
            raise AssertionError(
                f"{name}: some weight moved by more than half a step: round to the nearest level "
                "(torch.round), not down or towards zero"
            )
        at = w.abs().argmax(dim=1, keepdim=True)
        if not torch.allclose(out.gather(1, at), w.gather(1, at), rtol=1e-5, atol=0.0):
            raise AssertionError(
                f"{name}: some row's largest |w| is not kept: the row's scale must map it onto the last code"
            )

    print(
        f"✓ {name}: each row on {2**bits - 1} levels of its own scale, largest |w| kept, "
        "error within half a step, zero rows stay zero"
    )
