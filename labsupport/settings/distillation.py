"""Lab 4 (distillation): the sizes of its teacher, its students and its language-model part."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class DistillationSettings(LabSettings):
    """Sizes of Lab 4's experiments: parts 1-9 on MNIST-1D (MNIST in ``gpu``), part 10 on the
    course's code model."""

    dataset: setting(str, '"mnist1d", or Hinton et al.\'s "mnist" (downloaded when online)')
    num_samples: setting(int, "MNIST-1D signals generated (80% train, 20% test)")
    teacher_examples: setting(int, "labelled training signals the teacher learns from")
    labelled: setting(int, "labelled signals the student gets (the first of the teacher's)")
    validation: setting(int, "labelled signals no model trains on, held out to choose T")
    teacher_width: setting(int, "hidden units in each of the teacher's two hidden layers")
    teacher_dropout: setting(float, "the teacher's dropout, after each hidden layer")
    teacher_weight_decay: setting(float, "the teacher's AdamW weight decay")
    teacher_lr: setting(float, "the teacher's learning rate")
    teacher_steps: setting(int, "the teacher's training steps")
    teacher_widths: setting(tuple, "Exercise 2: the teachers' widths on offer (teacher_width among them)")
    student_width: setting(int, "hidden units in the student's single hidden layer")
    student_steps: setting(int, "training steps, the same for every student")
    student_lr: setting(float, "the students' Adam learning rate")
    batch_size: setting(int, "examples per training step")
    temperature: setting(float, "T of the main comparison")
    alpha: setting(float, "weight of the hard labels in the main comparison")
    seeds: setting(int, "students per recipe in the main comparison")
    sweep_seeds: setting(int, "students per point in the sweeps")
    temperatures: setting(tuple, "the temperatures swept")
    alphas: setting(tuple, "the hard-label weights swept")
    transfer_sizes: setting(tuple, "inputs per student in the data-efficiency curve")
    missing_class: setting(int, "the class left out of the transfer set (Hinton et al.: 3)")
    repeats: setting(int, "timing repeats; the median is reported")
    lm_student_width: setting(int, "part 10: d_model of the byte-level student (teacher: 48)")
    lm_student_layers: setting(int, "part 10: the student's transformer blocks")
    lm_student_bytes: setting(int, "part 10: training bytes the student gets")
    lm_steps: setting(int, "part 10: training steps, the same for both students")
    lm_batch: setting(int, "part 10: windows per step")
    lm_lr: setting(float, "part 10: learning rate")
    lm_temperature: setting(float, "part 10: distillation temperature")
    lm_alpha: setting(float, "part 10: weight of the next-byte labels")
    lm_eval_windows: setting(int, "part 10: validation windows for bits per byte")

    @classmethod
    def profiles(cls) -> dict[str, DistillationSettings]:
        cpu = cls(
            dataset="mnist1d",
            num_samples=12_500,
            teacher_examples=6_000,
            labelled=1_000,
            validation=1_000,
            teacher_width=512,
            teacher_dropout=0.3,
            teacher_weight_decay=0.05,
            teacher_lr=1e-3,
            teacher_steps=1_500,
            teacher_widths=(32, 128, 512),
            student_width=64,
            student_steps=1_000,
            student_lr=1e-2,
            batch_size=128,
            temperature=8.0,
            alpha=0.1,
            seeds=5,
            sweep_seeds=3,
            temperatures=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
            alphas=(0.0, 0.1, 0.5, 0.9, 1.0),
            transfer_sizes=(250, 500, 1_000, 2_000),
            missing_class=3,
            repeats=20,
            lm_student_width=16,
            lm_student_layers=2,
            lm_student_bytes=50_000,
            lm_steps=300,
            lm_batch=8,
            lm_lr=3e-2,
            lm_temperature=1.0,
            lm_alpha=0.0,
            lm_eval_windows=128,
        )
        return {
            "smoke": replace(
                cpu,
                num_samples=2_500,
                teacher_examples=1_500,
                labelled=300,
                validation=200,
                teacher_width=128,
                teacher_steps=150,
                teacher_widths=(32, 128),
                student_width=32,
                student_steps=100,
                seeds=2,
                sweep_seeds=1,
                temperatures=(1.0, 4.0),
                alphas=(0.0, 1.0),
                transfer_sizes=(100, 300),
                repeats=3,
                lm_steps=20,
                lm_eval_windows=16,
            ),
            "cpu": cpu,
            # MNIST: 60,000 training digits, 10,000 test
            "gpu": replace(
                cpu,
                dataset="mnist",
                num_samples=55_000,  # MNIST-1D when offline: its pool holds 16,000 + 4,000
                validation=4_000,
                teacher_examples=24_000,
                labelled=4_000,
                teacher_width=1_024,
                teacher_steps=10_000,
                teacher_widths=(64, 256, 1_024),
                student_steps=4_000,
                seeds=10,
                sweep_seeds=5,
                transfer_sizes=(1_000, 2_000, 4_000, 8_000, 16_000),
                lm_steps=2_000,
                lm_batch=16,
                lm_eval_windows=512,
            ),
        }
