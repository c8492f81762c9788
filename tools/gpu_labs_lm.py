"""Ledgers of Labs 5-8 (see ``tools/gpu_labs.py`` for Labs 1-4 and what a ledger is).

These labs read values as they go (routing, sampling, decoding), so most of their steps are
counted on the CPU with the course's own functions; the course model and its drafts load from
``labsupport/weights``.
"""

from __future__ import annotations

import copy
import math
from functools import partial

import torch

from labsupport import (
    evaluate_moe,
    fit,
    make_regime_task,
    matched_dense_width,
    moe_mlp_cost,
    mse_with_balance,
)
from labsupport.lm.model import bits_per_byte, load_course_model
from labsupport.lm.serve import generate
from labsupport.lm.speculative import sequence_test, speculative_generate
from labsupport.lm.train import train_lm
from labsupport.rightsize import Grid, Run, bootstrap_laws
from labsupport.settings.capstone import CapstoneSettings
from labsupport.settings.deployment import DeploymentSettings
from labsupport.settings.moe import MoESettings
from labsupport.settings.serving import ServingSettings
from labsupport.teacher import make_teacher, teacher_sampler
from tools.gpu_count import Cost, measure, per_step, tensor_bytes
from tools.gpu_ledger import (
    META,
    Workload,
    definitions,
    evaluation,
    fit_work,
    forward_work,
    host_timed,
    sweep_evaluation,
    sweep_work,
    widen,
    work,
)


def lab_moe(cfg: MoESettings) -> list[Workload]:
    """Lab 5: three models and the balance sweep trained, capacity evaluations, timings, batches."""
    lab = definitions("05_mixture_of_experts")
    task = make_regime_task(cfg.num_train, cfg.num_test)
    d_in = task.train.x.shape[1]
    cost = moe_mlp_cost(d_in, cfg.expert_width, 1, cfg.num_experts, cfg.k)
    moe = lab["MoELayer"](d_in, cfg.expert_width, 1, cfg.num_experts, cfg.k)
    models = {
        "MoE": moe,
        "dense, equal FLOPs": lab["DenseMLP"](d_in, matched_dense_width(cost.flops_per_token, d_in, 1), 1),
        "dense, equal parameters": lab["DenseMLP"](
            d_in, lab["param_matched_width"](cost.total_params, d_in, 1), 1
        ),
    }
    hyper = dict(batch_size=cfg.batch_size, lr=cfg.lr, device="cpu")
    rows = []
    for name, model in models.items():
        alpha = cfg.alpha if name == "MoE" else 0.0

        def run(n: int, model: torch.nn.Module = model, alpha: float = alpha) -> object:
            return lab["train"](model, task.train, alpha=alpha, steps=n, generator=torch.Generator(), **hyper)

        rows.append(Workload(f"{name}: training", cfg.steps, per_step(run)))

    def sweep_run(n: int) -> object:
        opt = torch.optim.Adam(moe.parameters(), lr=cfg.lr)
        options = dict(
            batch_size=cfg.batch_size, optimizer=opt, loss_fn=mse_with_balance(cfg.alpha), progress=False
        )
        return fit(copy.deepcopy(moe), task.train, steps=n, **options)

    rows.append(Workload("balance-loss sweep", len(cfg.alphas) * cfg.steps, per_step(sweep_run)))
    evaluations = 2 * len(cfg.capacity_factors) + 2 + 3 + len(cfg.alphas) + 10  # + the bisection's
    check = partial(evaluate_moe, moe, task.test, batch_size=cfg.batch_size, capacity_factor=1.0)
    rows.append(work("test MSE (with capacity)", evaluations, check))
    x_time = task.test.x[torch.randint(len(task.test), (cfg.timing_tokens,))]
    timed = cfg.repeats + 2
    for name, model in models.items():
        rows.append(
            forward_work(f"{name}: timed forward", timed * (3 if name == "MoE" else 1), model, x_time)
        )
    chosen = moe.route(task.test.x)[2].detach()
    for b in cfg.decode_batches:  # part 8 samples on the CPU, on every machine
        draw = partial(lab["experts_touched"], chosen, b, 10, torch.Generator().manual_seed(0))
        rows.append(work(f"batches of {b}: experts read", 2 * cfg.decode_samples / 10, draw, host=True))
    return rows


