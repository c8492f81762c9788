"""A byte-level text corpus for the language-model sweep of Chapter 2's lab, read offline.

The corpus is the Python standard library's own source code, read from the
interpreter's installation: every machine that runs the labs has it, so no download is needed
(a "Copilot in miniature"). The files are put in a fixed pseudo-random order (by a hash of
their path), and whole files go either to training or to validation, also by a hash of their
path, so the split is the same on every run. Tokens are bytes (a vocabulary of 256), so a
cross-entropy in nats divided by ``ln 2`` is in bits per byte. The bytes are cached under
:func:`labsupport.cache_dir` with a checksum.
"""

from __future__ import annotations

import hashlib
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from labsupport._validate import int_in, number_in, one_of, positive_int, tensor
from labsupport.cache import cache_dir, load_arrays, save_arrays

#: The corpora :func:`load_text_corpus` knows: only the offline one (the course downloads no text).
CORPORA: tuple[str, ...] = ("stdlib",)
#: Folders of the standard library left out: tests, third-party packages, and the generated
#: character-map tables of ``encodings`` (long runs of hex numbers, not code anyone writes).
EXCLUDED_DIRS: frozenset[str] = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "encodings", "__pycache__"}
)
VOCAB_SIZE = 256


@dataclass(frozen=True)
class TextCorpus:
    """Training and validation bytes as 1-D ``torch.uint8`` tensors, and where they came from."""

    train: torch.Tensor
    val: torch.Tensor
    source: str
    vocab_size: int = VOCAB_SIZE

    def decode(self, tokens: torch.Tensor) -> str:
        """Bytes back to text (invalid UTF-8 shown as the replacement character)."""
        return bytes(tokens.to(torch.uint8).tolist()).decode("utf-8", errors="replace")


