"""Data for the labs: in-memory splits, MNIST-1D, label corruption and a mixture-of-regimes task.

* :class:`Split` and :class:`Dataset` hold data as tensors; :func:`check_split` is the
  argument check the training loops share.
* MNIST-1D (Greydanus & Kobak, 2024) is built procedurally from ten 1-D templates, so it needs
  no download and a whole experiment fits in seconds on a CPU. :func:`load_mnist1d` generates it
  once with ``mnist1d.data.make_dataset`` and caches it (with a checksum) under
  :func:`labsupport.cache_dir`. torchvision's data sets are in :mod:`labsupport.vision`.
* :func:`corrupt_labels` replaces labels at random, as in the random-label experiments
  (Chapter 3).
* :func:`make_regime_task` generates the mixture-of-regimes regression task on which experts
  pay off (Chapter 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from labsupport._validate import instance, int_in, non_negative_int, number_in, positive_int, tensor
from labsupport.cache import cache_dir, load_arrays, save_arrays


@dataclass(frozen=True)
class Split:
    """A labelled data set held in memory as tensors (inputs ``x``, integer labels ``y``)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def as_dataset(self) -> TensorDataset:
        """The split as a ``TensorDataset`` for code that wants one."""
        return TensorDataset(self.x, self.y)


def check_split(name: str, data: object, *, in_features: int | None = None) -> Split:
    """``data`` if it is a non-empty :class:`Split` with one label per input, else an error.

    With ``in_features`` the inputs must have shape ``(n, in_features)``. (This check lives
    here, next to :class:`Split`, rather than in ``_validate``, which imports nothing of ours.)
    """
    instance(name, data, Split, "a labsupport Split (x, y tensors)")
    if len(data.x) != len(data.y) or len(data.y) == 0:
        raise ValueError(
            f"{name} needs as many labels as inputs and at least one, got {len(data.x)} inputs"
            f" and {len(data.y)} labels"
        )
    if in_features is not None and (data.x.ndim != 2 or data.x.shape[1] != in_features):
        raise ValueError(f"{name} needs inputs (n, {in_features}), got {tuple(data.x.shape)}")
    return data


@dataclass(frozen=True)
class Dataset:
    """Train and test splits plus what a learner should know about where they came from."""

    train: Split
    test: Split
    num_classes: int
    source: str


def _mnist1d_arrays(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds NumPy's global generator; leave it as we found it.
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def load_mnist1d(num_samples: int = 5000, seed: int = 42, *, cache: bool = True) -> Dataset:
    """MNIST-1D with ``num_samples`` examples (80% train, 20% test), generated offline.

    The default (5000 samples, seed 42) is the data set of the MNIST-1D paper. The arrays are
    cached under :func:`labsupport.cache_dir`; a file whose checksum does not match is
    regenerated with a message.
    """
    int_in("num_samples", num_samples, 10)
    non_negative_int("seed", seed)
    path = cache_dir() / f"mnist1d_n{num_samples}_seed{seed}.npz" if cache else None
    arrays = load_arrays(path, "MNIST-1D") if path is not None else None
    if arrays is None:
        arrays = _mnist1d_arrays(num_samples, seed)
        if path is not None:
            save_arrays(path, arrays)

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))

    return Dataset(
        train=split(arrays["x"], arrays["y"]),
        test=split(arrays["x_test"], arrays["y_test"]),
        num_classes=10,
        source=f"MNIST-1D (generated offline, {num_samples} samples, seed {seed})",
    )


# --- corrupted labels (Chapter 3) -------------------------------------------------------


