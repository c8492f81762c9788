"""Data sets for the labs: MNIST-1D generated offline, and torchvision's MNIST family.

MNIST-1D (Greydanus & Kobak, 2024) is built procedurally from ten 1-D templates, so it
needs no download and a whole experiment fits in seconds on a CPU. It is generated once with
``mnist1d.data.make_dataset`` and cached (with a checksum) under :func:`labsupport.cache_dir`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from labsupport.cache import cache_dir, load_arrays, save_arrays

VISION_DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist")


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
    if not isinstance(num_samples, int) or num_samples < 10:
        raise ValueError(f"num_samples must be an int >= 10, got {num_samples!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    path = cache_dir() / f"mnist1d_n{num_samples}_seed{seed}.npz"
    arrays = load_arrays(path, "MNIST-1D") if cache else None
    if arrays is None:
        arrays = _mnist1d_arrays(num_samples, seed)
        if cache:
            save_arrays(path, arrays)

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))

    return Dataset(
        train=split(arrays["x"], arrays["y"]),
        test=split(arrays["x_test"], arrays["y_test"]),
        num_classes=10,
        source=f"MNIST-1D (generated offline, {num_samples} samples, seed {seed})",
    )


class DatasetUnavailable(RuntimeError):
    """A torchvision data set could not be found on disk nor downloaded."""


def load_vision_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool = True,
    fallback: str | None = "mnist1d",
) -> Dataset:
    """Load torchvision's MNIST or FashionMNIST as in-memory tensors scaled to [0, 1].

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        root: where torchvision keeps its files; default ``cache_dir() / "torchvision"``.
        download: fetch the files when they are not on disk (needs the network).
        fallback: when the files are missing and cannot be downloaded, ``"mnist1d"``
            returns MNIST-1D instead (inputs of shape ``(40,)``, not ``(1, 28, 28)``) and
            says so; ``None`` raises :class:`DatasetUnavailable`.

    Returns:
        A :class:`Dataset` whose ``source`` names what was actually loaded.
    """
    if name not in VISION_DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(VISION_DATASETS)}")
    if fallback not in (None, "mnist1d"):
        raise ValueError(f"fallback must be 'mnist1d' or None, got {fallback!r}")
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[name]
    root = Path(root) if root is not None else cache_dir() / "torchvision"
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; "Dataset not found" a RuntimeError
        message = f"could not load {name} from {root} (download={download}): {exc}"
        if fallback is None:
            raise DatasetUnavailable(message) from exc
        print(
            f"labsupport: {message}\n"
            "labsupport: falling back to MNIST-1D, generated offline (inputs of shape (40,)).",
            file=sys.stderr,
        )
        return load_mnist1d()

    def split(ds: datasets.MNIST) -> Split:
        x = ds.data.to(torch.float32).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
        return Split(x, ds.targets.to(torch.long))

    return Dataset(split(train), split(test), num_classes=10, source=f"torchvision {cls.__name__} ({root})")
