"""labsupport.vision: torchvision's MNIST family and CIFAR-10 read offline from files in their
own on-disk formats, the one-line MNIST-1D fallback, and the flattening the labs' MLPs need."""

import pytest
import torch

from labsupport.data import Dataset, Split
from labsupport.vision import (
    DatasetUnavailable,
    as_vectors,
    load_classification_data,
    load_vision_dataset,
    standardize,
)
from tests.vision_files import skip_cifar10_md5, write_cifar10, write_mnist


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_vision_dataset_loads_real_idx_files_offline(tmp_path, name, folder):
    expected_first = write_mnist(tmp_path, folder)
    data = load_vision_dataset(name, root=tmp_path, download=False, fallback=None)
    assert data.train.x.shape == (12, 1, 28, 28) and data.test.x.shape == (5, 1, 28, 28)
    assert data.train.x.min() >= 0.0 and data.train.x.max() <= 1.0
    assert torch.allclose(data.test.x[0, 0], torch.tensor(expected_first, dtype=torch.float32) / 255)
    assert "torchvision" in data.source


def test_cifar10_loads_pickled_batches_offline(tmp_path, monkeypatch):
    """CIFAR-10's own format: five pickled training batches and a test batch of (n, 3072) uint8
    rows, channel-major. torchvision checks each file's MD5 against the real archive's, so the
    test, whose files are small, skips that check."""
    skip_cifar10_md5(monkeypatch)
    first, first_label = write_cifar10(tmp_path)
    data = load_vision_dataset("cifar10", root=tmp_path, download=False, fallback=None)
    assert data.train.x.shape == (15, 3, 32, 32) and data.test.x.shape == (4, 3, 32, 32)
    assert data.train.x.dtype == torch.float32 and data.test.y.dtype == torch.long
    expected = torch.tensor(first.reshape(3, 32, 32), dtype=torch.float32) / 255  # channel-major
    assert torch.equal(data.test.x[0], expected) and data.test.y[0] == first_label
    assert "CIFAR10" in data.source


def test_vision_dataset_missing_offline_raises_or_falls_back_in_one_line(tmp_path, capsys):
    with pytest.raises(DatasetUnavailable, match="could not load cifar10"):
        load_vision_dataset("cifar10", root=tmp_path, download=False, fallback=None)
    data = load_vision_dataset("mnist", root=tmp_path, download=False, fallback_samples=500)
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and "running on MNIST-1D instead" in said[0] and "could not load mnist" in said[0]
    assert data.train.x.shape == (400, 40) and "MNIST-1D" in data.source


def test_as_vectors_standardizes_each_channel_with_training_statistics():
    g = torch.Generator().manual_seed(0)
    scale = torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1)
    train = Split(torch.rand(50, 3, 4, 4, generator=g) * scale + 2, torch.zeros(50, dtype=torch.long))
    test = Split(torch.rand(20, 3, 4, 4, generator=g) * scale + 2, torch.zeros(20, dtype=torch.long))
    flat = as_vectors(Dataset(train, test, 10, "toy"))
    assert flat.train.x.shape == (50, 48) and flat.test.x.shape == (20, 48)
    per_channel = flat.train.x.view(50, 3, 16)
    assert torch.allclose(per_channel.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(per_channel.std(dim=(0, 2)), torch.ones(3), atol=1e-4)
    assert not torch.allclose(flat.test.x.mean(), torch.tensor(0.0), atol=1e-6)  # train's statistics
    assert "flattened to 48-vectors" in flat.source
    images = standardize(Dataset(train, test, 10, "toy"))
    assert images.train.x.shape == (50, 3, 4, 4) and torch.equal(images.train.x.flatten(1), flat.train.x)
    vectors = Dataset(Split(torch.zeros(3, 40), torch.zeros(3, dtype=torch.long)), train, 10, "1-D")
    assert as_vectors(vectors) is vectors


def test_load_classification_data_flattens_vision_data_and_falls_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))
    write_mnist(tmp_path / "torchvision")
    mnist = load_classification_data("mnist", download=False)
    assert mnist.train.x.shape == (12, 784) and "flattened" in mnist.source
    images = load_classification_data("mnist", flatten=False, download=False)
    assert images.train.x.shape == (12, 1, 28, 28) and "standardized" in images.source
    fallback = load_classification_data("cifar10", mnist1d_samples=500, download=False)
    assert fallback.train.x.shape == (400, 40) and "MNIST-1D" in capsys.readouterr().out
    assert load_classification_data("mnist1d", mnist1d_samples=500).train.x.shape == (400, 40)


def test_vision_bad_arguments():
    with pytest.raises(
        ValueError, match=r"name must be one of \['mnist', 'fashion-mnist', 'cifar10'\], got 'svhn'"
    ):
        load_vision_dataset("svhn")
    with pytest.raises(ValueError, match=r"fallback must be one of \['mnist1d', None\], got 'zeros'"):
        load_vision_dataset("mnist", fallback="zeros")
    with pytest.raises(ValueError, match=r"name must be one of .*'mnist1d'"):
        load_classification_data("imagenet")
    with pytest.raises(TypeError, match="flatten"):
        load_classification_data("mnist", flatten=1)
    with pytest.raises(TypeError, match="download"):
        load_vision_dataset("mnist", download="yes")
    with pytest.raises(ValueError, match=r"must be \(N, d\) or \(N, C, H, W\)"):
        as_vectors(
            Dataset(
                Split(torch.zeros(3, 2, 2), torch.zeros(3)),
                Split(torch.zeros(3, 2, 2), torch.zeros(3)),
                10,
                "x",
            )
        )
