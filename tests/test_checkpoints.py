"""labsupport.checkpoints: the checkpoint cache of Chapter 4 and later labs.

The suite shares one temporary cache folder (tests/conftest.py), so each test saves under its
own checkpoint name; a test that needs to start from an empty cache points LABSUPPORT_CACHE at
its own tmp_path.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from labsupport.cache import is_intact
from labsupport.checkpoints import (
    CheckpointError,
    architecture_record,
    checkpoint_path,
    load_checkpoint,
    load_or_train,
    save_checkpoint,
)


@dataclass(frozen=True)
class Config:
    width: int = 8
    lr: float = 1e-3


def small(width: int = 8) -> nn.Module:
    torch.manual_seed(width)
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 3))


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class Counter:
    """A train_fn that records how often it ran and changes the weights visibly."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model: nn.Module) -> None:
        self.calls += 1
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.5)


def test_save_then_load_round_trips_weights():
    trained = small()
    path = save_checkpoint("round-trip", trained, Config())
    assert path == checkpoint_path("round-trip") and is_intact(path)
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    assert not same_weights(fresh, trained)
    assert load_checkpoint("round-trip", fresh, Config()) is fresh
    assert same_weights(fresh, trained)


def test_load_or_train_trains_once_then_loads(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))  # starts from an empty cache
    train = Counter()
    first = load_or_train("train-once", small(), train, Config())
    assert train.calls == 1 and "training it (once)" in capsys.readouterr().out
    second = load_or_train("train-once", small(), train, Config())
    assert train.calls == 1, "a valid checkpoint must be loaded, not retrained"
    assert "loaded checkpoint 'train-once'" in capsys.readouterr().out
    assert same_weights(first, second) and not second.training


def test_missing_checkpoint_is_reported():
    with pytest.raises(CheckpointError, match="no checkpoint 'missing'") as info:
        load_checkpoint("missing", small())
    assert info.value.reason == "missing"


def test_corrupted_file_is_detected_and_retrained(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))  # starts from an empty cache
    train = Counter()
    load_or_train("corrupted", small(), train, Config())
    path = checkpoint_path("corrupted")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the weights
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its checksum") as info:
        load_checkpoint("corrupted", small(), Config())
    assert info.value.reason == "corrupt"
    capsys.readouterr()
    model = load_or_train("corrupted", small(), train, Config())
    assert train.calls == 2
    assert "discarding it and training again" in capsys.readouterr().out
    assert is_intact(path) and all((p == 0.5).all() for p in model.parameters())


def test_truncated_file_with_matching_checksum_is_corrupt():
    # A file whose sidecar was rewritten to match garbage: torch.load must fail, and safely.
    from labsupport.cache import write_checked

    write_checked(checkpoint_path("truncated"), lambda tmp: tmp.write_bytes(b"not a torch file"))
    with pytest.raises(CheckpointError, match="cannot be read") as info:
        load_checkpoint("truncated", small())
    assert info.value.reason == "corrupt"


def test_wrong_architecture_is_detected_and_retrained(capsys):
    save_checkpoint("architecture", small(width=8), Config())
    wider = small(width=16)
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    with pytest.raises(
        CheckpointError,
        match=r"another architecture \(tensors 0.bias: \[8\] -> \[16\]; 0.weight: \[8, 4\] -> \[16, 4\]",
    ):
        load_checkpoint("architecture", wider, Config())
    assert all(torch.equal(before[k], v) for k, v in wider.state_dict().items()), "model must be untouched"
    other_class = nn.Linear(4, 3)
    with pytest.raises(CheckpointError, match=r"class torch\.nn\.modules\.container\.Sequential -> ") as info:
        load_checkpoint("architecture", other_class, Config())
    assert info.value.reason == "mismatch"
    train = Counter()
    capsys.readouterr()
    load_or_train("architecture", small(width=16), train, Config())
    assert train.calls == 1 and "another architecture" in capsys.readouterr().out


def test_changed_config_is_a_mismatch():
    save_checkpoint("config", small(), Config(lr=1e-3))
    with pytest.raises(CheckpointError, match=r"another config \(lr: 0.001 -> 0.01\)"):
        load_checkpoint("config", small(), Config(lr=1e-2))
    with pytest.raises(CheckpointError, match="another config"):
        load_checkpoint("config", small(), None)
    load_checkpoint("config", small(), {"width": 8, "lr": 1e-3})  # a dict with the same values matches
    # only the keys that differ are listed, in order, a missing key shown as absent
    with pytest.raises(CheckpointError, match=r"\(depth: '\(absent\)' -> 2; lr: 0\.001 -> 0\.1\)$"):
        load_checkpoint("config", small(), {"width": 8, "lr": 0.1, "depth": 2})


def test_checkpoint_holds_only_tensors_and_plain_data():
    save_checkpoint("plain-data", small(), Config())
    payload = torch.load(checkpoint_path("plain-data"), weights_only=True)
    assert set(payload) == {"format", "architecture", "config", "state_dict"}
    assert architecture_record(small())["tensors"]["0.weight"] == [8, 4]


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="a checkpoint name must be"):
        checkpoint_path("../escape")
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got str"):
        save_checkpoint("net", "model")
    with pytest.raises(TypeError, match="config must be a dataclass instance, a mapping or None, got int"):
        save_checkpoint("net", small(), 3)
    with pytest.raises(TypeError, match="config must hold only numbers"):
        save_checkpoint("net", small(), {"fn": print})
    with pytest.raises(TypeError, match="train_fn must be callable, got int"):
        load_or_train("net", small(), 3)
