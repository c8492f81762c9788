"""How smooth a fitted function is, and how far training moved to get it (Chapter 3).

* :func:`input_gradient_norms`: ``|d f / d x|`` at given inputs, a local Lipschitz constant.
  The law of robustness (Bubeck & Sellke, 2021) is a statement about this quantity.
* :class:`Trajectory`: the length of the path the parameters travel during training and their
  distance from initialization, the quantities Loukas, Poiitis & Jegelka (2021) relate to the
  complexity of the learned function. It follows one model or each model of a batched sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from labsupport._validate import function


def input_gradient_norms(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Norm of the input gradient (Frobenius norm of the Jacobian) of ``fn`` at every row of ``x``.

    ``fn`` must treat rows independently (no batch statistics), as MLPs in eval mode do, so that
    the gradient of the summed outputs with respect to ``x[i]`` is that of output ``i`` alone.

    Args:
        fn: maps inputs ``(n, d)`` to outputs ``(n,)``, ``(n, k)``, or ``(M, n, k)`` for ``M``
            models evaluated on the same inputs (a batched sweep).
        x: inputs ``(n, d)``; they are not modified.

    Returns:
        Norms of shape ``(n,)``, or ``(M, n)`` for batched outputs.
    """
    function("fn", fn)
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        got = (
            f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        )
        raise ValueError(f"x must be a floating-point tensor of shape (n, d), got {got}")
    n = x.shape[0]
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = fn(x)
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim not in (2, 3) or out.shape[-2] != n:
            raise ValueError(
                f"fn must return (n,), (n, k) or (M, n, k) outputs with n={n}, got {tuple(out.shape)}"
            )
        flat = out.reshape(-1, n, out.shape[-1])  # (M, n, k)
        squared = torch.zeros(flat.shape[0], n, dtype=x.dtype, device=x.device)
        for m in range(flat.shape[0]):
            for j in range(flat.shape[2]):
                (grad,) = torch.autograd.grad(flat[m, :, j].sum(), x, retain_graph=True)
                squared[m] += grad.pow(2).sum(dim=1)
    norms = squared.sqrt()
    return norms.reshape(*out.shape[:-2], n) if out.ndim == 3 else norms[0]


class Trajectory:
    """Path length and distance from initialization of parameters during training (Chapter 3).

    Create it before the first step, call :meth:`update` after every optimizer step::

        trajectory = Trajectory(list(model.parameters()))
        for step in range(steps):
            ...; optimizer.step(); trajectory.update()
        trajectory.length, trajectory.distance

    For a batched sweep pass ``model_index``: for each parameter, the model that each entry
    along its first axis belongs to (as ``MLPSweep.parameters_by_model()`` gives). Lengths and
    distances are then tensors with one value per model.

    Args:
        params: the tensors to follow (they are read, never changed).
        model_index: optional, one integer tensor per parameter.
    """

    def __init__(
        self, params: Sequence[torch.Tensor], model_index: Sequence[torch.Tensor] | None = None
    ) -> None:
        self.params = list(params)
        if not self.params or not all(isinstance(p, torch.Tensor) for p in self.params):
            raise TypeError("params must be a non-empty sequence of tensors (e.g. list(model.parameters()))")
        if model_index is None:
            self.index = None
            self.num_models = 1
        else:
            if len(model_index) != len(self.params):
                raise ValueError(
                    f"model_index needs one tensor per parameter: got {len(model_index)} for {len(self.params)}"
                )
            self.index = [i.to(p.device) for i, p in zip(model_index, self.params, strict=True)]
            for i, p in zip(self.index, self.params, strict=True):
                if i.ndim != 1 or i.shape[0] != p.shape[0] or i.dtype != torch.long:
                    raise ValueError(
                        f"each model_index must be a long tensor with one entry per row of its parameter;"
                        f" got {i.dtype} {tuple(i.shape)} for a parameter of shape {tuple(p.shape)}"
                    )
            self.num_models = int(max(i.max() for i in self.index)) + 1
        self.initial = [p.detach().clone() for p in self.params]
        self.previous = [p.detach().clone() for p in self.params]
        # Accumulate in the parameters' own dtype and device (Apple's MPS has no float64).
        first = self.params[0]
        self._length = torch.zeros(self.num_models, dtype=first.dtype, device=first.device)

    def _squared_per_model(self, tensors: list[torch.Tensor], reference: list[torch.Tensor]) -> torch.Tensor:
        total = torch.zeros_like(self._length)
        for k, (a, b) in enumerate(zip(tensors, reference, strict=True)):
            diff = (a.detach() - b).to(total.dtype)
            if self.index is None:
                total[0] += diff.pow(2).sum()
            else:
                total.index_add_(0, self.index[k], diff.pow(2).reshape(diff.shape[0], -1).sum(dim=1))
        return total

    @torch.no_grad()
    def update(self) -> None:
        """Add the step just taken, ``|theta_t - theta_{t-1}|``, to the path length."""
        self._length += self._squared_per_model(self.params, self.previous).sqrt()
        for prev, p in zip(self.previous, self.params, strict=True):
            prev.copy_(p)

    def _out(self, values: torch.Tensor) -> torch.Tensor:
        return values.cpu() if self.index is not None else values[0].cpu()

    @property
    def length(self) -> torch.Tensor:
        """Sum of the step lengths so far (a scalar, or one value per model)."""
        return self._out(self._length.clone())

    @property
    def distance(self) -> torch.Tensor:
        """``|theta_now - theta_0|``: distance from initialization (a scalar, or one per model)."""
        return self._out(self._squared_per_model(self.params, self.initial).sqrt())