def lab_deployment(cfg: DeploymentSettings) -> list[Workload]:
    """Lab 6: the MLP (quantized, pruned, fine-tuned) and the course model (quantized, narrowed)."""
    lab = definitions("06_efficient_deployment")
    train = int(0.8 * cfg.num_samples)
    test = cfg.num_samples - train
    with torch.device(META):
        model = lab["MLP"](cfg.width)
        x, y, x_test = torch.randn(train, 40), torch.randint(0, 10, (train,)), torch.randn(test, 40)
        adamw = partial(torch.optim.AdamW, lr=cfg.lr, weight_decay=cfg.weight_decay)
        rows = [fit_work("the original MLP", cfg.steps, model, x, y, cfg.batch_size, adamw)]
        masked = lab["with_masks"](
            model, [torch.ones_like(m.weight) for m in model.net if hasattr(m, "weight")]
        )
        runs = cfg.ticket_seeds * (1 + 3 * len(cfg.sparsities))
        rows.append(
            fit_work(
                "pruning: dense and masked networks",
                runs * cfg.prune_steps,
                masked,
                x,
                y,
                cfg.batch_size,
                adamw,
            )
        )
        fits = {"full, last layer, from scratch": (model, 3 * cfg.seeds)}
        fits |= {
            f"LoRA rank {r}": (lab["with_lora"](model, r), cfg.seeds + (r == cfg.lora_rank))
            for r in cfg.ranks
        }
        adam = partial(torch.optim.Adam, lr=cfg.ft_lr)
        x_few, y_few = x[: cfg.ft_examples], y[: cfg.ft_examples]
        for name, (tuned, count) in fits.items():
            rows.append(
                fit_work(
                    f"fine-tuning: {name}", count * cfg.ft_steps, tuned, x_few, y_few, cfg.batch_size, adam
                )
            )
        tests = 25 + len(cfg.sparsities) * (1 + 5 * cfg.ticket_seeds) + 2 * sum(c for _, c in fits.values())
        rows.append(evaluation("test accuracy of every variant", tests, model, x_test))
        rows.append(forward_work("timed forward passes", 2 * (cfg.repeats + 3), model, x_test))
    rows += _narrowing(cfg, lab)
    return rows


def _narrowing(cfg: DeploymentSettings, lab: dict) -> list[Workload]:
    """Lab 6's course-model parts: bits per byte of the quantized copies (part 4) and the narrowing
    runs, LoRA and full fine-tuning at two learning rates each, measured as they go (part 7)."""
    course = load_course_model("cpu")
    context = course.config.context
    windows = torch.randint(0, 256, (cfg.lm_eval_windows, context + 1))
    bpb = measure(lambda: bits_per_byte(course, windows[:, :-1], windows[:, 1:]))
    evals = math.ceil(cfg.lm_ft_steps / cfg.lm_eval_every)
    corpus = torch.randint(0, 256, (200_000,), dtype=torch.uint8)
    rows = [Workload("course model: bits per byte", 10 + 2 + 4 * 2 * evals, bpb)]
    for name, make in (
        ("LoRA", partial(lab["lora_everywhere"], course, cfg.lm_rank)),
        ("full", partial(copy.deepcopy, course)),
    ):
        model = make()
        options = dict(batch_size=cfg.lm_ft_batch, context=context, lr=1e-3, seed=0)
        cost = per_step(lambda n, m=model, o=options: train_lm(m, corpus, steps=n, **o))
        rows.append(Workload(f"narrowing, {name}", 2 * cfg.lm_ft_steps, cost))
    return rows


def lab_serving(cfg: ServingSettings) -> list[Workload]:
    """Lab 7: decoding with and without the cache, batches, speculative decoding, the chain test."""
    lab = definitions("07_serving")
    model = load_course_model("cpu")
    drafts = {name: load_course_model("cpu", name=f"draft_{name}") for name in ("student", "bigram")}
    prompts = torch.randint(0, 256, (cfg.prompts, cfg.prompt_bytes))
    weights = float(tensor_bytes(model, *drafts.values()))

    def decoding(
        what: str, repeat: float, prompts: torch.Tensor, new_bytes: int, **options: object
    ) -> Workload:
        return Workload(
            what, repeat, measure(partial(generate, model, prompts, new_bytes, **options)), weights
        )

    rows = [
        decoding("decoding with the cache", cfg.repeats + 2, prompts, cfg.new_bytes),
        decoding("decoding without the cache", cfg.repeats + 1, prompts, cfg.new_bytes, use_cache=False),
        decoding("the loops written in the lab", 3, prompts, cfg.page_new_bytes),
        decoding("steps of each model", cfg.repeats * 3, prompts[:1], cfg.new_bytes),
    ]
    for b in cfg.batch_sizes:
        rows.append(
            decoding(
                f"batch of {b}", cfg.repeats, prompts[torch.arange(b) % len(prompts)], cfg.batch_new_bytes
            )
        )
    # counted on the first 24 bytes and scaled; between the shortest and the longest draft,
    # interpolated (a round's cost grows in steps of one draft pass per drafted byte)
    short = min(24, cfg.new_bytes)
    scale, runs = cfg.new_bytes / short, cfg.draft_repeats * cfg.prompts

    def speculative(draft: str, k: int) -> Cost:
        model_draft = drafts.get(draft, drafts["bigram"])
        return measure(partial(speculative_generate, model, model_draft, prompts[0], short, k))

    rows.append(Workload("speculative, alone", runs, speculative("alone", 0) * scale))
    lo, hi = min(cfg.draft_lengths), max(cfg.draft_lengths)
    for name in drafts:
        ends = speculative(name, lo), speculative(name, hi)
        for k in cfg.draft_lengths:
            t = (k - lo) / (hi - lo) if hi > lo else 0.0
            cost = ends[0] * (1 - t) + ends[1] * t
            rows.append(Workload(f"speculative, {name} k={k}", runs, cost * scale))
    sampled = partial(
        speculative_generate, model, drafts["bigram"], prompts[0], short, 2, temperature=cfg.temperature
    )
    rows.append(Workload("speculative sampling", cfg.prompts, measure(sampled) * scale))
    chains = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]])
    for rule in ("verify", "keep_everything"):  # the chi-square test runs on the CPU
        test = partial(sequence_test, chains, chains.flip(0), k=2, new_tokens=3, trials=200, verify=lab[rule])
        rows.append(work(f"chain test, {rule}", cfg.chain_trials / 200, test, host=True))
    return rows


