"""Lab 1 (counting what makes a network big): the sizes of its timing and training runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class ComplexitySettings(LabSettings):
    """Sizes of Lab 1's timing experiments (part 6) and of its training run (part 8)."""

    batch_size: setting(int, "sequences or images per timed forward pass")
    seq_len: setting(int, "tokens per sequence in the timed transformer")
    matmul_n: setting(int, "side of the square matmul that measures the machine's peak")
    repeats: setting(int, "timing repeats; the median is reported")
    dataset: setting(str, 'part 8: "mnist1d", or "mnist" (downloaded when online)')
    train_steps: setting(int, "Adam steps for each of part 8's two models")
    train_batch: setting(int, "examples per training step")

    @classmethod
    def profiles(cls) -> dict[str, ComplexitySettings]:
        cpu = cls(
            batch_size=32,
            seq_len=128,
            matmul_n=1024,
            repeats=7,
            dataset="mnist1d",
            train_steps=3_000,
            train_batch=128,
        )
        return {
            "smoke": replace(cpu, batch_size=4, seq_len=32, matmul_n=256, repeats=3, train_steps=200),
            "cpu": cpu,
            # 3,000 steps of 256: 13 passes over MNIST's 60,000 digits
            "gpu": replace(
                cpu, batch_size=256, seq_len=256, matmul_n=8192, repeats=20, dataset="mnist", train_batch=256
            ),
        }
