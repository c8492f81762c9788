"""Device choice, seeding, CPU threads and the environment report every lab prints."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from labsupport.profile import get_profile

THREADS_ENV = "LABSUPPORT_THREADS"

# Measured with benchmarks/threads.py on a 2-core machine: training a tiny MLP took the same
# time with 1 or 2 torch threads when the machine was idle (0.99 s vs 0.96 s), but 27x longer
# with 2 threads while other work shared the cores, because the threads spin waiting for each
# other. 1 thread loses nothing at the course's sizes and is safe on a busy laptop or a shared
# runtime, so it is the default; set LABSUPPORT_THREADS to override.
DEFAULT_CPU_THREADS = 1


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
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
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
                raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
        else:
            num_threads = DEFAULT_CPU_THREADS
    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
    torch.set_num_threads(num_threads)
    return num_threads


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
    try:
        import torchvision

        tv_version = torchvision.__version__
    except ImportError:
        tv_version = "not installed"
    device = get_device()
    lines = [
        f"profile      : {get_profile()}",
        f"device       : {device}",
        f"python       : {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"torch        : {torch.__version__}",
        f"torchvision  : {tv_version}",
        f"numpy        : {np.__version__}",
        f"torch threads: {torch.get_num_threads()} (of {os.cpu_count()} CPUs)",
        f"cpu          : {_cpu_name()}",
    ]
    if device.type == "cuda":
        lines.append(f"gpu          : {torch.cuda.get_device_name(0)}")
    return "\n".join(lines)