def lab_capstone(cfg: CapstoneSettings) -> list[Workload]:
    """Lab 8: the grid, the bootstrap, the two chosen models and their quantized copies, the verifier."""
    d_in = 4
    sample = teacher_sampler(make_teacher(d_in, width=64, seed=0), d_in)
    members = [(w, s) for w in cfg.widths for s in cfg.grid_steps]
    widths, steps = [w for w, _ in members], [s for _, s in members]
    rows = sweep_work("grid", widths, d_in, 1, steps, cfg.batch_size)
    draw = partial(sample, cfg.batch_size, torch.Generator().manual_seed(0))
    rows.append(work("grid: teacher samples", max(steps), draw, host=True))
    rows.append(sweep_evaluation("grid: test loss", widths, d_in, 1, 10_000))
    # a grid shaped like the lab's: losses from a law of Chinchilla's form, 2% noise
    noise = torch.Generator().manual_seed(0)
    runs = []
    for w, s in members:
        n, d = w * (d_in + 2) + 1, s * cfg.batch_size
        loss = (0.02 + 3 / n**0.6 + 40 / d**0.5) * (1 + 0.02 * torch.randn((), generator=noise).item())
        runs.append(Run(w, n, d, loss))
    grid = Grid(runs)
    rows.append(
        host_timed(
            "bootstrap refits (SciPy's L-BFGS)", cfg.bootstrap, lambda n: bootstrap_laws(grid, samples=n)
        )
    )
    if hasattr(cfg, "transfer_widths"):  # part 2b: a learning-rate grid per parametrization
        grid_models = [
            w for w in cfg.transfer_widths for _ in cfg.transfer_lrs for _ in range(cfg.transfer_seeds)
        ]
        for name in ("SP", "muP"):
            what = f"learning-rate grid, {name}"
            options = dict(depth=cfg.transfer_depth)
            rows += sweep_work(
                what, grid_models, d_in, 1, [cfg.transfer_steps] * len(grid_models), cfg.batch_size, **options
            )
    # the chosen sizes depend on the fitted law: counted as the compute-optimal width at 20
    # samples per parameter, trained on the whole budget, and a model of half its width
    n_opt = math.sqrt(cfg.budget / 120)
    w_opt = min(cfg.widths, key=lambda w: abs(math.log((w * (d_in + 2) + 1) / n_opt)))
    chosen = [
        (w, max(1, round(cfg.budget / (6 * (w * (d_in + 2) + 1) * cfg.batch_size))))
        for w in (w_opt, w_opt // 2)
    ]
    for w, s in chosen:
        rows += sweep_work(f"chosen width {w}", [w], d_in, 1, [s], cfg.batch_size)
        with torch.device(META):
            member = torch.nn.Sequential(torch.nn.Linear(d_in, w), torch.nn.ReLU(), torch.nn.Linear(w, 1))
            rows.append(
                forward_work(f"chosen width {w}: served", 6, member, torch.randn(cfg.serve_batch, d_in))
            )
        copies = [w] * cfg.quant_seeds
        rows += sweep_work(
            f"{cfg.quant_seeds} copies of width {w}", copies, d_in, 1, [s] * len(copies), cfg.batch_size
        )
    rows += _verifier(cfg)
    return rows


def _verifier(cfg: CapstoneSettings) -> list[Workload]:
    """Part 6: every task's line completed k_max times by the student and by the course model, once
    greedily; counted on 256 rows and widened to all of them."""
    prompt_bytes, rows = 64, []
    for name, samples in (
        ("draft_student", max(cfg.samples)),
        ("course_model", max(cfg.samples)),
        ("course_model", 1),
    ):
        model = load_course_model("cpu", name=name)
        total = cfg.tasks * samples
        batch = min(total, 256)
        prompts = torch.randint(0, 256, (batch, prompt_bytes))
        cost = measure(
            partial(
                generate, model, prompts, cfg.new_bytes, temperature=cfg.temperature if samples > 1 else 0.0
            )
        )
        rows.append(Workload(f"verifier: {name}, {samples} samples per task", 1, widen(cost, total / batch)))
    return rows
