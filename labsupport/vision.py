"""torchvision's image data sets for the labs, with MNIST-1D as the offline fallback.

In the ``gpu`` profile Labs 1, 3 and 4 run on the papers' own data: MNIST for Lab 1's MLP and
CNN, CIFAR-10 for Zhang et al.'s random labels, MNIST for Hinton et al.'s distillation. :func:`load_vision_dataset` loads MNIST,
Fashion-MNIST or CIFAR-10 with torchvision into the course cache (torchvision checks each
download's MD5); when the files are neither on disk nor downloadable it says so in one line and
returns MNIST-1D, which is generated offline. :func:`standardize` scales each channel and
:func:`as_vectors` flattens images into the vectors the labs' MLPs take;
:func:`load_classification_data` does all of it for a lab's ``Config.dataset`` name.
"""

from __future__ import annotations

from pathlib import Path

import torch

from labsupport._validate import instance, int_in, one_of
from labsupport.cache import cache_dir
from labsupport.data import Dataset, Split, load_mnist1d

VISION_DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10")
CLASSIFICATION_DATASETS: tuple[str, ...] = ("mnist1d", *VISION_DATASETS)


class DatasetUnavailable(RuntimeError):
    """A torchvision data set could not be found on disk nor downloaded."""


def _torchvision_class(name: str) -> type:
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[
        name
    ]


def _as_split(ds: object) -> Split:
    """A torchvision data set's images as ``(N, C, H, W)`` floats in [0, 1], labels as int64."""
    images = torch.as_tensor(ds.data)  # MNIST: (N, 28, 28) uint8; CIFAR-10: (N, 32, 32, 3) uint8
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    return Split(
        images.to(torch.float32).div_(255.0).contiguous(), torch.as_tensor(ds.targets, dtype=torch.long)
    )


def load_vision_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool = True,
    fallback: str | None = "mnist1d",
    fallback_samples: int = 5000,
) -> Dataset:
    """Load torchvision's MNIST, Fashion-MNIST or CIFAR-10 as in-memory tensors in [0, 1].

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` (inputs ``(1, 28, 28)``) or ``"cifar10"``
            (inputs ``(3, 32, 32)``).
        root: where torchvision keeps its files; default ``cache_dir() / "torchvision"``.
        download: fetch the files when they are not on disk (needs the network); torchvision
            checks the downloaded archives' MD5 sums.
        fallback: when the files are missing and cannot be downloaded, ``"mnist1d"`` prints
            one line saying so and returns MNIST-1D with ``fallback_samples`` examples (inputs
            of shape ``(40,)``); ``None`` raises :class:`DatasetUnavailable`.
        fallback_samples: examples of the MNIST-1D fallback (80% train, 20% test).

    Returns:
        A :class:`~labsupport.data.Dataset` whose ``source`` names what was actually loaded.
    """
    one_of("name", name, VISION_DATASETS)
    one_of("fallback", fallback, ("mnist1d", None))
    int_in("fallback_samples", fallback_samples, 10)
    instance("download", download, bool)
    cls = _torchvision_class(name)
    root = Path(root) if root is not None else cache_dir() / "torchvision"
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; "Dataset not found" a RuntimeError
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        message = f"could not load {name} from {root} (download={download}): {reason}"
        if fallback is None:
            raise DatasetUnavailable(message) from exc
        print(
            f"labsupport: {message}; running on MNIST-1D instead (generated offline, inputs of shape (40,))."
        )
        return load_mnist1d(fallback_samples)
    return Dataset(
        _as_split(train), _as_split(test), num_classes=10, source=f"torchvision {cls.__name__} ({root})"
    )


def standardize(data: Dataset) -> Dataset:
    """Images with each channel standardized by the training set's mean and std; shapes kept.

    Inputs already of shape ``(N, d)`` (MNIST-1D) are returned unchanged. The test set is
    standardized with the training set's statistics, so nothing about it leaks into training.
    """
    instance("data", data, Dataset)
    if data.train.x.ndim == 2:
        return data
    if data.train.x.ndim != 4:
        raise ValueError(
            f"data.train.x must be (N, d) or (N, C, H, W) images, got shape {tuple(data.train.x.shape)}"
        )
    mean = data.train.x.mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    std = data.train.x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def scaled(split: Split) -> Split:
        return Split((split.x - mean) / std, split.y)

    source = f"{data.source}, standardized per channel"
    return Dataset(scaled(data.train), scaled(data.test), data.num_classes, source=source)


def as_vectors(data: Dataset) -> Dataset:
    """:func:`standardize`'d images flattened into vectors ``(N, C * H * W)``, for an MLP."""
    data = standardize(data)
    if data.train.x.ndim == 2:
        return data
    d = data.train.x[0].numel()
    flat = [Split(split.x.flatten(1), split.y) for split in (data.train, data.test)]
    return Dataset(*flat, data.num_classes, source=f"{data.source}, flattened to {d}-vectors")


def load_classification_data(
    name: str, *, mnist1d_samples: int = 5000, flatten: bool = True, download: bool = True
) -> Dataset:
    """The data a lab trains on, by the name in its ``Config``.

    ``"mnist1d"`` generates MNIST-1D with ``mnist1d_samples`` examples (inputs ``(N, 40)``); a
    torchvision name loads that data set (falling back to MNIST-1D of the same size, saying
    so, when offline) and standardizes it: flattened into ``(N, d)`` vectors for an MLP
    (:func:`as_vectors`), or, with ``flatten=False``, kept as ``(N, C, H, W)`` images for a
    CNN (:func:`standardize`).
    """
    one_of("name", name, CLASSIFICATION_DATASETS)
    instance("flatten", flatten, bool)
    if name == "mnist1d":
        return load_mnist1d(mnist1d_samples)
    data = load_vision_dataset(name, download=download, fallback_samples=mnist1d_samples)
    return as_vectors(data) if flatten else standardize(data)