def corrupt_labels(
    labels: torch.Tensor,
    fraction: float,
    num_classes: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A copy of ``labels`` where a random ``fraction`` of them is redrawn uniformly (Chapter 3).

    Zhang et al. (2017) replace the label of each training example, with probability ``fraction``,
    by a class drawn uniformly at random. :func:`corrupt_labels` does the same with an exact count:
    ``round(fraction * n)`` examples, chosen at random, get a uniformly random class. The new class
    may happen to equal the old one, so about ``fraction * (1 - 1/num_classes)`` of the labels end
    up wrong; ``fraction=1`` gives labels that carry no information about the inputs at all.

    Args:
        labels: integer class labels, shape ``(n,)``, values in ``[0, num_classes)``.
        fraction: share of examples whose label is redrawn, in ``[0, 1]``.
        num_classes: number of classes to draw from.
        generator: a CPU ``torch.Generator`` for repeatable corruption.

    Returns:
        New labels on the same device as ``labels``; the input is left unchanged.
    """
    tensor("labels", labels, ndim=1, dtype=torch.long, what="1-D tensor of integer (torch.long) class labels")
    int_in("num_classes", num_classes, 2)
    number_in("fraction", fraction, 0, 1)
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


# --- the mixture-of-regimes task (Chapter 5) -------------------------------------------


@dataclass(frozen=True)
class RegimeTask:
    """Inputs ``(c1, c2, z)``: a context point marking one of ``num_regimes`` regimes, and a value ``z``.

    Regime ``r`` sits at angle ``2 pi r / R`` on the unit circle (plus noise); its target is
    its own wave ``offset_r + amp_r * sin(freq_r * z + phase_r)``, standardized with the
    training mean and standard deviation, so predicting the mean gives a loss of about 1.
    """

    train: Split
    test: Split
    train_regime: torch.Tensor
    test_regime: torch.Tensor
    num_regimes: int
    waves: torch.Tensor  # (R, 4): offset, amplitude, frequency, phase of each regime's wave
    y_mean: float
    y_std: float

    def inputs(self, regime: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Noise-free inputs ``(T, 3)`` for regimes ``regime`` at values ``z`` (for plots)."""
        angle = 2 * math.pi * regime.float() / self.num_regimes
        return torch.stack([angle.cos(), angle.sin(), z.float()], dim=1)

    def target(self, regime: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The standardized target ``(T, 1)`` of regime ``regime`` at ``z``."""
        offset, amp, freq, phase = self.waves[regime].unbind(dim=1)
        y = offset + amp * torch.sin(freq * z + phase)
        return ((y - self.y_mean) / self.y_std)[:, None]


def make_regime_task(
    num_train: int,
    num_test: int,
    *,
    num_regimes: int = 8,
    context_noise: float = 0.05,
    cycles: tuple[float, float] = (0.5, 1.5),
    seed: int = 0,
) -> RegimeTask:
    """A mixture-of-regimes regression task, generated offline and deterministic in ``seed``.

    Each regime's wave makes between ``cycles[0]`` and ``cycles[1]`` cycles per unit of ``z``
    (``z`` is uniform on [-1, 1]). A dense network must fit all the waves with one set of
    weights; an MoE can give each regime its own expert.
    """
    positive_int("num_train", num_train)
    positive_int("num_test", num_test)
    positive_int("num_regimes", num_regimes)
    number_in("context_noise", context_noise, 0)
    low, high = cycles
    if not 0 < low <= high:
        raise ValueError(f"cycles must be (low, high) with 0 < low <= high, got {cycles!r}")
    g = torch.Generator().manual_seed(seed)
    waves = torch.stack(
        [
            torch.randn(num_regimes, generator=g),  # offset
            0.5 + torch.rand(num_regimes, generator=g),  # amplitude
            2 * math.pi * (low + (high - low) * torch.rand(num_regimes, generator=g)),  # frequency
            2 * math.pi * torch.rand(num_regimes, generator=g),  # phase
        ],
        dim=1,
    )

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        regime = torch.randint(num_regimes, (n,), generator=g)
        z = 2 * torch.rand(n, generator=g) - 1
        angle = 2 * math.pi * regime / num_regimes
        context = torch.stack([angle.cos(), angle.sin()], dim=1) + context_noise * torch.randn(
            n, 2, generator=g
        )
        offset, amp, freq, phase = waves[regime].unbind(dim=1)
        y = offset + amp * torch.sin(freq * z + phase)
        return torch.cat([context, z[:, None]], dim=1), y[:, None], regime

    x_train, y_train, r_train = sample(num_train)
    x_test, y_test, r_test = sample(num_test)
    mean, std = y_train.mean().item(), y_train.std().item()
    return RegimeTask(
        train=Split(x_train, (y_train - mean) / std),
        test=Split(x_test, (y_test - mean) / std),
        train_regime=r_train,
        test_regime=r_test,
        num_regimes=num_regimes,
        waves=waves,
        y_mean=mean,
        y_std=std,
    )
