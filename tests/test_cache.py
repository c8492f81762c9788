"""labsupport.cache: the checksummed file cache and its .npz arrays."""

import numpy as np
import pytest

from labsupport.cache import cache_dir, discard, is_intact, load_arrays, save_arrays, write_checked


def test_cache_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()
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


def test_checked_arrays_round_trip_and_corruption(tmp_path, capsys):
    path = tmp_path / "a.npz"
    assert load_arrays(path, "test arrays") is None
    save_arrays(path, {"x": np.arange(5), "y": np.ones((2, 3))})
    loaded = load_arrays(path, "test arrays")
    assert list(loaded) == ["x", "y"] and np.array_equal(loaded["x"], np.arange(5))
    path.write_bytes(path.read_bytes()[:-3])
    assert load_arrays(path, "test arrays") is None
    assert "cached test arrays" in capsys.readouterr().out and not path.exists()
