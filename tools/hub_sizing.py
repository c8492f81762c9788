"""A Sphinx extension: the "Beyond one machine" page's JupyterHub sizing, computed at build time.

``{hub-sizing}`` reads each lab's measured peak memory and time in the ``cpu`` profile from
``benchmarks/lab_times.md`` (``make bench``) and, for the ``gpu`` profile, which has not run on
a GPU, the estimates in ``benchmarks/gpu_estimates.md`` where that file exists. It writes a
table of the labs, the per-user limits (the heaviest lab's peak plus headroom) and how many
users a machine holds when all of them run that lab at once, then the same numbers as
configuration for The Littlest JupyterHub, JupyterHub itself and Zero to JupyterHub. The page
types none of these numbers, so it cannot drift from the measurements.

The rules are The Littlest JupyterHub's (``docs/howto/admin/resource-estimation.md``): a
user's limit is the most memory a session used plus 20-40 % headroom, and a server needs
(users at once x limit) + 128 MB for the hub itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from tools.bench_tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
LAB_TIMES = ROOT / "benchmarks" / "lab_times.md"
GPU_ESTIMATES = ROOT / "benchmarks" / "gpu_estimates.md"
GIB = 1024  # MiB; the hubs' configs read "4G" as 4 x 2**30 bytes
HUB_MIB = 128  # what the hub and its services need (TLJH's resource estimation)
THREADS = 1  # torch threads a lab uses (labsupport.configure_threads): one core at full speed
PROCESSES = 2  # the most processes a lab runs at once (Lab 7's torchrun): the CPU limit
T4_GIB = 16  # a free Colab GPU's memory, which the gpu estimates are for


def measured(path: Path | None = None, profile: str = "cpu") -> dict[str, tuple[int, int]]:
    """``{lab: (peak MiB, seconds)}`` in ``profile``, from the table ``make bench`` writes
    (default :data:`LAB_TIMES`)."""
    path = LAB_TIMES if path is None else path
    rows = markdown_table(path)
    columns = (f"{profile} peak (MiB)", f"{profile} (s)")
    missing = [c for c in columns if not rows or c not in next(iter(rows.values()))]
    if missing:
        raise ValueError(
            f"{path.name} has no column {missing[0]!r}: run `python benchmarks/lab_times.py` "
            f"(make bench), which measures each lab's peak memory in {profile}"
        )
    return {lab: (int(row[columns[0]]), int(row[columns[1]])) for lab, row in rows.items()}


def gpu_estimates(path: Path | None = None) -> dict[str, float] | None:
    """``{lab: estimated peak GiB}`` in the ``gpu`` profile (default :data:`GPU_ESTIMATES`), or
    ``None`` while there is no estimate."""
    path = GPU_ESTIMATES if path is None else path
    if not path.exists():
        return None
    rows = markdown_table(path)
    headers = next(iter(rows.values())).keys() if rows else []
    column = next((h for h in headers if "peak" in h.lower()), None)
    if column is None:
        return None
    per_gib = 1 / GIB if re.search(r"\bMi?B\b", column) else 1.0
    peaks = {}
    for lab, row in rows.items():
        number = re.search(r"\d+(?:\.\d+)?", row.get(column, ""))
        if number:
            peaks[lab] = float(number[0]) * per_gib
    return peaks or None


@dataclass(frozen=True)
class Sizing:
    """A hub for one class: the heaviest lab, each user's limits, and who fits on one machine."""

    lab: str
    peak_mib: int  # the heaviest lab's measured peak
    seconds: int  # that lab's measured time, alone on the benchmark machine
    guarantee_gib: float  # the peak, rounded up to half a GiB
    limit_gib: int  # the peak plus headroom, rounded up to a whole GiB
    users: int  # users at once on the machine, all running the heaviest lab
    full_speed: int  # of those, how many run at full speed (a core each)


