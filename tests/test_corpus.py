"""Tests of labsupport.lm.corpus: the offline byte-level corpus, its split, cache and windows."""

from __future__ import annotations

import pytest
import torch

from labsupport.lm import corpus as corpus_module
from labsupport.lm.corpus import (
    CORPORA,
    eval_windows,
    load_text_corpus,
    sample_windows,
    stdlib_files,
)

SMALL = 200_000  # bytes: enough for several files, fast to build


def test_stdlib_corpus_is_deterministic_bytes():
    first = load_text_corpus(max_bytes=SMALL, cache=False)
    second = load_text_corpus(max_bytes=SMALL, cache=False)
    assert torch.equal(first.train, second.train) and torch.equal(first.val, second.val)
    assert first.train.dtype == torch.uint8 and first.vocab_size == 256
    total = len(first.train) + len(first.val)
    assert total >= SMALL
    # the validation files are drawn with probability 0.1; with this many files, 1%-40% of the bytes
    assert 0.01 < len(first.val) / total < 0.4
    assert "standard library" in first.source
    assert "def " in first.decode(first.train[:20_000])


def test_split_is_by_whole_files():
    corpus = load_text_corpus(max_bytes=SMALL, cache=False)
    train_text, val_text = corpus.decode(corpus.train), corpus.decode(corpus.val)
    total, checked = 0, 0
    for path in stdlib_files():  # the files the loader took: until SMALL bytes were collected
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if len(text) > 2000:  # a long file is in exactly one of the two splits
            assert (text in train_text) != (text in val_text), path.name
            checked += 1
        total += len(data) + 2
        if total >= SMALL:
            break
    assert checked >= 5


def test_stdlib_files_leave_out_tests_and_are_ordered_the_same_way():
    files = stdlib_files()
    assert files == stdlib_files()
    assert not any({"test", "tests", "encodings"} & set(f.parts) for f in files)
    assert files != sorted(files)  # a hashed order, not alphabetical


def test_cache_is_used_and_a_corrupt_file_is_rebuilt(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))  # a fresh cache: this test's file only
    built = load_text_corpus(max_bytes=SMALL)
    (path,) = tmp_path.glob("corpus_stdlib_*.npz")

    def fail(*args, **kwargs):
        raise AssertionError("the corpus was rebuilt although a good cache exists")

    real = corpus_module._stdlib_bytes
    monkeypatch.setattr(corpus_module, "_stdlib_bytes", fail)
    cached = load_text_corpus(max_bytes=SMALL)
    assert torch.equal(built.train, cached.train)
    monkeypatch.setattr(corpus_module, "_stdlib_bytes", real)
    path.write_bytes(b"garbage")
    rebuilt = load_text_corpus(max_bytes=SMALL)
    assert "failed its checksum" in capsys.readouterr().out
    assert torch.equal(built.train, rebuilt.train)


def test_the_corpus_is_read_offline(monkeypatch):
    """The course downloads no text (Tiny Shakespeare was dropped: no lab used it)."""
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the corpus opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    corpus = load_text_corpus(max_bytes=SMALL, cache=False)
    assert CORPORA == ("stdlib",) and "standard library" in corpus.source


def test_sample_windows_are_next_byte_pairs():
    tokens = torch.arange(100, dtype=torch.uint8)
    x, y = sample_windows(tokens, 8, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10) and x.dtype == torch.long
    assert torch.equal(y, x + 1)  # the target is the next byte
    x2, _ = sample_windows(tokens, 8, 10, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_eval_windows_cover_or_spread():
    tokens = torch.arange(101, dtype=torch.uint8)
    x, y = eval_windows(tokens, 10)
    assert x.shape == (10, 10) and torch.equal(x.flatten(), torch.arange(100)) and torch.equal(y, x + 1)
    x, y = eval_windows(tokens, 10, max_windows=3)
    assert x[:, 0].tolist() == [0, 45, 90] and torch.equal(y, x + 1)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"name must be one of \['stdlib'\], got 'tinyshakespeare'"):
        load_text_corpus("tinyshakespeare")
    with pytest.raises(ValueError, match="max_bytes must be an int >= 10000"):
        load_text_corpus(max_bytes=10)
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \(0, 1\)"):
        load_text_corpus(val_fraction=1.0)
    tokens = torch.zeros(20, dtype=torch.uint8)
    with pytest.raises(ValueError, match="tokens must hold more than context=20 tokens, got 20"):
        sample_windows(tokens, 2, 20)
    with pytest.raises(TypeError, match="tokens must be a 1-D tensor"):
        eval_windows(tokens.view(4, 5), 2)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        sample_windows(tokens, 0, 4)
    with pytest.raises(ValueError, match="max_windows must be a positive int, got 0"):
        eval_windows(tokens, 4, max_windows=0)
    with pytest.raises(FileNotFoundError, match="no standard library folder"):
        stdlib_files("/nonexistent/folder")


def test_corpus_without_cache_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))
    corpus = load_text_corpus(max_bytes=SMALL, cache=False)
    assert not (tmp_path / "cache").exists()
    assert corpus.source.endswith(f"({len(corpus.train)} train + {len(corpus.val)} validation bytes)")


def test_a_package_can_be_held_out_or_taken_alone():
    everything = {p.as_posix() for p in stdlib_files()}
    without = {p.as_posix() for p in stdlib_files(exclude=("asyncio",))}
    alone = {p.as_posix() for p in stdlib_files(only="asyncio")}
    assert alone and all("/asyncio/" in p for p in alone)
    assert without | alone == everything and not without & alone
    held_out = load_text_corpus(max_bytes=10**7, cache=False, only="asyncio")
    assert "asyncio" in held_out.source and b"async def" in bytes(held_out.train.tolist())
    with pytest.raises(ValueError, match="both"):
        stdlib_files(exclude=("asyncio",), only="asyncio")
    with pytest.raises(TypeError, match="tuple of package names"):
        stdlib_files(exclude="asyncio")
    with pytest.raises(FileNotFoundError, match="no package 'nosuchpackage'"):
        stdlib_files(only="nosuchpackage")
