"""Run a notebook in a fresh Jupyter kernel: the one executor of the tests, tools and benchmarks.

Every kernel started here talks to its client over ``ipc`` (Unix sockets) at a socket path of
its own. Over TCP, jupyter_client picks a kernel's ports in the parent process (bind to port
0, close, write the number down) and the kernel binds them later, so two launches in the same
second, from two processes, can be handed the same ports and one client then waits forever on
the other's kernel (jupyter/jupyter_client#487). A socket path that no other kernel uses cannot
collide. ``benchmarks/kernel_starts.py`` starts many kernels at once over both transports.

Two traps avoided: ``transport="ipc"`` alone makes the socket path the *relative*
``kernel-ipc``, which the client and a kernel started in another folder resolve differently;
and a Unix socket path must be shorter than 108 bytes, so the prefix is short and absolute
(``/tmp/k…/s``), whatever ``$TMPDIR`` is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

#: Unix socket paths are limited to 107 bytes; /tmp keeps the prefix short wherever $TMPDIR is.
SOCKET_ROOT = "/tmp" if os.access("/tmp", os.W_OK) else tempfile.gettempdir()


def socket_prefix() -> str:
    """A new, short, absolute socket path prefix in a folder of its own (``/tmp/k…/s``)."""
    return str(Path(tempfile.mkdtemp(prefix="k", dir=SOCKET_ROOT)) / "s")


class IpcKernelManager(KernelManager):
    """A kernel manager whose kernel listens on Unix sockets at a prefix no other kernel uses."""

    def __init__(self, **kwargs: Any) -> None:
        explicit_ip = "ip" in kwargs
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        if self.transport == "ipc" and not explicit_ip:
            self.ip = socket_prefix()

    def cleanup_ipc_files(self) -> None:
        """Remove the sockets, and the folder that :func:`socket_prefix` made for them."""
        super().cleanup_ipc_files()
        folder = Path(self.ip).parent
        if self.transport == "ipc" and folder.name.startswith("k") and str(folder.parent) == SOCKET_ROOT:
            shutil.rmtree(folder, ignore_errors=True)


def nbgrader_kernel_config(prefix: str | None = None) -> str:
    """Lines for an ``nbgrader_config.py`` that make nbgrader's kernels use ipc too.

    nbgrader's ``Execute`` picks its kernel manager class itself, so the transport and the
    socket prefix are set through the configuration. Kernels one nbgrader process starts run
    one after another, so one prefix per process suffices. Not for the instructors' kit:
    Unix sockets do not exist on Windows.
    """
    return f"c.KernelManager.transport = 'ipc'\nc.KernelManager.ip = {prefix or socket_prefix()!r}\n"


def execute(
    nb: nbformat.NotebookNode,
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: int = 900,
    kernel_name: str = "python3",
    kernel_spec_manager: Any = None,
) -> nbformat.NotebookNode:
    """Execute every cell of ``nb`` in order, in a new ipc kernel started in ``cwd`` with exactly
    the environment ``env``; return ``nb`` with its outputs.

    A cell that raises stops the run with nbclient's ``CellExecutionError`` (it names the cell
    and shows the traceback); ``nb`` then holds the outputs up to that cell. ``timeout`` is
    per cell, in seconds.
    """
    if not isinstance(env, dict) or not env:
        raise ValueError(f"env must be the kernel's whole environment (a non-empty dict), got {env!r}")
    if not Path(cwd).is_dir():
        raise ValueError(f"cwd must be an existing folder, got {cwd}")
    options = {"kernel_name": kernel_name}
    if kernel_spec_manager is not None:
        options["kernel_spec_manager"] = kernel_spec_manager
    km = IpcKernelManager(**options)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, km=km, resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute(env=env)
    finally:
        # nbclient shuts down only a kernel it made itself; this one is ours to end, or every
        # run leaves an idle kernel (about 0.85 GB) alive until the calling process exits.
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb
