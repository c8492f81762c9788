"""Small files in torchvision's own on-disk formats, for the offline tests of the real loading
code (``labsupport.vision`` and the labs' ``gpu`` profile)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

# Skips torchvision's check of CIFAR-10's files against the MD5 sums of the real archive, which
# small files cannot pass: source for a lab's kernel, run before the lab loads the data.
SKIP_CIFAR10_MD5 = """\
from torchvision.datasets import cifar
cifar.CIFAR10._check_integrity = lambda self: True
cifar.check_integrity = lambda *args, **kwargs: True
"""


def skip_cifar10_md5(monkeypatch) -> None:
    """:data:`SKIP_CIFAR10_MD5` in this process, undone after the test."""
    from torchvision.datasets import cifar

    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write uint8 ``array`` in the IDX format (MNIST's: big-endian header, then the bytes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(">u1").tobytes())


def write_mnist(root: Path, folder: str = "MNIST", train: int = 12, test: int = 5) -> np.ndarray:
    """MNIST-format files under ``root/folder/raw``; returns the first test image."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=(n,), dtype=np.uint8))
    return images[0]


def write_cifar10(root: Path, per_batch: int = 3, test: int = 4) -> tuple[np.ndarray, int]:
    """CIFAR-10's format under ``root/cifar-10-batches-py``: five pickled training batches and a
    test batch of ``(n, 3072)`` uint8 rows (channel-major), and the metadata file. Returns the
    first test row and its label."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in {**{f"data_batch_{i}": per_batch for i in range(1, 6)}, "test_batch": test}.items():
        entry = {
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, n).tolist(),
        }
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class {i}" for i in range(10)]}))
    return entry["data"][0], entry["labels"][0]
