"""Where and how big a lab runs: the run profile, the device, seeds, CPU threads and the report.

Every lab sizes its experiments from a frozen dataclass chosen by the run profile:

* ``smoke``: seconds, used by the test suite;
* ``cpu``: a few minutes at most on a 2-core laptop CPU (the default without a GPU);
* ``gpu``: larger runs, the default when CUDA is available.

The profile comes from the ``LABSUPPORT_PROFILE`` environment variable, the thread count from
``LABSUPPORT_THREADS``. A lab's set-up cell calls :func:`configure_threads` and prints
:func:`env_report`; nothing here runs at import time.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
from typing import TypeVar

import numpy as np
import torch

from labsupport._validate import non_negative_int, one_of, positive_int

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")
PROFILE_ENV = "LABSUPPORT_PROFILE"
THREADS_ENV = "LABSUPPORT_THREADS"

# One thread is the default: at the course's sizes more threads gain nothing on an idle
# laptop and cost many times over when other work shares the cores (the threads spin waiting
# for each other). benchmarks/threads.py measures both cases on the machine at hand; set
# LABSUPPORT_THREADS to override.
DEFAULT_CPU_THREADS = 1

T = TypeVar("T")


# --- run profile ------------------------------------------------------------------------


def validate_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise a ``ValueError`` listing them."""
    if not isinstance(name, str):
        raise TypeError(f"a profile name must be a str, got {type(name).__name__}")
    return one_of("run profile", name, PROFILES, hint=f" (set {PROFILE_ENV} to one of them, or unset it)")


def get_profile() -> str:
    """The active run profile: ``$LABSUPPORT_PROFILE``, else ``gpu`` with CUDA, else ``cpu``."""
    value = os.environ.get(PROFILE_ENV, "").strip()
    if value:
        return validate_profile(value)
    return "gpu" if torch.cuda.is_available() else "cpu"


def by_profile(profile: str | None = None, *, smoke: T, cpu: T, gpu: T) -> T:
    """Pick the value for ``profile`` (default: :func:`get_profile`).

    :meth:`labsupport.settings.LabSettings.for_profile` picks a lab's settings with it::

        by_profile(smoke=Config(steps=50), cpu=Config(steps=2000), gpu=Config(steps=20000))
    """
    name = get_profile() if profile is None else validate_profile(profile)
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[name]


# --- device, seed, threads --------------------------------------------------------------


def get_device() -> torch.device:
    """The best available device: ``cuda``, then Apple's ``mps``, then ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a ``torch.Generator`` seeded the same way.

    Pass the generator to data shuffling and sampling so a cell re-run gives the same numbers.
    """
    non_negative_int("seed", seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def configure_threads(num_threads: int | None = None) -> int:
    """Set the number of CPU threads torch uses and return it.

    Args:
        num_threads: explicit count; default ``$LABSUPPORT_THREADS`` or
            ``DEFAULT_CPU_THREADS`` (1, which is fastest for the course's tiny models).
    """
    if num_threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if raw:
            try:
                num_threads = int(raw)
            except ValueError:
                raise ValueError(f"{THREADS_ENV} must be a positive int, got {raw!r}") from None
        else:
            num_threads = DEFAULT_CPU_THREADS
    positive_int("num_threads", num_threads)
    torch.set_num_threads(num_threads)
    return num_threads


# --- the report -------------------------------------------------------------------------

#: The name labsupport is published under on the package index (``pyproject.toml``'s
#: ``project.name``; tests/test_dist.py checks that they agree). The import name stays ``labsupport``.
DISTRIBUTION = "nn-complexity-labs"


def package_version() -> str:
    """labsupport's installed version, as its package metadata records it: ``pyproject.toml``'s,
    the one place the version is written. ``"not installed"`` when labsupport is imported from a
    checkout that pip never installed (``make setup`` installs it)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def env_report() -> str:
    """A short report of device, profile, versions and threads to paste into a bug report."""
    # The installed version, without importing torchvision (that takes seconds, in every lab).
    try:
        tv_version = importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        tv_version = "not installed"
    device = get_device()
    lines = [
        f"profile      : {get_profile()}",
        f"device       : {device}",
        f"python       : {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"labsupport   : {package_version()} ({DISTRIBUTION})",
        f"torch        : {torch.__version__}",
        f"torchvision  : {tv_version}",
        f"numpy        : {np.__version__}",
        f"torch threads: {torch.get_num_threads()} (of {os.cpu_count()} CPUs)",
        f"cpu          : {_cpu_name()}",
    ]
    if device.type == "cuda":
        lines.append(f"gpu          : {torch.cuda.get_device_name(0)}")
    return "\n".join(lines)
