"""The plumbing of the process group :mod:`labsupport.lm.parallel` runs in (Chapter 7).

Three jobs, none of them part of the lesson:

* **Where am I?** torchrun starts each process with its place in the environment: ``RANK``
  and ``WORLD_SIZE`` count processes on every node, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``
  on this node only, ``GROUP_RANK`` numbers the node. :meth:`Place.from_env` reads and checks
  them. A process picks its GPU by its *local* rank and compares the *local* count with this
  node's GPUs: on two nodes of four GPUs, ``WORLD_SIZE`` is 8 and no node has 8 GPUs.
* **Joining**: :func:`join` uses ``nccl`` when each process on this node has a GPU of its own,
  else ``gloo`` on the CPU (saying so once per node when GPUs exist but are too few).
* **Counting what is sent** (:class:`Traffic`, :func:`written_bytes`, :func:`all_reduce_traffic`)
  and **gathering** every process's record on rank 0 (:func:`gather_on_rank0`), so the first
  node holds the whole result even when the nodes share no disk.

``bytes`` is the payload a process hands to ``all_reduce`` or ``send``; ``wire_bytes`` is what
the operating system saw it write (Linux's ``/proc/self/io``, with ``gloo``; ``None``
elsewhere): a ring all-reduce over ``p`` processes writes ``2 (p - 1) / p`` times its payload,
plus a header per message.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.distributed as dist

#: The variables torchrun sets in every process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass(frozen=True)
class Place:
    """One process's place: among all processes (``rank``/``world``), on its node
    (``local_rank``/``local_world``), and which node (``node``, ``None`` where unknown)."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    node: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Place:
        """The place torchrun wrote into ``env`` (default ``os.environ``), checked for consistency."""
        env = os.environ if env is None else env
        missing = [name for name in TORCHRUN_VARIABLES if name not in env]
        if missing:
            raise ValueError(
                f"expected the variables torchrun sets ({', '.join(TORCHRUN_VARIABLES)}); "
                f"missing {', '.join(missing)}: start this script with torchrun"
            )
        values = {}
        for name in (*TORCHRUN_VARIABLES, "GROUP_RANK"):
            if name in env:
                try:
                    values[name] = int(env[name])
                except ValueError:
                    raise ValueError(f"{name} must be an integer, got {env[name]!r}") from None
        place = cls(
            values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], values["LOCAL_WORLD_SIZE"],
            values.get("GROUP_RANK"),
        )  # fmt: skip
        place.check()
        return place

    def check(self) -> None:
        """Raise ``ValueError`` naming the variables that contradict each other."""
        rules = [
            (self.world >= 1, f"WORLD_SIZE={self.world} must be at least 1"),
            (0 <= self.rank < self.world, f"RANK={self.rank} must be in 0..WORLD_SIZE-1={self.world - 1}"),
            (
                1 <= self.local_world <= self.world,
                f"LOCAL_WORLD_SIZE={self.local_world} must be in 1..WORLD_SIZE={self.world}",
            ),
            (
                0 <= self.local_rank < self.local_world,
                f"LOCAL_RANK={self.local_rank} must be in 0..LOCAL_WORLD_SIZE-1={self.local_world - 1}",
            ),
            (self.node is None or self.node >= 0, f"GROUP_RANK={self.node} must be at least 0"),
        ]
        broken = [message for ok, message in rules if not ok]
        if broken:
            raise ValueError("torchrun's environment is inconsistent: " + "; ".join(broken))


def choose_device(place: Place, gpus: int) -> torch.device:
    """``cuda:LOCAL_RANK`` when this node has a GPU for each of its ``local_world`` processes, else the CPU."""
    return torch.device("cuda", place.local_rank) if gpus >= place.local_world else torch.device("cpu")


def join(place: Place) -> torch.device:
    """Join torchrun's process group as ``place``: ``nccl`` on this process's GPU, or ``gloo`` on the CPU."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device = choose_device(place, gpus)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl")
        return device
    if gpus and place.local_rank == 0:
        print(
            f"this node has {gpus} GPU(s) for {place.local_world} processes: every process "
            "uses gloo on the CPU (give each process a GPU with --nproc-per-node)",
            file=sys.stderr,
            flush=True,
        )
    dist.init_process_group("gloo")
    return device


def describe(place: Place, device: torch.device) -> dict[str, Any]:
    """The fields a process adds to its record: its place, device and backend."""
    return asdict(place) | {"device": str(device), "backend": dist.get_backend()}


def gather_on_rank0(record: dict) -> list[dict] | None:
    """Every process's ``record``, in rank order, on rank 0 (``None`` on the others)."""
    gathered: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(record, gathered, dst=0)
    return gathered


@dataclass
class Traffic:
    """What one process sent: messages, payload bytes and the seconds spent communicating."""

    messages: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def count(self, t: torch.Tensor, start: float) -> None:
        """Count ``t`` as sent, in a call that began at ``start`` (``time.perf_counter()``)."""
        self.messages += 1
        self.bytes += t.numel() * t.element_size()
        self.seconds += time.perf_counter() - start


def written_bytes() -> int | None:
    """Bytes this process has written so far, to sockets and files alike (``wchar`` in Linux's
    ``/proc/self/io``), or ``None`` where the system does not say."""
    try:
        with open("/proc/self/io") as io:
            fields = dict(line.split(":", 1) for line in io if ":" in line)
        return int(fields["wchar"])
    except (OSError, KeyError, ValueError):
        return None


def wire_counted() -> bool:
    """Whether :func:`written_bytes` sees this process group's messages: ``gloo`` writes them to
    sockets; ``nccl`` moves them over GPU links, which no system call counts."""
    return dist.get_backend() == "gloo" and written_bytes() is not None


def all_reduce_traffic(d: int, device: torch.device, large: int = 2**16) -> dict:
    """What one all-reduce of ``d`` floats (a decoding step's vector) writes, and the ring factor.

    The factor is measured as the slope between that all-reduce and one of ``large`` floats,
    (bytes written) / (payload), so the fixed header of each message drops out: a ring over
    ``p`` processes gives ``2 (p - 1) / p``. Both are ``None`` where :func:`wire_counted` is false.
    """
    written = {}
    for n in (d, large):
        x = torch.ones(n, device=device)
        dist.all_reduce(x)  # once untimed: the first call of a size may set up buffers
        before = written_bytes()
        dist.all_reduce(x)
        after = written_bytes()
        written[n] = after - before if wire_counted() else None
    if written[d] is None:
        return {"all_reduce_wire_bytes": None, "ring_factor": None}
    slope = (written[large] - written[d]) / ((large - d) * 4)
    return {"all_reduce_wire_bytes": written[d], "ring_factor": slope}
