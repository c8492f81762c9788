"""Ledgers of Labs 1-4: what each lab runs, from its settings, as counted workloads.

Each ``lab_*`` function takes a profile's settings and returns :class:`~tools.gpu_ledger.Workload`
rows; ``tools/gpu_labs_lm.py`` holds Labs 5-8. A ledger follows the notebook's loops (its
comments name the part) and leaves out what costs nothing next to them (checks, plots); the
estimate's validation on the ``cpu`` profile shows how much that is (``benchmarks/gpu_estimates.md``).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import torch
from torch import nn

from labsupport import Recipe, train_students
from labsupport.settings.complexity import ComplexitySettings
from labsupport.settings.distillation import DistillationSettings
from labsupport.settings.memorization import MemorizationSettings
from labsupport.settings.scaling import ScalingSettings
from labsupport.teacher import make_teacher, teacher_sampler
from tools.gpu_count import Cost, measure, per_step
from tools.gpu_ledger import (
    META,
    Workload,
    definitions,
    evaluation,
    fit_work,
    forward_work,
    sweep_evaluation,
    sweep_work,
    work,
)

#: (train, test) sizes and input shape of the data sets the gpu profile loads.
DATASETS = {"mnist": (60_000, 10_000, (1, 28, 28)), "cifar10": (50_000, 10_000, (3, 32, 32))}


def _data(name: str, mnist1d_samples: int, *, flatten: bool = True) -> tuple[int, int, tuple[int, ...]]:
    """(train, test, input shape) of ``load_classification_data(name, ...)``."""
    if name == "mnist1d":
        train = int(0.8 * mnist1d_samples)
        return train, mnist1d_samples - train, (40,)
    train, test, shape = DATASETS[name]
    return train, test, (math.prod(shape),) if flatten else shape


def _adam(**options: object) -> partial:
    return partial(torch.optim.Adam, **options)


def lab_complexity(cfg: ComplexitySettings) -> list[Workload]:
    """Lab 1: the timed forward passes and matmul (part 6), the two models trained (part 8)."""
    lab = definitions("01_complexity")
    timed = cfg.repeats + 2  # time_in_turn's warm-up
    n, b = cfg.matmul_n, cfg.batch_size
    with torch.device(META):
        a = torch.randn(n, n)
        rows = [work(f"{n}x{n} matmul", timed, lambda: a @ a, keep=(a, a, a))]
        rows.append(forward_work("MLP forward", timed, lab["MLP"](784, 256, 2, 10), torch.randn(b, 784)))
        rows.append(forward_work("CNN forward", timed, lab["SmallCNN"](16), torch.randn(b, 1, 28, 28)))
        tiny = lab["TinyTransformer"](256, cfg.seq_len, n_layers=4, d_model=256, n_heads=4)
        tokens = torch.randint(0, 256, (b, cfg.seq_len))
        rows.append(forward_work("transformer forward", timed, tiny, tokens))
        train, test, shape = _data(cfg.dataset, 5_000, flatten=False)
        x, y = torch.randn(train, *shape), torch.randint(0, 10, (train,))
        if len(shape) == 3:
            contenders = {
                "MLP": nn.Sequential(nn.Flatten(), lab["MLP"](784, 256, 2, 10)),
                "CNN": lab["SmallCNN"](16),
            }
        else:
            contenders = {"MLP": lab["MLP"](40, 256, 2, 10), "CNN": lab["SmallCNN1d"](16)}
        for name, model in contenders.items():
            rows.append(
                fit_work(f"{name} training", cfg.train_steps, model, x, y, cfg.train_batch, _adam(lr=1e-3))
            )
            rows.append(evaluation(f"{name} evaluation", 1, model, torch.randn(train + test, *shape)))
    return rows


def _isoflop_members(cfg: ScalingSettings, budget: float, d_in: int) -> tuple[list[int], list[int]]:
    """The lab's isoflop_profile: the widths a budget buys (cfg.seeds of each) and their steps."""
    widths_grid = [round(2 ** (k / 2)) for k in range(4, 18)]
    bought = {w: budget / (6 * (w * (d_in + 2) + 1) * cfg.batch_size) for w in widths_grid}
    members = [w for w, s in bought.items() if cfg.min_steps <= s <= cfg.max_steps for _ in range(cfg.seeds)]
    steps = [max(1, round(budget / (6 * (w * (d_in + 2) + 1) * cfg.batch_size))) for w in members]
    return members, steps


