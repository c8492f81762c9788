"""Counting one step of a lab's work: FLOPs with the course's counter, plus what a GPU launches.

:func:`measure` runs a function once under PyTorch's ``FlopCounterMode`` (the counter behind
``labsupport.count_flops``, with the same context that makes attention countable) and under
:class:`OpCounter`, which counts the aten operations that launch a kernel on a GPU (views launch
none), the bytes they read and write, and the bytes of the new tensors they create.

:func:`per_step` counts a loop the course runs (``fit``, ``train_lm``, ``train_students``, ...)
at one and at two steps; the difference is one step, set-up excluded. Used by
``tools/gpu_estimate.py`` (issue 29).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.optim.optimizer as torch_optimizer
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry

from labsupport.complexity import _countable_attention


@dataclass(frozen=True)
class Cost:
    """What one piece of work does. FLOPs, operations and traffic add up over repetitions;
    ``peak`` is the most memory its own tensors held at once, so it takes the larger of two."""

    flops: float = 0.0  # matmul and convolution FLOPs, two per multiply-add (count_flops's rule)
    ops: float = 0.0  # aten operations that launch a kernel on a GPU
    traffic: float = 0.0  # bytes read and written by those that are not matmuls or convolutions
    peak: float = 0.0  # bytes of the tensors it created that were alive at the same time, at most

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.flops + other.flops,
            self.ops + other.ops,
            self.traffic + other.traffic,
            max(self.peak, other.peak),
        )

    def __sub__(self, other: Cost) -> Cost:
        """What ``self`` does beyond ``other`` (its peak stays ``self``'s)."""
        return Cost(self.flops - other.flops, self.ops - other.ops, self.traffic - other.traffic, self.peak)

    def __mul__(self, k: float) -> Cost:
        return Cost(k * self.flops, k * self.ops, k * self.traffic, self.peak)


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class OpCounter(TorchDispatchMode):
    """Counts FLOPs, kernel-launching aten operations and their traffic, and follows the bytes of
    the tensors they create until each is freed, keeping the peak (a view that outlives its base
    is not followed: views launch nothing and are short-lived in the course's code)."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.ops = 0
        self.traffic = 0
        self.live = 0
        self.peak = 0
        self._storages: dict[int, list[int]] = {}  # storage -> [tensors alive, bytes]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view:  # no kernel, and its storage is its base's
            return out
        self.ops += 1
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        outputs = (
            [out]
            if isinstance(out, torch.Tensor)
            else [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        )
        packet = func.overloadpacket
        if packet in flop_registry:  # as FlopCounterMode._count_flops does; its time is its FLOPs'
            self.flops += flop_registry[packet](*args, **kwargs, out_val=out)
        else:
            self.traffic += sum(map(_nbytes, inputs)) + sum(map(_nbytes, outputs))
        given = {t.untyped_storage()._cdata for t in inputs}
        for t in outputs:
            key = t.untyped_storage()._cdata
            if key in given:  # written in place
                continue
            if key not in self._storages:
                self._storages[key] = [0, t.untyped_storage().nbytes()]
                self.live += self._storages[key][1]
                self.peak = max(self.peak, self.live)
            self._storages[key][0] += 1
            weakref.finalize(t, self._release, key)
        return out

    def _release(self, key: int) -> None:
        entry = self._storages[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.live -= entry[1]
            del self._storages[key]


def measure(fn: Callable[[], object]) -> Cost:
    """The :class:`Cost` of one call of ``fn`` (which runs; its result is dropped)."""
    if not callable(fn):
        raise TypeError(f"measure needs a function to call, got {type(fn).__name__}")
    counter = OpCounter()
    with _countable_attention(), counter:
        fn()
    return Cost(float(counter.flops), float(counter.ops), float(counter.traffic), float(counter.peak))


def per_step(run: Callable[[int], object]) -> Cost:
    """One step of a loop: ``run(steps)`` counted at two steps minus at one (set-up cancels);
    its peak is the two-step run's."""
    one = measure(lambda: run(1))
    return measure(lambda: run(2)) - one


@contextlib.contextmanager
def cuda_like_optimizers() -> Iterator[None]:
    """Inside, ``torch.optim`` picks its multi-tensor (``foreach``) kernels on every device, as
    it does by default on a GPU; on the CPU and the meta device it would loop over tensors."""
    original = torch_optimizer._get_foreach_kernels_supported_devices
    torch_optimizer._get_foreach_kernels_supported_devices = lambda: [*original(), "cpu", "meta"]
    try:
        yield
    finally:
        torch_optimizer._get_foreach_kernels_supported_devices = original


def tensor_bytes(*objects: object) -> int:
    """Bytes of every distinct tensor in ``objects`` (modules, optimizers, tensors, containers)."""
    seen: dict[int, torch.Tensor] = {}
    for obj in objects:
        if isinstance(obj, torch.nn.Module):
            tensors = [*obj.parameters(), *obj.buffers()]  # gradients: created by each step
        elif isinstance(obj, torch.optim.Optimizer):
            tensors = [
                v for state in obj.state.values() for v in state.values() if isinstance(v, torch.Tensor)
            ]
        else:
            tensors = [t for t in tree_leaves(obj) if isinstance(t, torch.Tensor)]
        seen.update((id(t), t) for t in tensors)
    return sum(_nbytes(t) for t in seen.values())
