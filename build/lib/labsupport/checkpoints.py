"""A checkpoint cache: train a model once, reload it safely on later runs (Chapter 4 on).

A checkpoint is a model's ``state_dict`` saved under :func:`labsupport.cache_dir` with a
SHA-256 sidecar and a record of what it belongs to: the model's class and parameter shapes,
and the configuration that trained it. Loading uses ``torch.load(..., weights_only=True)``,
which cannot run code hidden in a file. A checkpoint that is missing, corrupt (its checksum
does not match) or mismatched (another architecture or configuration) raises
:class:`CheckpointError`; :func:`load_or_train` reports why and trains again::

    teacher = load_or_train("lab04-teacher-cpu", Teacher(), train_teacher, config=cfg)
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from labsupport._validate import function, module
from labsupport.cache import cache_dir, discard, is_intact, write_checked

#: Bumped when the file layout changes, so that older files count as mismatched.
FORMAT_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

M = TypeVar("M", bound=nn.Module)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; ``reason`` is ``"missing"``, ``"corrupt"`` or ``"mismatch"``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def checkpoint_path(name: str) -> Path:
    """Where the checkpoint called ``name`` lives: ``cache_dir() / "checkpoints" / f"{name}.pt"``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"a checkpoint name must be letters, digits, '.', '_' or '-' (not starting with"
            f" a symbol), got {name!r}"
        )
    return cache_dir() / "checkpoints" / f"{name}.pt"


def architecture_record(model: nn.Module) -> dict[str, Any]:
    """What a checkpoint must match: the model's class and the name and shape of every tensor."""
    module("model", model)
    return {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "tensors": {k: list(v.shape) for k, v in model.state_dict().items()},
    }


def _config_record(config: object) -> Any:
    """``config`` as plain JSON data (a dataclass becomes a dict); ``None`` stays ``None``."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    elif config is not None and not isinstance(config, Mapping):
        raise TypeError(
            f"config must be a dataclass instance, a mapping or None, got {type(config).__name__}"
        )
    try:
        return json.loads(json.dumps(config, sort_keys=True))
    except TypeError as exc:
        raise TypeError(f"config must hold only numbers, strings, booleans, lists and dicts: {exc}") from None


def _describe_difference(saved: Any, wanted: Any) -> str:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        changed = [k for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k)]
        diffs = [f"{k}: {saved.get(k, '(absent)')!r} -> {wanted.get(k, '(absent)')!r}" for k in changed]
        return "; ".join(diffs[:3]) + (" ..." if len(diffs) > 3 else "")
    return f"{saved!r} -> {wanted!r}"


def save_checkpoint(name: str, model: nn.Module, config: object = None) -> Path:
    """Save ``model``'s weights with their checksum, architecture and ``config``; return the path."""
    return write_checkpoint_file(checkpoint_path(name), model, config)


def write_checkpoint_file(path: Path, model: nn.Module, config: object = None) -> Path:
    """:func:`save_checkpoint` to an explicit ``path`` (e.g. the course model shipped as package data)."""
    module("model", model)
    payload = {
        "format": FORMAT_VERSION,
        "architecture": json.dumps(architecture_record(model), sort_keys=True),
        "config": json.dumps(_config_record(config), sort_keys=True),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return write_checked(Path(path), lambda tmp: torch.save(payload, tmp))


def load_checkpoint(name: str, model: M, config: object = None) -> M:
    """Load the checkpoint ``name`` into ``model`` (in place) and return ``model``.

    Raises:
        CheckpointError: the file is missing, fails its checksum or cannot be read
            (``reason="corrupt"``), or was saved for another architecture or configuration
            (``reason="mismatch"``). ``model`` is left unchanged.
    """
    return read_checkpoint_file(checkpoint_path(name), model, config, label=f"checkpoint {name!r}")


def read_checkpoint_file(path: Path, model: M, config: object = None, *, label: str | None = None) -> M:
    """:func:`load_checkpoint` from an explicit ``path``; ``label`` names it in error messages."""
    module("model", model)
    path = Path(path)
    label = f"checkpoint {path.name!r}" if label is None else label
    wanted_config = _config_record(config)
    if not path.exists():
        raise CheckpointError("missing", f"no {label} at {path}")
    if not is_intact(path):
        raise CheckpointError("corrupt", f"{label} at {path} does not match its checksum")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError("corrupt", f"{label} at {path} cannot be read: {exc}") from None
    expected_keys = {"format", "architecture", "config", "state_dict"}
    if (
        not isinstance(payload, dict)
        or payload.keys() != expected_keys
        or payload["format"] != FORMAT_VERSION
    ):
        raise CheckpointError("mismatch", f"{label} at {path} has another file format")
    saved_arch = json.loads(payload["architecture"])
    wanted_arch = architecture_record(model)
    if saved_arch != wanted_arch:
        if saved_arch["class"] != wanted_arch["class"]:
            detail = f"class {saved_arch['class']} -> {wanted_arch['class']}"
        else:
            detail = "tensors " + _describe_difference(saved_arch["tensors"], wanted_arch["tensors"])
        raise CheckpointError("mismatch", f"{label} was saved for another architecture ({detail})")
    saved_config = json.loads(payload["config"])
    if saved_config != wanted_config:
        detail = _describe_difference(saved_config, wanted_config)
        raise CheckpointError("mismatch", f"{label} was trained with another config ({detail})")
    model.load_state_dict(payload["state_dict"])
    return model


def load_or_train(name: str, model: M, train_fn: Callable[[M], object], config: object = None) -> M:
    """Load checkpoint ``name`` into ``model``; if it cannot be used, say why, train, save.

    Args:
        name: the checkpoint's file name (without ``.pt``); include whatever should keep two
            checkpoints apart, e.g. the run profile.
        model: a freshly built model of the right architecture.
        train_fn: ``train_fn(model)`` trains ``model`` in place (its return value is ignored).
        config: the configuration that ``train_fn`` uses (a dataclass or a dict of plain
            values); a checkpoint saved under another config is trained again.

    Returns:
        ``model``, now holding trained weights, in eval mode.
    """
    module("model", model)
    function("train_fn", train_fn)
    try:
        load_checkpoint(name, model, config)
    except CheckpointError as exc:
        if exc.reason == "missing":
            print(f"labsupport: {exc}; training it (once).")
        else:
            print(f"labsupport: {exc}; discarding it and training again.")
            discard(checkpoint_path(name))
        train_fn(model)
        path = save_checkpoint(name, model, config)
        print(f"labsupport: saved checkpoint {name!r} to {path}")
    else:
        print(f"labsupport: loaded checkpoint {name!r} from {checkpoint_path(name)}")
    model.eval()
    return model