def lab_scaling(cfg: ScalingSettings) -> list[Workload]:
    """Lab 2: the IsoFLOP profiles (part 2), the language-model sweep and the held-out model (part 3)."""
    lab, d_in = definitions("02_scaling_laws"), 4
    sample = teacher_sampler(make_teacher(d_in, width=64, seed=0), d_in)
    rows = []
    for budget in cfg.budgets:
        members, steps = _isoflop_members(cfg, budget, d_in)
        rows += sweep_work(f"IsoFLOP C={budget:.1e}", members, d_in, 1, steps, cfg.batch_size)
        draw = partial(sample, cfg.batch_size, torch.Generator().manual_seed(0))
        rows.append(work(f"IsoFLOP C={budget:.1e}: teacher samples", max(steps), draw, host=True))
        rows.append(sweep_evaluation(f"IsoFLOP C={budget:.1e}: test loss", members, d_in, 1, 10_000))
    evals = math.ceil(cfg.lm_steps / cfg.eval_every)
    for d in (*cfg.lm_widths, cfg.held_out_width):
        with torch.device(META):
            model = lab["ByteLM"](d, cfg.n_layers, cfg.context)
            x = torch.randint(0, 256, (cfg.lm_batch * 64, cfg.context))
            windows = torch.randint(0, 256, (cfg.eval_windows, cfg.context))
        adamw = partial(torch.optim.AdamW, lr=cfg.lm_lr, betas=(0.9, 0.95), weight_decay=0.0)
        training = fit_work(
            f"byte LM d={d}: training",
            cfg.lm_steps,
            model,
            x,
            x,
            cfg.lm_batch,
            adamw,
            loss_fn=_next_byte_loss,
        )
        rows.append(training)
        rows.append(forward_work(f"byte LM d={d}: validation", evals, model, windows))
    return rows


