"""The course's schematic diagrams, drawn by code: ``python -m tools.diagrams`` writes them.

Each entry names the SVG file (in ``chapters/diagrams/``), the function that draws it and the
chapter that shows it; the chapter's ``{figure}`` directive holds its alt text. The files are
committed, and ``tests/test_diagrams.py`` checks that the code still draws exactly them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.diagrams import (
    distillation,
    double_descent,
    finetuning,
    moe,
    precision,
    scaling,
    serving,
    transfer,
    transformer,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "chapters" / "diagrams"


@dataclass(frozen=True)
class Diagram:
    """A diagram: its file name (without ``.svg``), what draws it, and the chapter it serves."""

    name: str
    draw: Callable[[Path], None]
    chapter: str


DIAGRAMS: tuple[Diagram, ...] = (
    Diagram("block_anatomy", transformer.block_anatomy, "01_complexity"),
    Diagram("isoflop_valley", scaling.isoflop_valley, "02_scaling_laws"),
    Diagram("lr_transfer", transfer.lr_transfer, "02_scaling_laws"),
    Diagram("double_descent_regimes", double_descent.double_descent_regimes, "03_memorization"),
    Diagram("distillation_setup", distillation.distillation_setup, "04_distillation"),
    Diagram("moe_routing", moe.moe_routing, "05_mixture_of_experts"),
    Diagram("quantization_grid", precision.quantization_grid, "06_efficient_deployment"),
    Diagram("lora", finetuning.lora, "06_efficient_deployment"),
    Diagram("kv_cache", serving.kv_cache, "07_serving"),
    Diagram("speculative_round", serving.speculative_round, "07_serving"),
    Diagram("tensor_pipeline", serving.tensor_pipeline, "07_serving"),
)


def write_all(out: Path = OUT) -> list[Path]:
    """Draw every diagram into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for diagram in DIAGRAMS:
        path = out / f"{diagram.name}.svg"
        diagram.draw(path)
        paths.append(path)
    return paths
