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
