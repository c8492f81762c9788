"""labsupport.data: splits, MNIST-1D (offline), label corruption, the regime task."""

import numpy as np
import pytest
import torch

from labsupport.cache import is_intact
from labsupport.data import (
    Split,
    check_split,
    corrupt_labels,
    load_mnist1d,
    make_regime_task,
)


def test_check_split_accepts_a_split_and_says_what_is_wrong_otherwise():
    data = Split(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    assert check_split("train", data, in_features=3) is data
    with pytest.raises(TypeError, match=r"train must be a labsupport Split \(x, y tensors\), got tuple"):
        check_split("train", (data.x, data.y))
    with pytest.raises(
        ValueError, match="as many labels as inputs and at least one, got 4 inputs and 3 labels"
    ):
        check_split("train", Split(data.x, data.y[:3]))
    with pytest.raises(ValueError, match="at least one, got 0 inputs and 0 labels"):
        check_split("train", Split(data.x[:0], data.y[:0]))
    with pytest.raises(ValueError, match=r"train needs inputs \(n, 5\), got \(4, 3\)"):
        check_split("train", data, in_features=5)


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


def test_mnist1d_cache_is_used_and_rebuilt_when_corrupt(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))  # a fresh cache: this test's file only
    first = load_mnist1d(num_samples=100, seed=0)
    (path,) = tmp_path.glob("mnist1d_*.npz")
    assert is_intact(path)
    path.write_bytes(path.read_bytes()[:-10])  # a truncated file
    second = load_mnist1d(num_samples=100, seed=0)
    assert "failed its checksum; regenerating" in capsys.readouterr().out
    assert torch.equal(first.train.x, second.train.x) and is_intact(path)


def test_mnist1d_without_cache_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))
    load_mnist1d(num_samples=100, seed=0, cache=False)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("kwargs", "message"), [({"num_samples": 5}, "num_samples"), ({"seed": -1}, "seed")])
def test_mnist1d_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_mnist1d(**kwargs)


# ---------------------------------------------------------------- corrupt_labels (Chapter 3)


def test_corrupt_labels_changes_the_expected_share():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (100_000,), generator=g)
    noisy = corrupt_labels(y, 0.5, 10, generator=g)
    # Half are redrawn; a redrawn label is wrong with probability 9/10: 45% +- 0.5% (many SDs).
    assert abs((noisy != y).float().mean().item() - 0.45) < 0.005
    assert noisy.dtype == torch.long and noisy.shape == y.shape
    assert noisy.min() >= 0 and noisy.max() < 10


def test_corrupt_labels_extremes_and_input_untouched():
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 3, (1_000,), generator=g)
    before = y.clone()
    same = corrupt_labels(y, 0.0, 3, generator=g)
    assert torch.equal(same, y) and same is not y
    random = corrupt_labels(y, 1.0, 3, generator=g)
    assert torch.equal(y, before)  # the input is not modified
    # With every label redrawn, agreement with the truth is chance, 1/3.
    assert abs((random == y).float().mean().item() - 1 / 3) < 0.05


def test_corrupt_labels_changes_at_most_the_chosen_count():
    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 10, (1_000,), generator=g)
    assert (corrupt_labels(y, 0.1, 10, generator=g) != y).sum() <= 100


def test_corrupt_labels_is_repeatable():
    y = torch.arange(10).repeat(50)
    a = corrupt_labels(y, 0.3, 10, generator=torch.Generator().manual_seed(3))
    b = corrupt_labels(y, 0.3, 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("labels", "fraction", "num_classes", "error", "match"),
    [
        (torch.zeros(5), 0.5, 10, TypeError, "torch.long"),
        (torch.zeros(2, 3, dtype=torch.long), 0.5, 10, TypeError, "1-D tensor"),
        ([0, 1, 2], 0.5, 10, TypeError, "got list"),
        (torch.zeros(5, dtype=torch.long), 1.5, 10, ValueError, r"fraction must be a number in \[0, 1\]"),
        (torch.zeros(5, dtype=torch.long), True, 10, ValueError, "fraction"),
        (torch.zeros(5, dtype=torch.long), 0.5, 1, ValueError, "num_classes must be an int >= 2"),
        (torch.tensor([0, 12]), 0.5, 10, ValueError, r"labels must lie in \[0, 10\)"),
    ],
)
def test_corrupt_labels_rejects_bad_inputs(labels, fraction, num_classes, error, match):
    with pytest.raises(error, match=match):
        corrupt_labels(labels, fraction, num_classes)


# ---------------------------------------------------------------- the regime task (Chapter 5)


def test_make_regime_task():
    task = make_regime_task(2000, 500, num_regimes=6, seed=3)
    assert task.train.x.shape == (2000, 3) and task.test.y.shape == (500, 1)
    assert abs(task.train.y.mean().item()) < 1e-5 and task.train.y.std().item() == pytest.approx(
        1.0, rel=1e-5
    )
    # the targets are exactly each regime's wave at the input's z
    assert torch.allclose(task.target(task.train_regime, task.train.x[:, 2]), task.train.y, atol=1e-5)
    # the context sits near the regime's point on the circle
    clean = task.inputs(task.test_regime, task.test.x[:, 2])
    assert (task.test.x[:, :2] - clean[:, :2]).abs().max() < 0.5
    assert set(task.train_regime.tolist()) == set(range(6))
    again = make_regime_task(2000, 500, num_regimes=6, seed=3)
    assert torch.equal(task.train.x, again.train.x) and torch.equal(task.test.y, again.test.y)
    assert not torch.equal(task.train.x, make_regime_task(2000, 500, num_regimes=6, seed=4).train.x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_train=0, num_test=10), "num_train must be a positive int"),
        (dict(num_train=10, num_test=10, num_regimes=0), "num_regimes must be a positive int"),
        (dict(num_train=10, num_test=10, context_noise=-0.1), "context_noise must be a number >= 0"),
        (dict(num_train=10, num_test=10, cycles=(2.0, 1.0)), "0 < low <= high"),
    ],
)
def test_make_regime_task_rejects_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regime_task(**kwargs)
