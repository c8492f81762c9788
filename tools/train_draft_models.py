"""Distil the course model into Lab 7's draft models, reproducibly from a seed: ``make draft-models``.

Speculative decoding (Lab 7) needs a small model that guesses the course model's next bytes
cheaply. Both drafts are trained with Lab 4's language-model recipe: the student matches the
teacher's next-byte distribution on every byte of random windows (``distillation_loss`` at
temperature 1 with no hard-label term), on the course model's own training corpus.

* ``draft_student``: Lab 4's student shape (d_model 16, two layers), trained for longer than
  Lab 4 can afford in its lab;
* ``draft_bigram``: d_model 64 and no blocks, so it sees only the last byte (and its position):
  far weaker, but it costs a fraction of a pass of the course model.

The weights and records go into ``labsupport/weights/`` (shipped as package data);
``--profile smoke`` trains tiny ones on the same code path, for the tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from labsupport import configure_threads, eval_windows
from labsupport.cache import sha256_of
from labsupport.checkpoints import write_checkpoint_file
from labsupport.distill import distillation_loss
from labsupport.lm.model import (
    DRAFT_MODELS,
    ByteLM,
    bits_per_byte,
    course_corpus,
    load_course_model,
    weights_dir,
)
from labsupport.lm.train import train_lm


@dataclass(frozen=True)
class DraftConfig:
    """Everything that determines one draft's weights (recorded beside them)."""

    d_model: int
    n_layers: int
    steps: int
    batch_size: int
    lr: float
    seed: int
    temperature: float  # of the distillation loss
    alpha: float  # weight of the hard-label term
    eval_windows: int


FULL = {
    "draft_student": DraftConfig(16, 2, 3000, 32, 1e-2, 0, 1.0, 0.0, 512),
    "draft_bigram": DraftConfig(64, 0, 1500, 32, 1e-2, 0, 1.0, 0.0, 512),
}
SMOKE = {
    name: dataclasses.replace(cfg, steps=20, batch_size=4, eval_windows=16) for name, cfg in FULL.items()
}
PROFILES = {"full": FULL, "smoke": SMOKE}


def soft_target_loss(
    student: nn.Module, x: torch.Tensor, y: torch.Tensor, *, teacher: nn.Module, cfg: DraftConfig
):
    """Lab 4's language-model distillation loss, with the reference ``distillation_loss``."""
    with torch.no_grad():
        teacher_logits = teacher(x)
    return distillation_loss(
        student(x).flatten(0, 1), teacher_logits.flatten(0, 1), y.flatten(),
        temperature=cfg.temperature, alpha=cfg.alpha,
    )  # fmt: skip


def train_draft(name: str, cfg: DraftConfig, out: Path) -> dict:
    """Distil draft ``name`` from the course model, write its weights and record to ``out``."""
    teacher = load_course_model()
    context = teacher.config.context
    corpus = course_corpus()
    torch.manual_seed(cfg.seed)
    model = ByteLM(cfg.d_model, cfg.n_layers, context)
    history = train_lm(
        model, corpus.train, steps=cfg.steps, batch_size=cfg.batch_size, context=context, lr=cfg.lr,
        seed=cfg.seed, loss_fn=partial(soft_target_loss, teacher=teacher, cfg=cfg),
        log_every=max(1, cfg.steps // 5),
    )  # fmt: skip
    val_x, val_y = eval_windows(corpus.val, context, max_windows=cfg.eval_windows)
    config = dataclasses.asdict(cfg)
    path = write_checkpoint_file(out / f"{name}.pt", model, config)
    record = {
        "model": {"d_model": cfg.d_model, "n_layers": cfg.n_layers, "context": context},
        "training": config,
        "what": DRAFT_MODELS[name],
        "teacher": "course_model",
        "parameters": sum(p.numel() for p in model.parameters()),
        "val_bits_per_byte": bits_per_byte(model, val_x, val_y),
        "seconds": round(history.seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "corpus": corpus.source,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "file_bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("parameters", "val_bits_per_byte", "seconds")}))
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--only", choices=sorted(DRAFT_MODELS), help="train one draft (default: both)")
    parser.add_argument("--out", type=Path, help="output folder (default: labsupport/weights for full)")
    args = parser.parse_args(argv)
    if args.out is None and args.profile != "full":
        parser.error("--out is required with --profile smoke (the shipped weights are the full run's)")
    out = args.out or weights_dir()
    out.mkdir(parents=True, exist_ok=True)
    configure_threads()
    start = time.perf_counter()
    for name, cfg in PROFILES[args.profile].items():
        if args.only in (None, name):
            train_draft(name, cfg, out)
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