def size(peaks: dict[str, tuple[int, int]], memory_gib: int, cores: int, headroom: float) -> Sizing:
    """Size a hub on a machine of ``memory_gib`` and ``cores`` from ``{lab: (peak MiB, seconds)}``."""
    if not peaks:
        raise ValueError("no lab has a measured peak: run `python benchmarks/lab_times.py` (make bench)")
    if memory_gib <= 0 or cores <= 0 or not 0 <= headroom <= 1:
        raise ValueError(
            f"expected memory_gib > 0, cores > 0 and 0 <= headroom <= 1, got {memory_gib}, {cores}, {headroom}"
        )
    lab = max(peaks, key=lambda name: peaks[name][0])
    peak, seconds = peaks[lab]
    limit = math.ceil(peak * (1 + headroom) / GIB)
    users = (memory_gib * GIB - HUB_MIB) // (limit * GIB)
    guarantee = math.ceil(2 * peak / GIB) / 2
    return Sizing(lab, peak, seconds, guarantee, limit, users, min(users, cores // THREADS))


def _gib(mib: float) -> str:
    return f"{mib / GIB:.1f} GiB"


def _size_text(g: float) -> str:
    return f"{g:g}G"


def sizing_markdown(memory_gib: int = 64, cores: int = 16, headroom: float = 0.3) -> str:
    """The page's table, its reading and the three configurations, all from the measurements."""
    cpu, gpu = measured(), gpu_estimates()
    s = size({lab: cpu[lab] for lab in cpu}, memory_gib, cores, headroom)
    gpu_header = "gpu peak (estimated, T4)" if gpu else "gpu peak"
    lines = [
        f"| lab | cpu peak (measured) | cpu time (measured) | {gpu_header} |",
        "|---|---|---|---|",
    ]
    for lab, (peak, seconds) in cpu.items():
        estimate = f"{gpu[lab]:.2f} GiB (estimate)" if gpu and lab in gpu else "not measured"
        lines.append(f"| {{doc}}`{lab} <../labs/{lab}>` | {_gib(peak)} | {seconds} s | {estimate} |")
    if s.users <= s.full_speed:
        speed = f"Each lab uses {THREADS} torch thread, so all {s.users} run at full speed, a core each."
    else:
        speed = (
            f"Each lab uses {THREADS} torch thread, so {s.full_speed} of them run at full speed; with "
            f"all {s.users} computing at the same moment, {s.lab} takes about "
            f"{s.seconds * s.users / s.full_speed:.0f} s instead of the {s.seconds} s it took alone."
        )
    lines += [
        "",
        f"The heaviest lab in `cpu` is **{s.lab}**, at {_gib(s.peak_mib)}. With {headroom:.0%} "
        f"headroom each user's memory limit is **{s.limit_gib} GiB**. A machine with "
        f"{memory_gib} GiB and {cores} cores then holds **{s.users} users at once**, all running "
        f"that lab ({s.users} x {s.limit_gib} GiB + {HUB_MIB} MiB for the hub). {speed} The CPU "
        f"limit is {PROCESSES} cores, for Lab 7's {PROCESSES} torchrun processes.",
        "",
    ]
    if gpu:
        worst = max(gpu, key=gpu.get)
        lines.append(
            f"The `gpu` profile has not been measured on a GPU. Its estimated peak is at most "
            f"{gpu[worst]:.2f} GiB ({worst}), {'within' if gpu[worst] <= T4_GIB else 'beyond'} a T4's "
            f"{T4_GIB} GB. Kubernetes hands out whole "
            "GPUs: give each user one, with the Zero to JupyterHub profile above."
        )
    else:
        lines.append(
            "**Gap, for the course's maintainers:** the `gpu` profile has not been measured on a "
            "GPU, and `benchmarks/gpu_estimates.md` does not exist yet, so this page gives no GPU "
            "memory per user. Until it does, give each user one whole GPU."
        )
    limit, guarantee = _size_text(s.limit_gib), _size_text(s.guarantee_gib)
    lines += [
        "",
        "The Littlest JupyterHub, on the server:",
        "",
        "```bash",
        f"sudo tljh-config set limits.memory {limit}",
        f"sudo tljh-config set limits.cpu {PROCESSES}",
        "sudo tljh-config reload",
        "```",
        "",
        "A JupyterHub of your own, in `jupyterhub_config.py` (the spawner must enforce them, as",
        "`SystemdSpawner`, `DockerSpawner` and `KubeSpawner` do):",
        "",
        "```python",
        f'c.Spawner.mem_limit = "{limit}"',
        f"c.Spawner.cpu_limit = {PROCESSES}",
        "```",
        "",
        "Zero to JupyterHub, in `config.yaml` (the guarantee is the measured peak; Kubernetes",
        "places users on nodes by their guarantees):",
        "",
        "```yaml",
        "singleuser:",
        "  memory:",
        f"    guarantee: {guarantee}",
        f"    limit: {limit}",
        "  cpu:",
        f"    guarantee: {THREADS}",
        f"    limit: {PROCESSES}",
        "```",
    ]
    return "\n".join(lines) + "\n"


class HubSizing(SphinxDirective):
    """``{hub-sizing}`` with options ``:memory-gib:``, ``:cores:`` and ``:headroom:``."""

    option_spec = {  # noqa: RUF012 (docutils reads it from the class)
        "memory-gib": directives.positive_int,
        "cores": directives.positive_int,
        "headroom": float,
    }

    def run(self) -> list[Any]:
        for path in (LAB_TIMES, GPU_ESTIMATES):
            self.env.note_dependency(str(path))
        text = sizing_markdown(
            self.options.get("memory-gib", 64),
            self.options.get("cores", 16),
            self.options.get("headroom", 0.3),
        )
        return self.parse_text_to_nodes(text)


def setup(app: Any) -> dict[str, Any]:
    """Register ``hub-sizing``."""
    app.add_directive("hub-sizing", HubSizing)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
