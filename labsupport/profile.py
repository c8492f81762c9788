"""Run profiles: how big each lab's experiments are (see "How to run the labs").

Every lab sizes its experiments from a frozen dataclass chosen by the run profile:

* ``smoke``: seconds, used by the test suite;
* ``cpu``: a few minutes at most on a 2-core laptop CPU (the default without a GPU);
* ``gpu``: larger runs, the default when CUDA is available.

The profile comes from the ``LABSUPPORT_PROFILE`` environment variable.
"""

from __future__ import annotations

import os
from typing import TypeVar

import torch

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")
PROFILE_ENV = "LABSUPPORT_PROFILE"

T = TypeVar("T")


def validate_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise a ``ValueError`` listing them."""
    if not isinstance(name, str):
        raise TypeError(f"a profile name must be a str, got {type(name).__name__}")
    if name not in PROFILES:
        raise ValueError(
            f"unknown run profile {name!r}; expected one of {', '.join(PROFILES)}"
            f" (set {PROFILE_ENV} to one of them, or unset it)"
        )
    return name


def get_profile() -> str:
    """The active run profile: ``$LABSUPPORT_PROFILE``, else ``gpu`` with CUDA, else ``cpu``."""
    value = os.environ.get(PROFILE_ENV, "").strip()
    if value:
        return validate_profile(value)
    return "gpu" if torch.cuda.is_available() else "cpu"


def by_profile(profile: str | None = None, *, smoke: T, cpu: T, gpu: T) -> T:
    """Pick the value for ``profile`` (default: :func:`get_profile`).

    Labs use it to build their config dataclass::

        cfg = by_profile(smoke=Config(steps=50), cpu=Config(steps=2000), gpu=Config(steps=20000))
    """
    name = get_profile() if profile is None else validate_profile(profile)
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[name]
