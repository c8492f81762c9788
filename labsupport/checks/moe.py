"""Lab 5's check: a learner's mixture-of-experts layer."""

from __future__ import annotations

import torch
from torch import nn

from labsupport.moe import MoELayer


def check_moe_layer(layer_cls: type[nn.Module], *, atol: float = 1e-5) -> None:
    """Check a learner's MoE layer class against :class:`labsupport.moe.MoELayer` with the same weights.

    The class must take ``(d_in, d_hidden, d_out, num_experts, k)``, name its modules
    ``router`` and ``experts`` like :class:`MoELayer`, and return ``(output, balance_loss)``
    from ``forward(x, capacity_factor=None)``. Prints a confirmation or raises AssertionError.
    """
    if not isinstance(layer_cls, type) or not issubclass(layer_cls, nn.Module):
        raise AssertionError(f"expected an nn.Module class, got {layer_cls!r}")
    g = torch.Generator().manual_seed(0)
    for d_in, d_hidden, d_out, num_experts, k in [(3, 5, 1, 4, 1), (6, 4, 2, 5, 2)]:
        reference = MoELayer(d_in, d_hidden, d_out, num_experts, k)
        mine = layer_cls(d_in, d_hidden, d_out, num_experts, k)
        try:
            mine.load_state_dict(reference.state_dict())
        except RuntimeError as exc:
            raise AssertionError(f"the layer's parameters are not named like MoELayer's: {exc}") from None
        x = torch.randn(64, d_in, generator=g)
        for cf in (None, 0.5, 1.0):
            with torch.no_grad():
                want_y, want_balance = reference(x, capacity_factor=cf)
                got = mine(x) if cf is None else mine(x, capacity_factor=cf)
            if not (isinstance(got, tuple) and len(got) == 2):
                raise AssertionError(f"forward must return (output, balance_loss), got {type(got).__name__}")
            got_y, got_balance = got
            where = f"(E={num_experts}, k={k}, capacity_factor={cf})"
            if got_y.shape != want_y.shape or not torch.allclose(got_y, want_y, atol=atol):
                raise AssertionError(f"outputs differ from labsupport.MoELayer {where}")
            if not torch.allclose(
                torch.as_tensor(got_balance, dtype=want_balance.dtype), want_balance, atol=atol
            ):
                raise AssertionError(
                    f"balance loss {float(got_balance):.6g} differs from {float(want_balance):.6g} {where}"
                )
    print("✓ MoELayer: same outputs and balance loss as labsupport.MoELayer, with and without capacity")
