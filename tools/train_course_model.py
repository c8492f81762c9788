"""Train the course's code model reproducibly from a seed: ``make course-model``.

The model is Lab 2's :class:`labsupport.lm.model.ByteLM`, trained on the Python standard
library's source without the ``asyncio`` package (held out for Lab 6). Its size comes from a
stated compute budget and Lab 2's scaling law (see :data:`LAB2_LAW` and :func:`sized_config`).
The full run writes the weights and their record into ``labsupport/weights/`` (shipped as
package data); ``--profile smoke`` trains a tiny model on the same code path, for the tests.

The same script runs under ``torchrun`` with DistributedDataParallel, unchanged::

    python tools/train_course_model.py                       # one process (this machine: CPU)
    torchrun --nproc_per_node 2 tools/train_course_model.py  # two processes (gloo on CPU, nccl on GPUs)

Each process draws its own windows (seeded by its rank) for its share of the global batch;
DDP averages the gradients, and rank 0 evaluates and writes the files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from labsupport import ChinchillaLaw, configure_threads, eval_windows, load_text_corpus
from labsupport.cache import sha256_of
from labsupport.checkpoints import write_checkpoint_file
from labsupport.lm.model import (
    COURSE_MODEL_FILE,
    COURSE_RECORD_FILE,
    HELD_OUT_PACKAGE,
    ByteLM,
    bits_per_byte,
    non_embedding_parameters,
    weights_dir,
)
from labsupport.lm.train import train_lm

#: The parametric law L(N, D) (bits per byte; N non-embedding parameters, D training bytes)
#: fitted by Lab 2's ``cpu`` run on this machine (2026-12-01): the sweep d_model 8-32, two
#: layers, 64-byte context. Extrapolating it 30x beyond the sweep is the point of Chapter 2,
#: and its risk.
LAB2_LAW = ChinchillaLaw(E=1.940, A=7.765, B=245.5, alpha=0.2945, beta=0.4000)
#: The stated budget: 1e13 training FLOPs (6 N D), about ten minutes on one core of this
#: machine (16 GFLOP/s at this size). The law spends it on N = 56,640 (d_model 48, two layers,
#: Lab 2's family) and D = 29 M bytes: about three passes over the corpus, which Muennighoff
#: et al. (2023) found nearly as good as fresh data. A 128-byte context (Lab 2: 64) lets it
#: see whole lines.
BUDGET_FLOPS = 1e13


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained weights (recorded beside them)."""

    d_model: int
    n_layers: int
    context: int
    steps: int
    batch_size: int  # global: split over the processes under torchrun
    lr: float
    seed: int
    corpus_bytes: int
    eval_windows: int


FULL = TrainConfig(
    d_model=48, n_layers=2, context=128, steps=7184, batch_size=32, lr=5e-3, seed=0,
    corpus_bytes=20_000_000, eval_windows=512,
)  # fmt: skip
SMOKE = dataclasses.replace(
    FULL, d_model=16, n_layers=1, context=32, steps=30, batch_size=8, corpus_bytes=300_000, eval_windows=32
)
PROFILES = {"full": FULL, "smoke": SMOKE}


def sized_config(law: ChinchillaLaw, budget: float, n_layers: int, context: int, batch: int) -> dict:
    """The width (a multiple of 16) and steps that spend ``budget`` at the law's optimal N."""
    (N_opt,), (D_opt,) = law.compute_optimal(budget)
    d = max(16, round((N_opt / (12 * n_layers)) ** 0.5 / 16) * 16)  # N ~ 12 L d^2
    N = non_embedding_parameters(ByteLM(d, n_layers, context))
    return {
        "N_opt": N_opt,
        "D_opt": D_opt,
        "d_model": d,
        "N": N,
        "steps": round(budget / (6 * N) / (batch * context)),
    }


def _distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device): from torchrun's environment, else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, local = dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def train(cfg: TrainConfig, out: Path) -> dict:
    """Train the model of ``cfg``, write its weights and record to ``out``; return the record."""
    rank, world, device = _distributed()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {world} processes")
    corpus = load_text_corpus("stdlib", max_bytes=cfg.corpus_bytes, exclude=(HELD_OUT_PACKAGE,))
    if rank == 0:
        print(f"corpus: {corpus.source}", flush=True)
    torch.manual_seed(cfg.seed)  # the same initialisation in every process
    model = ByteLM(cfg.d_model, cfg.n_layers, cfg.context).to(device)
    trained = DistributedDataParallel(model) if world > 1 else model
    history = train_lm(
        trained, corpus.train, steps=cfg.steps, batch_size=cfg.batch_size // world, context=cfg.context,
        lr=cfg.lr, seed=cfg.seed * 1000 + rank, log_every=0 if rank else max(1, cfg.steps // 10),
    )  # fmt: skip
    record: dict = {}
    last = max(1, cfg.steps // 10)  # the training loss is reported over the last tenth of the run
    if rank == 0:
        val_x, val_y = eval_windows(corpus.val, cfg.context, max_windows=cfg.eval_windows)
        config = dataclasses.asdict(cfg)
        path = write_checkpoint_file(out / COURSE_MODEL_FILE, model.cpu(), config)
        record = {
            "model": {"d_model": cfg.d_model, "n_layers": cfg.n_layers, "context": cfg.context},
            "training": config,
            "non_embedding_parameters": non_embedding_parameters(model),
            "parameters": sum(p.numel() for p in model.parameters()),
            "training_bytes": cfg.steps * cfg.batch_size * cfg.context,
            "training_flops": 6 * non_embedding_parameters(model) * cfg.steps * cfg.batch_size * cfg.context,
            "law_prediction_bits_per_byte": float(
                LAB2_LAW(non_embedding_parameters(model), cfg.steps * cfg.batch_size * cfg.context)
            ),
            "epochs": cfg.steps * cfg.batch_size * cfg.context / len(corpus.train),
            "val_bits_per_byte": bits_per_byte(model, val_x, val_y),
            "train_bits_per_byte_last_10pct": statistics.mean(history.losses[-last:]) / math.log(2),
            "seconds": round(history.seconds, 1),
            "processes": world,
            "device": device.type,
            "torch_threads": torch.get_num_threads(),
            "corpus": corpus.source,
            "held_out_package": HELD_OUT_PACKAGE,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "file_bytes": path.stat().st_size,
            "sha256": sha256_of(path),
        }
        (out / COURSE_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: record[k] for k in ("parameters", "val_bits_per_byte", "seconds")}))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--out", type=Path, help="output folder (default: labsupport/weights for full)")
    parser.add_argument("--show-sizing", action="store_true", help="print the law's sizing and exit")
    args = parser.parse_args(argv)
    if args.show_sizing:
        print(sized_config(LAB2_LAW, BUDGET_FLOPS, FULL.n_layers, FULL.context, FULL.batch_size))
        return
    if args.out is None and args.profile != "full":
        parser.error("--out is required with --profile smoke (the shipped weights are the full run's)")
    out = args.out or weights_dir()
    out.mkdir(parents=True, exist_ok=True)
    configure_threads()
    start = time.perf_counter()
    train(PROFILES[args.profile], out)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {out} in {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
