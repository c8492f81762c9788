"""Estimate each lab's ``gpu`` profile on a free Colab T4, before it has run on a GPU (issue 29).

For every lab a ledger (``tools/gpu_labs.py``, ``tools/gpu_labs_lm.py``) lists the work its
settings ask for, each kind of step counted once with the course's FLOP counter
(``FlopCounterMode``, as ``labsupport.count_flops``) plus the kernels it launches, the bytes those
move and the memory it holds (``tools/gpu_count.py``). A step costs

    FLOPs / achieved FLOP rate + kernels x time per kernel + bytes moved / bandwidth

on a device; host work (sampling, the CPU-side fits) costs the same on Colab's CPU as here.
The method is checked on the ``cpu`` profile first: the same ledgers with this machine's
measured rates, against the measured times in ``benchmarks/lab_times.md``. What a ledger
leaves out (plots, checks, data generation, kernel start) is that measured time minus the
ledger's, and it is added to the T4 estimate as it is; so is Colab's set-up.

    python -m tools.gpu_estimate             # writes benchmarks/gpu_estimates.md
    python -m tools.gpu_estimate 05_mixture_of_experts --out /tmp/estimate.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import torch

from labsupport.settings.capstone import CapstoneSettings
from labsupport.settings.complexity import ComplexitySettings
from labsupport.settings.deployment import DeploymentSettings
from labsupport.settings.distillation import DistillationSettings
from labsupport.settings.memorization import MemorizationSettings
from labsupport.settings.moe import MoESettings
from labsupport.settings.scaling import ScalingSettings
from labsupport.settings.serving import ServingSettings
from tools import gpu_labs, gpu_labs_lm
from tools.bench_tables import column
from tools.gpu_count import cuda_like_optimizers, measure
from tools.gpu_ledger import Workload

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "gpu_estimates.md"
LAB_TIMES = ROOT / "benchmarks" / "lab_times.md"
GIB = 2**30

#: Each lab's settings and ledger.
LEDGERS: dict[str, tuple[type, Callable[..., list[Workload]]]] = {
    "01_complexity": (ComplexitySettings, gpu_labs.lab_complexity),
    "02_scaling_laws": (ScalingSettings, gpu_labs.lab_scaling),
    "03_memorization": (MemorizationSettings, gpu_labs.lab_memorization),
    "04_distillation": (DistillationSettings, gpu_labs.lab_distillation),
    "05_mixture_of_experts": (MoESettings, gpu_labs_lm.lab_moe),
    "06_efficient_deployment": (DeploymentSettings, gpu_labs_lm.lab_deployment),
    "07_serving": (ServingSettings, gpu_labs_lm.lab_serving),
    "08_capstone": (CapstoneSettings, gpu_labs_lm.lab_capstone),
}

#: NVIDIA T4 datasheet: 8.1 TFLOPS fp32 (65 fp16 on tensor cores, which the fp32 labs do not
#: use), fp64 at 1/32 of fp32, 320 GB/s of GDDR6, 16 GB (Colab shows about 15 GiB).
T4_FP32, T4_FP64, T4_BANDWIDTH, T4_MEMORY = 8.1e12, 8.1e12 / 32, 320e9, 15 * GIB
#: Shares of those rates that eager PyTorch reaches: cuBLAS SGEMM on a 70 W T4, whose clocks
#: drop from 1.59 GHz towards 1.1-1.3 GHz under sustained load, and element-wise kernels.
FLOP_EFFICIENCY, BANDWIDTH_EFFICIENCY = 0.5, 0.7
#: What a kernel launch adds to the host's own time per operation (cudaLaunchKernel, allocator).
LAUNCH_SECONDS = 5e-6
#: Colab's set-up cell (the package install, importing torch, the CUDA context) and downloads.
COLAB_SETUP_SECONDS = 45.0
DOWNLOAD_SECONDS = {"01_complexity": 5.0, "03_memorization": 15.0, "04_distillation": 5.0}


@dataclass(frozen=True)
class Machine:
    """The rates a step's cost is divided by."""

    name: str
    flops: float  # fp32 FLOP/s achieved on matrix products
    fp64_flops: float
    bandwidth: float  # bytes/s of element-wise operations
    op_seconds: float  # host time per operation (dispatch, and on a GPU the launch)

    def seconds(self, w: Workload, host: Machine) -> float:
        """Time of all of ``w``'s repetitions; host work at ``host``'s rates."""
        m, c = (host if w.host else self), w.total
        rate = m.fp64_flops if w.fp64 else m.flops
        return c.flops / rate + c.ops * m.op_seconds + c.traffic / m.bandwidth + w.seconds * w.repeat


