"""Lab 6's check: merging a learner's LoRA adapter into its base layer for deployment.

:func:`check_lora_merge` tests properties of the merged layer (a plain ``nn.Linear`` that
computes what the adapted layer computes, leaves the base layer as it was, and is the base
layer itself when the adapter is zero); the library's
:meth:`labsupport.lora.LoRALinear.merged_weight` is the oracle of the lab's hidden tests only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from labsupport._validate import describe


def _merged(name: str, merge: Callable[[nn.Module], nn.Module], layer: nn.Module) -> nn.Linear:
    """``merge(layer)``, checked to be a plain ``nn.Linear`` of the layer's shape."""
    adapter = {k: v.clone() for k, v in layer.state_dict().items()}
    merged = merge(layer)
    changed = [k for k, v in layer.state_dict().items() if not torch.equal(v, adapter[k])]
    if changed:
        raise AssertionError(
            f"{name} changed the LoRA layer ({', '.join(changed)}): the base model must stay as it "
            "was, to serve other adapters; build a new Linear"
        )
    base = layer.base
    if type(merged) is not nn.Linear:
        raise AssertionError(f"{name} must return a plain nn.Linear, got {describe(merged)}")
    if (merged.in_features, merged.out_features) != (base.in_features, base.out_features):
        raise AssertionError(
            f"{name}: the merged layer maps {merged.in_features} -> {merged.out_features} features, "
            f"the LoRA layer {base.in_features} -> {base.out_features}"
        )
    if (merged.bias is None) != (base.bias is None):
        raise AssertionError(f"{name}: the merged layer must keep the base layer's bias (or lack of one)")
    return merged


def check_lora_merge(merge: Callable[[nn.Module], nn.Module], lora_cls: type[nn.Module]) -> None:
    """Check a learner's ``merge(lora_layer) -> nn.Linear`` on layers of ``lora_cls(base, rank, alpha)``.

    ``lora_cls`` is the notebook's LoRA layer: attributes ``base``, ``A`` (r, in), ``B``
    (out, r) and ``scaling``. The merged layer must give the LoRA layer's outputs on random
    inputs (with a trained, non-zero ``B``), leave the LoRA layer and its base unchanged and
    not share their memory, and be the base layer when ``B`` is zero. A forgotten scaling, a
    dropped bias and a transposed update get a hint. Prints a confirmation or raises
    AssertionError.
    """
    name = "merge_lora"
    if not callable(merge):
        raise AssertionError(f"{name}: expected a function, got {type(merge).__name__}")
    g = torch.Generator().manual_seed(0)
    for d_in, d_out, rank, alpha, bias in [
        (9, 9, 2, 4.0, True),  # square first: a transposed update has the right shape there
        (12, 7, 3, 8.0, True),
        (6, 5, 4, 2.0, False),
    ]:
        with torch.random.fork_rng():  # the learner's random state stays as it was
            torch.manual_seed(0)
            layer = lora_cls(nn.Linear(d_in, d_out, bias=bias), rank, alpha)
        where = f"(a {d_in} -> {d_out} layer, rank {rank}, alpha {alpha:g})"
        zero = _merged(name, merge, layer)  # B starts at zero: the merge is the base layer
        if not torch.allclose(zero.weight, layer.base.weight, rtol=0, atol=1e-7):
            raise AssertionError(f"{name} {where}: with B = 0 the merged weight must be the base weight")
        with torch.no_grad():
            layer.B.copy_(torch.randn(layer.B.shape, generator=g))  # as if trained
        merged = _merged(name, merge, layer)
        x = torch.randn(16, d_in, generator=g)
        with torch.no_grad():
            got, want = merged(x), layer(x)
            update = x @ layer.A.T @ layer.B.T
            base = layer.base(x)
        if not torch.allclose(got, want, rtol=1e-5, atol=1e-5):
            hints = {
                "the scaling alpha / r forgotten?": base + update,
                "the bias dropped?": want - (0 if layer.base.bias is None else layer.base.bias),
            }
            for hint, wrong in hints.items():
                if torch.allclose(got, wrong, rtol=1e-5, atol=1e-5):
                    raise AssertionError(f"{name} {where}: outputs differ from the LoRA layer's; {hint}")
            if d_in == d_out and torch.allclose(
                got, base + layer.scaling * x @ (layer.B @ layer.A), rtol=1e-5, atol=1e-5
            ):
                raise AssertionError(
                    f"{name} {where}: outputs differ from the LoRA layer's; the update transposed? "
                    "nn.Linear stores its weight as (out, in)"
                )
            raise AssertionError(f"{name} {where}: outputs differ from the LoRA layer's on random inputs")
        before = copy.deepcopy(layer.state_dict())
        with torch.no_grad():
            merged.weight.add_(1.0)
            if merged.bias is not None:
                merged.bias.add_(1.0)
        if any(not torch.equal(v, before[k]) for k, v in layer.state_dict().items()):
            raise AssertionError(
                f"{name} {where}: the merged layer shares its weight with the LoRA layer's base, so "
                "changing one changes the other; build the merged weight as a new tensor"
            )
    print(f"✓ {name}: a plain Linear with the LoRA layer's outputs, the base layer untouched")
