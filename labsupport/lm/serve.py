"""Generating text with a :class:`~labsupport.lm.model.ByteLM` and a KV cache.

Lab 7 serves the course model. A forward pass over a whole window recomputes every earlier
position's keys and values at each new byte; :func:`forward_cached` keeps them in a
:class:`KVCache` and computes only the new positions (Chapter 7). :func:`generate` decodes a
batch of prompts, with or without the cache. Speculative decoding is in
:mod:`labsupport.lm.speculative`, splitting the model over processes in :mod:`labsupport.lm.parallel`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from labsupport._validate import int_in, module, number_in, tensor
from labsupport.lm.model import ByteLM


@dataclass
class KVCache:
    """Every layer's keys and values so far, each ``(batch, heads, positions, head_dim)``."""

    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    length: int = 0  # positions cached (a model without blocks caches none, but counts them)

    def __len__(self) -> int:
        """Positions cached."""
        return self.length

    @property
    def nbytes(self) -> int:
        """Bytes the cached tensors occupy."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def truncate(self, positions: int) -> None:
        """Keep the first ``positions`` positions (speculative decoding drops rejected ones)."""
        int_in("positions", positions, 0, len(self))
        self.keys = [k[:, :, :positions] for k in self.keys]
        self.values = [v[:, :, :positions] for v in self.values]
        self.length = positions

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions' keys and values to ``layer``'s; return all of them so far."""
        if layer < len(self.keys):
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        elif layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            raise ValueError(f"layer {layer} comes before layer {len(self.keys)} has a cache")
        return self.keys[layer], self.values[layer]


def cached_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention of ``t`` new queries over all ``T`` positions so far (the new ones last), causally."""
    t, T = q.shape[2], k.shape[2]
    causal = torch.ones(t, T, dtype=torch.bool, device=q.device).tril(T - t)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal)


def attend_cached(block: nn.Module, x: torch.Tensor, cache: KVCache, layer: int) -> torch.Tensor:
    """One block on the new positions ``x`` ``(B, t, d)``; their keys and values join ``cache``."""
    B, t, d = x.shape
    heads = block.n_heads
    q, k, v = block.qkv(block.ln1(x)).split(d, dim=2)  # (B, t, d) each
    q, k, v = (z.view(B, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
    k, v = cache.extend(layer, k, v)  # all positions' keys and values so far
    y = cached_attention(q, k, v)  # (B, heads, t, d / heads): t new queries
    x = x + block.proj(y.transpose(1, 2).reshape(B, t, d))
    return x + block.out(F.gelu(block.fc(block.ln2(x))))


def forward_cached(model: ByteLM, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Logits ``(B, t, 256)`` for the new bytes ``idx`` ``(B, t)``, which follow ``len(cache)`` cached ones.

    Equal to ``model(whole window)[:, -t:]`` up to rounding; ``cache`` grows by ``t`` positions.
    """
    start = len(cache)
    if start + idx.shape[1] > model.config.context:
        raise ValueError(
            f"at most context={model.config.context} positions, got {start} cached + {idx.shape[1]} new"
        )
    x = model.tok(idx) + model.pos(torch.arange(start, start + idx.shape[1], device=idx.device))
    for layer, block in enumerate(model.blocks):
        x = attend_cached(block, x, cache, layer)
    cache.length += idx.shape[1]
    return model.ln(x) @ model.tok.weight.T


def next_distribution(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probabilities of the next byte: ``softmax(logits / T)``, or one-hot on the argmax at ``T = 0``."""
    if temperature == 0:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return F.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def generate(
    model: ByteLM,
    prompts: torch.Tensor,
    new_bytes: int,
    *,
    use_cache: bool = True,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    step_seconds: list[float] | None = None,
) -> torch.Tensor:
    """Continue each prompt (rows of ``prompts``, ``(B, T)``) by ``new_bytes`` bytes; ``(B, T + new)``.

    Without the cache every step runs the whole window again. ``step_seconds``, if given, gets
    the wall time of each step (the device synchronised).
    """
    module("model", model)
    tensor("prompts", prompts, ndim=2)
    int_in("new_bytes", new_bytes, 1, model.config.context - prompts.shape[1])
    number_in("temperature", temperature, 0, None)
    device = next(model.parameters()).device
    idx, cache = prompts.to(device).long(), KVCache()
    fresh = idx
    for _ in range(new_bytes):
        start = time.perf_counter()
        logits = forward_cached(model, fresh, cache)[:, -1] if use_cache else model(idx)[:, -1]
        if temperature == 0:
            fresh = logits.argmax(-1, keepdim=True)  # (B, 1)
        else:
            fresh = torch.multinomial(F.softmax(logits.float() / temperature, -1), 1, generator=generator)
        idx = torch.cat([idx, fresh], dim=1)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step_seconds is not None:
            step_seconds.append(time.perf_counter() - start)
    return idx.cpu()
