"""Lab 6 (efficient deployment): the sizes of its model, fine-tuning, pruning and code-model runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class DeploymentSettings(LabSettings):
    """Sizes of Lab 6's experiments (MNIST-1D's MLP in parts 1-3, 5, 6; the code model in 4, 7)."""

    num_samples: setting(int, "MNIST-1D signals generated (80% train, 20% test)")
    width: setting(int, "hidden units in each of the MLP's two hidden layers")
    steps: setting(int, "training steps of the original model")
    lr: setting(float, "AdamW's learning rate for the original model")
    weight_decay: setting(float, "AdamW's weight decay for the original model")
    batch_size: setting(int, "signals per training step")
    group_size: setting(int, "weights per scale in group-wise quantization (divides 40 and width)")
    outlier_rows: setting(int, "hidden units made into outliers in part 3")
    outlier_factor: setting(float, "how much larger the outliers' weights become")
    ft_examples: setting(int, "labelled examples of the new task (part 6)")
    ft_shift: setting(int, "the new task: every signal rolled this many steps")
    ft_steps: setting(int, "fine-tuning steps, the same for every method")
    ft_lr: setting(float, "fine-tuning learning rate, the same for every method")
    lora_rank: setting(int, "rank of the main LoRA comparison")
    ranks: setting(tuple, "the ranks of the rank sweep")
    seeds: setting(int, "fine-tuning runs per method (the median is reported)")
    repeats: setting(int, "timing repeats; the median is reported")
    sparsities: setting(tuple, "part 5: shares of the weights removed")
    prune_steps: setting(int, "part 5: training steps of each pruned network and of the dense one")
    ticket_seeds: setting(int, "part 5: seeds of the dense network, its masks and the controls")
    lm_eval_windows: setting(int, "code model: validation windows for bits per byte")
    lm_group_size: setting(int, "code model: weights per scale (divides its 48 and 192 columns)")
    lm_rank: setting(int, "code model: LoRA rank for narrowing (part 7)")
    lm_ft_steps: setting(int, "code model: narrowing steps, the same for LoRA and full fine-tuning")
    lm_ft_batch: setting(int, "code model: windows per narrowing step")
    lm_lora_lrs: setting(tuple, "code model: LoRA's learning rates (the table shows the first)")
    lm_full_lrs: setting(tuple, "code model: full fine-tuning's learning rates (likewise)")
    lm_eval_every: setting(int, "code model: narrowing steps between measurements of both losses")

    @classmethod
    def profiles(cls) -> dict[str, DeploymentSettings]:
        cpu = cls(
            num_samples=10_000,
            width=256,
            steps=2_000,
            lr=2e-3,
            weight_decay=0.01,
            batch_size=128,
            group_size=8,
            outlier_rows=4,
            outlier_factor=200.0,
            ft_examples=1_000,
            ft_shift=13,
            ft_steps=400,
            ft_lr=3e-3,
            lora_rank=8,
            ranks=(1, 2, 4, 8, 16, 32),
            seeds=2,
            repeats=20,
            sparsities=(0.5, 0.8, 0.9, 0.95),
            prune_steps=300,
            ticket_seeds=3,
            lm_eval_windows=128,
            lm_group_size=16,
            lm_rank=4,
            lm_ft_steps=150,
            lm_ft_batch=16,
            lm_lora_lrs=(3e-3, 1e-2),
            lm_full_lrs=(1e-3, 3e-4),
            lm_eval_every=25,
        )
        return {
            "smoke": replace(
                cpu,
                num_samples=2_500,
                width=64,
                steps=300,
                ft_steps=60,
                ranks=(1, 8),
                seeds=1,
                repeats=3,
                sparsities=(0.8,),
                prune_steps=60,
                ticket_seeds=2,
                lm_eval_windows=16,
                lm_ft_steps=10,
                lm_eval_every=5,
            ),
            "cpu": cpu,
            "gpu": replace(
                cpu,
                num_samples=50_000,
                width=1_024,
                steps=6_000,
                ft_examples=4_000,
                ft_steps=1_500,
                ranks=(1, 2, 4, 8, 16, 32, 64, 128),
                seeds=5,
                sparsities=(0.5, 0.8, 0.9, 0.95, 0.98),
                prune_steps=2_000,
                ticket_seeds=5,
                lm_eval_windows=512,
                lm_ft_steps=600,
                lm_eval_every=50,
            ),
        }
