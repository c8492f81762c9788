"""Lab 5 (mixture of experts): the sizes of its data, training runs and timings."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class MoESettings(LabSettings):
    """Sizes of Lab 5's experiments; the layer's shape is the same in every profile."""

    num_train: setting(int, "training inputs of the mixture-of-regimes task")
    num_test: setting(int, "held-out inputs")
    steps: setting(int, "optimizer steps of every training run")
    alphas: setting(tuple, "balance-loss weights of part 4's sweep (must hold 0 and `alpha`)")
    timing_tokens: setting(int, "inputs per timed forward pass (part 7)")
    repeats: setting(int, "timing repeats; the median is reported")
    num_experts: setting(int, "experts in the MoE layer")
    k: setting(int, "experts each input is sent to (top-k)")
    expert_width: setting(int, "hidden units of one expert")
    batch_size: setting(int, "inputs per training step and per evaluation batch")
    lr: setting(float, "Adam's learning rate")
    alpha: setting(float, "balance-loss weight of the main run")
    capacity_factors: setting(tuple, "capacity factors of part 5")
    decode_batches: setting(tuple, "batch sizes of part 8 (which experts a batch reads)")
    decode_samples: setting(int, "random batches per batch size in part 8")

    @classmethod
    def profiles(cls) -> dict[str, MoESettings]:
        cpu = cls(
            num_train=16384,
            num_test=4096,
            steps=1500,
            alphas=(0.0, 0.01, 0.1, 1.0),
            timing_tokens=4096,
            repeats=7,
            num_experts=8,
            k=1,
            expert_width=8,
            batch_size=256,
            lr=1e-2,
            alpha=0.1,
            capacity_factors=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
            decode_batches=(1, 2, 4, 8, 16, 32, 64, 256),
            decode_samples=200,
        )
        return {
            "smoke": replace(
                cpu, num_train=2048, num_test=1024, steps=60, alphas=(0.0, 0.1), timing_tokens=1024, repeats=3
            ),
            "cpu": cpu,
            "gpu": replace(cpu, num_train=65536, num_test=16384, steps=4000, timing_tokens=65536, repeats=20),
        }
