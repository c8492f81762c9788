"""The checksummed cache, MNIST-1D generation and torchvision loading (offline)."""

import struct

import numpy as np
import pytest
import torch

from labsupport import DatasetUnavailable, cache_dir, load_mnist1d, load_vision_dataset
from labsupport.cache import discard, is_intact, write_checked


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_honours_the_environment(private_cache, monkeypatch, tmp_path):
    assert cache_dir() == private_cache and private_cache.is_dir()
    monkeypatch.delenv("LABSUPPORT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "labsupport"


def test_write_checked_detects_corruption(tmp_path):
    path = write_checked(tmp_path / "blob.bin", lambda p: p.write_bytes(b"hello"))
    assert path.read_bytes() == b"hello" and is_intact(path)
    path.write_bytes(b"hellO")
    assert not is_intact(path)
    discard(path)
    assert not path.exists() and not is_intact(path)


def test_failed_write_leaves_nothing_behind(tmp_path):
    def broken(p):
        p.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_checked(tmp_path / "x.bin", broken)
    assert list(tmp_path.iterdir()) == []


def test_mnist1d_shapes_and_determinism():
    state = np.random.get_state()
    data = load_mnist1d(num_samples=200, seed=3, cache=False)
    assert np.array_equal(np.random.get_state()[1], state[1]), "NumPy's global RNG must be restored"
    assert data.train.x.shape == (160, 40) and data.test.x.shape == (40, 40)
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.long
    assert set(data.train.y.tolist()) <= set(range(10)) and data.num_classes == 10
    again = load_mnist1d(num_samples=200, seed=3, cache=False)
    assert torch.equal(data.train.x, again.train.x)
    assert not torch.equal(data.train.x, load_mnist1d(num_samples=200, seed=4, cache=False).train.x)


def test_mnist1d_cache_is_used_and_rebuilt_when_corrupt(private_cache, capsys):
    first = load_mnist1d(num_samples=100, seed=0)
    (path,) = private_cache.glob("mnist1d_*.npz")
    assert is_intact(path)
    path.write_bytes(path.read_bytes()[:-10])  # a truncated file
    second = load_mnist1d(num_samples=100, seed=0)
    assert "failed its checksum; regenerating" in capsys.readouterr().out
    assert torch.equal(first.train.x, second.train.x) and is_intact(path)


@pytest.mark.parametrize(("kwargs", "message"), [({"num_samples": 5}, "num_samples"), ({"seed": -1}, "seed")])
def test_mnist1d_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_mnist1d(**kwargs)


def _write_idx(path, array, magic_dtype):
    """Write ``array`` in the IDX format torchvision reads (the real MNIST on-disk format)."""
    header = struct.pack(">HBB", 0, magic_dtype, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(">u1").tobytes())


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_vision_dataset_loads_real_idx_files_offline(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 0x08)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 0x08)
        if prefix == "t10k":
            expected_first = images[0]
    data = load_vision_dataset(name, root=tmp_path, download=False, fallback=None)
    assert data.train.x.shape == (12, 1, 28, 28) and data.test.x.shape == (5, 1, 28, 28)
    assert data.train.x.min() >= 0.0 and data.train.x.max() <= 1.0
    assert torch.allclose(data.test.x[0, 0], torch.tensor(expected_first, dtype=torch.float32) / 255)
    assert "torchvision" in data.source


def test_vision_dataset_missing_offline_raises_or_falls_back(tmp_path, capsys):
    with pytest.raises(DatasetUnavailable, match="could not load mnist"):
        load_vision_dataset("mnist", root=tmp_path, download=False, fallback=None)
    data = load_vision_dataset("mnist", root=tmp_path, download=False)
    assert "falling back to MNIST-1D" in capsys.readouterr().err
    assert data.train.x.shape[1:] == (40,) and "MNIST-1D" in data.source


def test_vision_dataset_bad_arguments():
    with pytest.raises(ValueError, match="expected one of mnist, fashion-mnist"):
        load_vision_dataset("cifar10")
    with pytest.raises(ValueError, match="fallback must be"):
        load_vision_dataset("mnist", fallback="zeros")


def test_checked_arrays_round_trip_and_corruption(tmp_path, capsys):
    from labsupport.cache import load_arrays, save_arrays

    path = tmp_path / "a.npz"
    assert load_arrays(path, "test arrays") is None
    save_arrays(path, {"x": np.arange(5), "y": np.ones((2, 3))})
    loaded = load_arrays(path, "test arrays")
    assert list(loaded) == ["x", "y"] and np.array_equal(loaded["x"], np.arange(5))
    path.write_bytes(path.read_bytes()[:-3])
    assert load_arrays(path, "test arrays") is None
    assert "cached test arrays" in capsys.readouterr().out and not path.exists()