def _best_seconds(fn: Callable[[], object], repeats: int = 7) -> float:
    """The fastest of ``repeats`` calls in CPU time of this process (one thread), which other
    programs sharing the machine barely change, unlike wall time."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def this_cpu() -> Machine:
    """This machine on one torch thread (as the labs run): a 1024 x 1024 matmul's FLOP rate in
    fp32 and fp64, a 64 MB copy's bandwidth, and the time per operation of a tiny model's
    training step (Python, modules, autograd and Adam included, as in a lab's loop)."""
    n = 1024
    a, a64 = torch.randn(n, n), torch.randn(n, n, dtype=torch.float64)
    big, out = torch.randn(2**24), torch.empty(2**24)
    tiny = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    adam, x = torch.optim.Adam(tiny.parameters()), torch.randn(8, 4)

    def step() -> None:
        loss = tiny(x).pow(2).mean()
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()

    step()
    ops = measure(step).ops
    return Machine(
        "this CPU, 1 thread",
        2 * n**3 / _best_seconds(lambda: a @ a),
        2 * n**3 / _best_seconds(lambda: a64 @ a64),
        2 * big.nbytes / _best_seconds(lambda: out.copy_(big)),
        _best_seconds(lambda: [step() for _ in range(100)]) / (100 * ops),
    )


def t4(host: Machine) -> Machine:
    """A Colab T4 driven from a host like ``host``."""
    return Machine(
        "Colab T4",
        T4_FP32 * FLOP_EFFICIENCY,
        T4_FP64 * FLOP_EFFICIENCY,
        T4_BANDWIDTH * BANDWIDTH_EFFICIENCY,
        host.op_seconds + LAUNCH_SECONDS,
    )


def ledger(stem: str, profile: str) -> list[Workload]:
    """The workloads of ``stem`` in ``profile``; in ``gpu`` its optimizers count as on a GPU."""
    if stem not in LEDGERS:
        raise ValueError(f"no ledger for {stem!r}: expected one of {', '.join(LEDGERS)}")
    settings, make = LEDGERS[stem]
    cfg = settings.for_profile(profile)
    if profile == "gpu":
        with cuda_like_optimizers():
            return make(cfg)
    return make(cfg)


def measured_cpu_seconds(path: Path = LAB_TIMES) -> dict[str, float]:
    """``{lab: seconds}`` of the ``cpu (s)`` column of ``benchmarks/lab_times.md``."""
    times = {lab: float(cell) for lab, cell in column(path, "cpu (s)").items() if lab in LEDGERS}
    if not times:
        raise ValueError(f"{path} has no row for any of the labs {sorted(LEDGERS)}")
    return times


@dataclass(frozen=True)
class Estimate:
    """One lab: its gpu work on a T4, and the check of the method on its cpu profile."""

    lab: str
    gpu_flops: float
    peak_bytes: float
    device_seconds: float  # the gpu ledger on a T4
    host_seconds: float  # the gpu ledger's host work
    cpu_flops: float
    cpu_ledger_seconds: float  # the cpu ledger at this machine's rates
    cpu_measured: float  # benchmarks/lab_times.md
    matmul_rate: float
    biggest: str  # the gpu workload that takes longest

    @property
    def left_out(self) -> float:
        """Seconds of the measured cpu run that the ledger does not account for."""
        return max(0.0, self.cpu_measured - self.cpu_ledger_seconds)

    @property
    def t4_seconds(self) -> float:
        """The estimate: the gpu ledger, what the ledger leaves out, set-up and downloads."""
        download = DOWNLOAD_SECONDS.get(self.lab, 0.0)
        return self.device_seconds + self.host_seconds + self.left_out + COLAB_SETUP_SECONDS + download


def estimate(lab: str, cpu: Machine, measured: dict[str, float]) -> Estimate:
    """Count ``lab``'s ledgers in both profiles and put them on a T4 and on ``cpu``."""
    gpu_rows, cpu_rows, device = ledger(lab, "gpu"), ledger(lab, "cpu"), t4(cpu)
    timed = [device.seconds(w, cpu) for w in gpu_rows]
    return Estimate(
        lab=lab,
        gpu_flops=sum(w.total.flops for w in gpu_rows),
        peak_bytes=max(w.peak_bytes for w in gpu_rows if not w.host),
        device_seconds=sum(t for w, t in zip(gpu_rows, timed, strict=True) if not w.host),
        host_seconds=sum(t for w, t in zip(gpu_rows, timed, strict=True) if w.host),
        cpu_flops=sum(w.total.flops for w in cpu_rows),
        cpu_ledger_seconds=sum(cpu.seconds(w, cpu) for w in cpu_rows),
        cpu_measured=measured[lab],
        matmul_rate=cpu.flops,
        biggest=max(zip(timed, gpu_rows, strict=False), key=lambda pair: pair[0])[1].what,
    )


def minutes(seconds: float) -> int:
    """Whole minutes, rounded up (at least 1)."""
    return max(1, math.ceil(seconds / 60))


def table(estimates: list[Estimate], cpu: Machine) -> str:
    """``benchmarks/gpu_estimates.md``: the estimates, the validation and the method."""
    lines = [
        "| lab | gpu TFLOP | peak memory (GiB) | T4 minutes (estimate) | largest part on the T4 |",
        "|---|---|---|---|---|",
    ]
    for e in estimates:
        lines.append(
            f"| {e.lab} | {e.gpu_flops / 1e12:.1f} | {e.peak_bytes / GIB:.2f} | {minutes(e.t4_seconds)} | {e.biggest} |"
        )
    lines += [
        "",
        "Validation on the `cpu` profile (the same ledgers at this machine's measured rates):",
        "",
        "| lab | cpu TFLOP | ledger (s) | measured (s) | ledger / measured | FLOPs at the matmul rate / measured |",
        "|---|---|---|---|---|---|",
    ]
    for e in estimates:
        achieved = e.cpu_flops / e.matmul_rate / e.cpu_measured
        ratio = e.cpu_ledger_seconds / e.cpu_measured
        lines.append(
            f"| {e.lab} | {e.cpu_flops / 1e12:.2f} | {e.cpu_ledger_seconds:.0f} | {e.cpu_measured:.0f} "
            f"| {ratio:.2f} | {achieved:.2f} |"
        )
    lines += [
        "",
        "Where each T4 estimate comes from (seconds):",
        "",
        "| lab | gpu ledger on the T4 | host work | left out of the cpu ledger | set-up and download |",
        "|---|---|---|---|---|",
    ]
    for e in estimates:
        fixed = COLAB_SETUP_SECONDS + DOWNLOAD_SECONDS.get(e.lab, 0.0)
        lines.append(
            f"| {e.lab} | {e.device_seconds:.0f} | {e.host_seconds:.0f} | {e.left_out:.0f} | {fixed:.0f} |"
        )
    lines += ["", *_method(cpu)]
    return "\n".join(lines) + "\n"


def _method(cpu: Machine) -> list[str]:
    device = t4(cpu)
    return [
        f"Estimated {date.today().isoformat()} by `python -m tools.gpu_estimate`, without a GPU. "
        f"This machine ({cpu.name}): {cpu.flops / 1e9:.0f} GFLOP/s fp32 and {cpu.fp64_flops / 1e9:.0f} fp64 "
        f"(1024 x 1024 matmul), {cpu.bandwidth / 1e9:.1f} GB/s, {cpu.op_seconds * 1e6:.1f} µs per operation. "
        f"The T4: {device.flops / 1e12:.2f} TFLOP/s ({FLOP_EFFICIENCY:.0%} of the datasheet's 8.1 fp32), "
        f"{device.bandwidth / 1e9:.0f} GB/s ({BANDWIDTH_EFFICIENCY:.0%} of 320), "
        f"{device.op_seconds * 1e6:.1f} µs per kernel (this host's time per operation plus "
        f"{LAUNCH_SECONDS * 1e6:.0f} µs to launch it), {T4_MEMORY / GIB:.0f} GiB usable.",
        "",
        "A lab's T4 time is its `gpu` ledger (each step: FLOPs at the achieved rate, plus kernels "
        "times the time per kernel, plus element-wise bytes over the bandwidth; host work at this "
        "machine's rates), plus what its `cpu` ledger leaves out of the measured `cpu` run "
        f"(plots, checks, fits, data generation, kernel start), plus {COLAB_SETUP_SECONDS:.0f} s of "
        "Colab set-up (install, import, CUDA context) and the data set's download. Peak memory is "
        "the largest step's: its resident tensors (weights, optimizer state, data on the device) "
        "plus the most its own tensors held at once; the CUDA context adds about 0.3-0.5 GiB.",
        "",
        "The validation's `ledger / measured` is below 1 where a lab does work no ledger counts "
        "(fits, plots, data generation, kernel start: about 5 s) and because the measured runs "
        "shared two cores with a book build (wall time), while the rates here are CPU time; it is "
        "above 1 where a ledger counts an upper bound or one core for two (Lab 3: its runs to "
        "`memo_max_epochs`, and its `cpu` width sweep, which trains on two cores, `dd_workers=2`). "
        "Per step the model holds: one "
        "training step of Lab 2's byte LM, predicted 18.6 and 36.1 ms at d = 32 and 64, took 20.5 "
        "and 39.7 ms of CPU time here; at d = 8, where per-operation overhead is everything, "
        "9.6 against 16.3 ms (2026-12-07).",
        "",
        "What the ledgers assume: Lab 3's memorization runs go to `memo_max_epochs` (they stop "
        "once the training loss is under 0.05, so this is an upper bound: the cpu run stopped "
        "after 24-32 of 150 epochs); Lab 8's chosen models are counted at the compute-optimal "
        "width for 20 samples per parameter and half of it; torch's counter sees no FLOPs "
        "inside `pinv`/`solve` (Lab 3's random features add an SVD's 4pn² + 22n³ by hand).",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", default=list(LEDGERS), help="lab stems (default: all)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the table (default {OUT})")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the labs (configure_threads) and benchmarks/lab_times.py run
    cpu, measured = this_cpu(), measured_cpu_seconds()
    estimates = []
    for lab in args.labs:
        start = time.perf_counter()
        estimates.append(estimate(lab, cpu, measured))
        e = estimates[-1]
        print(f"{lab}: {e.gpu_flops / 1e12:.1f} TFLOP, T4 ≈ {minutes(e.t4_seconds)} min, "
              f"cpu ledger/measured {e.cpu_ledger_seconds / e.cpu_measured:.2f} "
              f"(counted in {time.perf_counter() - start:.0f} s)")  # fmt: skip
    args.out.write_text(table(estimates, cpu), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