def _hash_fraction(text: str) -> float:
    """A number in [0, 1) fixed by ``text``: the same on every machine and run."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def _check_packages(exclude: tuple[str, ...], only: str | None) -> None:
    if not isinstance(exclude, tuple) or not all(isinstance(p, str) and p for p in exclude):
        raise TypeError(f"exclude must be a tuple of package names like ('asyncio',), got {exclude!r}")
    if only is not None and (not isinstance(only, str) or not only):
        raise TypeError(f"only must be a package name like 'asyncio' or None, got {only!r}")
    if only is not None and only in exclude:
        raise ValueError(f"package {only!r} cannot be both the only package and excluded")


def stdlib_files(
    root: Path | None = None, *, exclude: tuple[str, ...] = (), only: str | None = None
) -> list[Path]:
    """The standard library's ``.py`` files used for the corpus, in a fixed pseudo-random order.

    Args:
        root: the standard library's folder (default: this interpreter's).
        exclude: top-level packages left out (e.g. ``("asyncio",)``, held out for Lab 6).
        only: keep just this top-level package's files.
    """
    _check_packages(exclude, only)
    root = Path(sysconfig.get_paths()["stdlib"]) if root is None else Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no standard library folder at {root}")
    files = []
    for f in root.rglob("*.py"):
        parts = f.relative_to(root).parts
        if not f.is_file() or EXCLUDED_DIRS.intersection(parts):
            continue
        package = parts[0] if len(parts) > 1 else None
        if package in exclude or (only is not None and package != only):
            continue
        files.append(f)
    if not files:
        what = f"package {only!r}" if only is not None else "Python source files"
        raise FileNotFoundError(f"no {what} under {root}")
    return sorted(files, key=lambda f: _hash_fraction(f.relative_to(root).as_posix()))


def _stdlib_bytes(
    max_bytes: int, val_fraction: float, exclude: tuple[str, ...], only: str | None
) -> tuple[np.ndarray, np.ndarray]:
    root = Path(sysconfig.get_paths()["stdlib"])
    train, val, total = [], [], 0
    for path in stdlib_files(root, exclude=exclude, only=only):
        data = path.read_bytes() + b"\n\n"
        name = path.relative_to(root).as_posix()
        # the validation files are chosen by a second, independent hash of the path
        (val if _hash_fraction("val:" + name) < val_fraction else train).append(data)
        total += len(data)
        if total >= max_bytes:
            break
    return np.frombuffer(b"".join(train), dtype=np.uint8), np.frombuffer(b"".join(val), dtype=np.uint8)


def load_text_corpus(
    name: str = "stdlib",
    *,
    max_bytes: int = 4_000_000,
    val_fraction: float = 0.1,
    cache: bool = True,
    exclude: tuple[str, ...] = (),
    only: str | None = None,
) -> TextCorpus:
    """Load Chapter 2's byte-level corpus: the standard library's source (``"stdlib"``), offline.

    Args:
        name: which corpus; ``"stdlib"`` is the only one.
        max_bytes: stop adding files once this many bytes are collected.
        val_fraction: share of the files kept for validation.
        cache: keep the bytes under :func:`labsupport.cache_dir` (checked by a checksum).
        exclude: top-level packages left out (the course model never sees ``asyncio``, which
            Lab 6 narrows it to).
        only: just this top-level package (e.g. ``"asyncio"``).
    """
    one_of("name", name, CORPORA)
    int_in("max_bytes", max_bytes, 10_000)
    number_in("val_fraction", val_fraction, 0, 1, low_open=True, high_open=True)
    _check_packages(exclude, only)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    label = f"Python {version} standard library source"
    if only is not None:
        label = f"the {only} package of the Python {version} standard library"
    elif exclude:
        label += " without " + ", ".join(sorted(exclude))
    selection = "".join(f"_no-{p}" for p in sorted(exclude)) + (f"_only-{only}" if only else "")
    file_name = f"corpus_stdlib_py{version}_{max_bytes}_val{val_fraction:g}{selection}.npz"
    path = cache_dir() / file_name if cache else None
    cached = load_arrays(path, "corpus") if path is not None else None
    if cached is not None:
        arrays = (cached["train"], cached["val"])
    else:
        arrays = _stdlib_bytes(max_bytes, val_fraction, exclude, only)
        if path is not None:
            save_arrays(path, {"train": arrays[0], "val": arrays[1]})
    train, val = (torch.from_numpy(np.array(a, dtype=np.uint8)) for a in arrays)
    if len(train) < 2 or len(val) < 2:
        raise ValueError(
            f"the corpus is too small to split: {len(train)} train and {len(val)} validation bytes"
        )
    source = f"{label} ({len(train)} train + {len(val)} validation bytes)"
    return TextCorpus(train=train, val=val, source=source)


def _check_windows(tokens: torch.Tensor, context: int) -> None:
    tensor("tokens", tokens, ndim=1)
    positive_int("context", context)
    if len(tokens) < context + 1:
        raise ValueError(f"tokens must hold more than context={context} tokens, got {len(tokens)}")


def sample_windows(
    tokens: torch.Tensor, batch_size: int, context: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: inputs ``(B, T)`` and next-byte targets ``(B, T)`` (int64)."""
    _check_windows(tokens, context)
    positive_int("batch_size", batch_size)
    starts = torch.randint(0, len(tokens) - context, (batch_size,), generator=generator)
    index = starts[:, None] + torch.arange(context + 1)  # (B, T + 1)
    window = tokens[index].long()
    return window[:, :-1].contiguous(), window[:, 1:].contiguous()


def eval_windows(
    tokens: torch.Tensor, context: int, max_windows: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed evaluation windows (the same every time): inputs and next-byte targets ``(W, T)``.

    All non-overlapping windows, or ``max_windows`` of them spread evenly over ``tokens``.
    """
    _check_windows(tokens, context)
    count = (len(tokens) - 1) // context
    if max_windows is not None:
        positive_int("max_windows", max_windows)
    if max_windows is None or max_windows >= count:
        starts = torch.arange(count) * context
    else:
        starts = torch.linspace(0, len(tokens) - context - 1, max_windows).long()
    index = starts[:, None] + torch.arange(context + 1)  # (W, T + 1)
    window = tokens[index].long()
    return window[:, :-1].contiguous(), window[:, 1:].contiguous()
