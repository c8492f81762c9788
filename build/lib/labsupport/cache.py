"""A small, checksummed file cache under the user's cache directory.

Generated data sets and trained checkpoints are stored once and reused. Each file has a
``.sha256`` sidecar: a file that does not match it (an interrupted write, a corrupt
download) is reported and rebuilt instead of being trusted.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

CACHE_ENV = "LABSUPPORT_CACHE"


def cache_dir() -> Path:
    """The course's cache folder: ``$LABSUPPORT_CACHE``, else ``$XDG_CACHE_HOME/labsupport``,
    else ``~/.cache/labsupport``. Created on first use."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        root = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
        root = Path(base).expanduser() / "labsupport"
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_checked(path: Path, write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(tmp_path)`` atomically and record its checksum."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        checksum = sha256_of(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _sidecar(path).write_text(checksum + "\n", encoding="utf-8")
    return path


def is_intact(path: Path) -> bool:
    """True when ``path`` and its checksum sidecar exist and agree."""
    path = Path(path)
    sidecar = _sidecar(path)
    if not path.is_file() or not sidecar.is_file():
        return False
    return sidecar.read_text(encoding="utf-8").strip() == sha256_of(path)


def discard(path: Path) -> None:
    """Remove a cached file and its sidecar (missing files are fine)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    _sidecar(path).unlink(missing_ok=True)


def load_arrays(path: Path, what: str) -> dict[str, np.ndarray] | None:
    """The arrays of a cached ``.npz`` file, or ``None`` when it is missing or corrupt.

    A corrupt file (checksum mismatch) is reported, naming ``what`` it held, and removed so
    the caller rebuilds it.
    """
    path = Path(path)
    if not path.exists():
        return None
    if not is_intact(path):
        print(f"labsupport: cached {what} at {path} failed its checksum; regenerating it.")
        discard(path)
        return None
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Store ``arrays`` as a checksummed ``.npz`` file (see :func:`load_arrays`)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return write_checked(path, write)