def _next_byte_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits ``(B, T, 256)`` against bytes ``(B, T)``."""
    return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())


def _random_features(cfg: MemorizationSettings) -> Workload:
    """Parts 2 and 4 in double precision: features and the minimum-norm fit at every p, four
    times over (by hand, ``feature_sweep``, the noise and ridge sweeps near n, the robustness
    probes). Torch's counter does not see inside ``pinv``/``solve``: an SVD of an n x p matrix
    is counted as 4 p n^2 + 22 n^3 FLOPs (Golub and Van Loan's R-SVD)."""
    n, d = cfg.rf_samples, cfg.rf_dim
    grid = np.geomspace(max(2, n // 20), cfg.rf_max_features, cfg.rf_points).astype(int)
    per_p = sorted(set(grid.tolist()) | {n})
    points = n + 1_000 + 500  # training, test and probe inputs
    flops = sum(2 * points * d * p + 4 * p * n * n + 22 * n**3 for p in per_p)
    cost = Cost(
        flops=4.0 * flops, ops=4.0 * 40 * len(per_p), traffic=4.0 * sum(8 * points * p * 3 for p in per_p)
    )
    return Workload(
        "random features, every p", 1, cost, resident=8.0 * points * cfg.rf_max_features, fp64=True
    )


def lab_memorization(cfg: MemorizationSettings) -> list[Workload]:
    """Lab 3: memorization runs (part 1), random features (2, 4), the width sweep (3), the sines (5)."""
    lab = definitions("03_memorization")
    _, test, (d_in,) = _data(cfg.memo_dataset, cfg.mnist1d_samples)
    runs = cfg.memo_seeds * 3 + len(cfg.fractions)
    batches = math.ceil(cfg.memo_samples / 100)
    with torch.device(META):
        model = lab["MLP"](d_in, cfg.memo_width, 10)
        x, y = torch.randn(cfg.memo_samples, d_in), torch.randint(0, 10, (cfg.memo_samples,))
        sgd = partial(torch.optim.SGD, lr=cfg.memo_lr, momentum=0.9)
        # at most memo_max_epochs: a run stops once its training loss is below 0.05
        steps = runs * cfg.memo_max_epochs * batches
        rows = [fit_work("memorization runs (SGD, batch 100)", steps, model, x, y, 100, sgd)]
        rows.append(forward_work("memorization: loss after each epoch", runs * cfg.memo_max_epochs, model, x))
        rows.append(forward_work("memorization: test accuracy", runs, model, torch.randn(test, d_in)))
    rows.append(_random_features(cfg))
    widths = list(cfg.dd_widths) * cfg.dd_repeats
    dd_steps = cfg.dd_epochs * cfg.dd_samples // 100
    options = dict(task="classification", optimizer="sgd", depth=2)
    rows += sweep_work("width sweep", widths, 40, 10, [dd_steps] * len(widths), 100, **options)
    rows.append(sweep_evaluation("width sweep: evaluation", widths, 40, 10, cfg.mnist1d_samples, depth=2))
    for what, models in (
        ("sines", len(cfg.noise_levels) * cfg.sine_repeats),
        ("sines: control", cfg.control_runs),
    ):
        rows.append(_sines(lab, what, models, cfg.sine_steps))
    return rows


def _sines(lab: dict, what: str, models: int, steps: int) -> Workload:
    """Part 5: the lab's ``fit_sines`` (full-batch Adam on 64 points), counted at one and two steps."""
    x = torch.linspace(-1, 1, 64)[:, None]
    y = torch.sin(math.pi * x).expand(models, -1, -1)
    cost = per_step(lambda n: lab["fit_sines"](x, y, n, torch.Generator().manual_seed(0)))
    return Workload(what, steps, cost, resident=4.0 * models * (64 * 64 + 3 * 64 + 1) * 4)


def lab_distillation(cfg: DistillationSettings) -> list[Workload]:
    """Lab 4: the teachers (parts 2, 5, 6), every batch of students, the code-model students (part 10)."""
    lab = definitions("04_distillation")
    train, test, (d_in,) = _data(cfg.dataset, cfg.num_samples)
    adamw = partial(torch.optim.AdamW, lr=cfg.teacher_lr, weight_decay=cfg.teacher_weight_decay)
    teachers = {f"teacher width {w}": w for w in sorted(set(cfg.teacher_widths) | {cfg.teacher_width})}
    teachers["same-data teacher"] = cfg.teacher_width
    rows = []
    with torch.device(META):
        x, y, x_all = (
            torch.randn(train, d_in),
            torch.randint(0, 10, (train,)),
            torch.randn(train + test, d_in),
        )
        for name, w in teachers.items():
            teacher = lab["Teacher"](d_in, w, cfg.teacher_dropout)
            rows.append(fit_work(name, cfg.teacher_steps, teacher, x, y, cfg.batch_size, adamw))
            rows.append(forward_work(f"{name}: logits and test error", 1, teacher, x_all))
    s, sweep = cfg.seeds, cfg.sweep_seeds
    # the loop written in the lab; hard labels and distilled; the other teachers' students; the
    # same-data teacher's, the argmax and the soft-target students; the sweeps
    calls = [1, s, s] + [s] * (len(teachers) - 2) + [s, s, s]
    calls += [len(cfg.temperatures) * sweep, len(cfg.alphas) * sweep]
    calls += [len(cfg.transfer_sizes) * sweep] * 2 + [2 * sweep]
    x_cpu = torch.randn(train, d_in)
    logits, labels = torch.randn(train, 10), torch.randint(0, 10, (train,))
    for students in sorted(set(calls)):
        recipes = [Recipe(i, torch.arange(cfg.labelled), cfg.temperature, cfg.alpha) for i in range(students)]

        def run(steps: int, recipes: list = recipes) -> object:
            make = partial(lab["Student"], d_in, cfg.student_width)
            return train_students(
                make, recipes, x_cpu, labels, logits, steps=steps, batch_size=cfg.batch_size
            )

        count = calls.count(students)
        steps = count * cfg.student_steps + 200 * (students == 1)  # + the library's 100-step check
        rows.append(Workload(f"{students} students at once, {count} times", steps, per_step(run)))
        with torch.device(META):
            student, x_test = lab["Student"](d_in, cfg.student_width), torch.randn(test, d_in)
            rows.append(evaluation(f"{students} students: test error", count * students, student, x_test))
    rows += _code_model_students(cfg, lab)
    return rows


def _code_model_students(cfg: DistillationSettings, lab: dict) -> list[Workload]:
    """Part 10: two byte-level students, one distilled from the course model (its forward every step)."""
    from labsupport.lm.model import ByteLM, load_course_model
    from labsupport.lm.train import train_lm

    teacher = load_course_model("cpu")
    context = teacher.config.context
    corpus = torch.randint(0, 256, (cfg.lm_student_bytes,), dtype=torch.uint8)
    loss = partial(lab["lm_distillation_loss"], teacher=teacher, T=cfg.lm_temperature, alpha=cfg.lm_alpha)
    rows = []
    for name, loss_fn in (("bytes only", None), ("distilled", loss)):
        student = ByteLM(cfg.lm_student_width, cfg.lm_student_layers, context)
        options = dict(batch_size=cfg.lm_batch, context=context, lr=cfg.lm_lr, seed=0)
        options |= {"loss_fn": loss_fn} if loss_fn else {}
        cost = per_step(lambda n, s=student, o=options: train_lm(s, corpus, steps=n, **o))
        rows.append(Workload(f"code-model student, {name}", cfg.lm_steps, cost))
    windows = torch.randint(0, 256, (cfg.lm_eval_windows, context))
    rows.append(
        Workload("bits per byte of the teacher and the students", 3, measure(lambda: teacher(windows)))
    )
    return rows
