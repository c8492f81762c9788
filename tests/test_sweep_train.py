"""labsupport.sweep.train: a batched sweep trained at once must equal its models trained one by one."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labsupport.data import Split
from labsupport.sweep.model import MLPSweep
from labsupport.sweep.optim import BatchedAdam, BatchedSGD, lr_factors
from labsupport.sweep.train import evaluate_sweep, per_model_accuracy, per_model_loss, train_sweep
from tests.sweeps import small_sweep

ORACLES = {  # what each batched optimizer must equal, model by model
    "adam": lambda params, lr, weight_decay: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay),
    "sgd": lambda params, lr, weight_decay: torch.optim.SGD(
        params, lr=lr, momentum=0.9, weight_decay=weight_decay
    ),
}


def _train_members_one_by_one(members, data, steps, batch_size, lr, weight_decay, task, seed, optimizer):
    optimizers = [ORACLES[optimizer](net.parameters(), lr, weight_decay) for net in members]
    generator = torch.Generator().manual_seed(seed)
    n = len(data.y)
    order, cursor = torch.randperm(n, generator=generator), 0
    loss_fn = nn.functional.cross_entropy if task == "classification" else nn.functional.mse_loss
    for step in range(1, max(steps) + 1):
        if cursor + batch_size > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        idx = order[cursor : cursor + batch_size]
        cursor += batch_size
        for net, opt, last in zip(members, optimizers, steps, strict=True):
            if step > last:
                continue
            loss = loss_fn(net(data.x[idx]), data.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return members


@pytest.mark.parametrize("optimizer", sorted(ORACLES))
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_training_equals_training_each_model_alone(task, optimizer):
    torch.manual_seed(0)
    x = torch.randn(60, 6)
    y = torch.randint(0, 3, (60,)) if task == "classification" else torch.randn(60, 3)
    data = Split(x, y)
    sweep = small_sweep(widths=(3, 8, 5, 200), depth=2, out=3)
    steps = [25, 10, 25, 17]  # different budgets: models stop at their own step
    members = [sweep.member(m) for m in range(sweep.num_models)]  # copies, before training
    history = train_sweep(
        sweep,
        data,
        steps=steps,
        batch_size=16,
        lr=1e-2,
        weight_decay=0.1,
        task=task,
        optimizer=optimizer,
        generator=torch.Generator().manual_seed(3),
        progress=False,
    )
    members = _train_members_one_by_one(
        members, data, steps, 16, 1e-2, 0.1, task, seed=3, optimizer=optimizer
    )
    out = sweep(x)
    for m, net in enumerate(members):
        torch.testing.assert_close(out[m], net(x), rtol=1e-4, atol=1e-5)
    assert history.train_loss.shape == (25, 4)
    assert history.model_steps == steps
    assert torch.isnan(history.train_loss[10:, 1]).all() and not torch.isnan(history.train_loss[:10]).any()
    assert len(history.final["train_loss"]) == 4


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_padding_stays_zero_during_training(optimizer, activation):
    """The hand-written backward gives the padding zero gradients (no mask); both optimizers keep it zero."""
    sweep = small_sweep(widths=(2, 9), depth=2, grouping="single", activation=activation)
    data = Split(torch.randn(40, 6), torch.randn(40, 2))
    train_sweep(
        sweep, data, steps=20, batch_size=40, lr=0.05, weight_decay=0.1, optimizer=optimizer, progress=False
    )
    w0, b0, w1, b1, w2, _ = sweep.stack_tensors(0)
    assert w0[0, :, 2:].abs().max() == 0 and b0[0, :, 2:].abs().max() == 0
    assert w1[0, 2:, :].abs().max() == 0
    assert w1[0, :, 2:].abs().max() == 0 and b1[0, :, 2:].abs().max() == 0
    assert w2[0, :, 2:].abs().max() == 0  # the output layer is stored (out, in)
    assert w1[1].abs().min() > 0  # the widest model is trained: no accidental zeros


def test_per_model_lr_zero_freezes_a_model():
    sweep = small_sweep(widths=(4, 4), depth=1, grouping="single")
    before = [list(sweep.member(m).parameters()) for m in range(2)]
    data = Split(torch.randn(30, 6), torch.randn(30, 2))
    train_sweep(sweep, data, steps=5, batch_size=30, lr=[0.0, 0.1], weight_decay=0.1, progress=False)
    for m, frozen in enumerate([True, False]):
        for p, p0 in zip(sweep.member(m).parameters(), before[m], strict=True):
            assert torch.equal(p, p0) == frozen


def test_losses_and_accuracy_match_pytorch():
    outputs = torch.randn(3, 10, 4)
    labels = torch.randint(0, 4, (10,))
    targets = torch.randn(10, 4)
    for m in range(3):
        assert per_model_loss(outputs, labels, "classification")[m].item() == pytest.approx(
            nn.functional.cross_entropy(outputs[m], labels).item(), rel=1e-6
        )
        assert per_model_loss(outputs, targets)[m].item() == pytest.approx(
            nn.functional.mse_loss(outputs[m], targets).item(), rel=1e-6
        )
        assert per_model_accuracy(outputs, labels)[m].item() == pytest.approx(
            (outputs[m].argmax(1) == labels).float().mean().item()
        )
    scalar = torch.randn(2, 5, 1)
    y = torch.randn(5)
    torch.testing.assert_close(per_model_loss(scalar, y), ((scalar[..., 0] - y) ** 2).mean(1))


def test_evaluate_sweep_matches_members():
    sweep = small_sweep(widths=(3, 11), depth=1, out=4)
    data = Split(torch.randn(50, 6), torch.randint(0, 4, (50,)))
    metrics = evaluate_sweep(sweep, data, task="classification", batch_size=16)
    for m in range(2):
        logits = sweep.member(m)(data.x)
        assert metrics["loss"][m].item() == pytest.approx(
            nn.functional.cross_entropy(logits, data.y).item(), rel=1e-5
        )
        assert metrics["accuracy"][m].item() == pytest.approx(
            (logits.argmax(1) == data.y).float().mean().item()
        )
    regression = evaluate_sweep(sweep, Split(data.x, torch.randn(50, 4)))
    assert set(regression) == {"loss"} and regression["loss"].shape == (2,)  # no accuracy for regression


def test_lr_factors_cosine_and_freeze():
    steps = torch.tensor([10, 4])
    first = lr_factors(1, steps, schedule="cosine", warmup_steps=0, min_lr_fraction=0.1)
    torch.testing.assert_close(first, torch.tensor([1.0, 1.0]))
    last = lr_factors(4, steps, schedule="cosine", warmup_steps=0, min_lr_fraction=0.1)
    # model 1's last step: progress 3/4 of its cosine
    assert last[1].item() == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.75)))
    after = lr_factors(5, steps, schedule="constant", warmup_steps=0, min_lr_fraction=0.1)
    torch.testing.assert_close(after, torch.tensor([1.0, 0.0]))
    warm = lr_factors(2, steps, schedule="constant", warmup_steps=4, min_lr_fraction=0.1)
    torch.testing.assert_close(warm, torch.tensor([0.5, 0.5]))


def test_sampler_source_is_used():
    sweep = small_sweep(widths=(5, 6), depth=1, out=1)
    calls = []

    def sample(batch_size, generator):
        calls.append(batch_size)
        x = torch.randn(batch_size, 6, generator=generator)
        return x, x.sum(1)

    history = train_sweep(
        sweep, sample, steps=7, batch_size=13, generator=torch.Generator().manual_seed(0), progress=False
    )
    assert calls == [13] * 7
    assert history.train_loss.shape == (7, 2)


def test_bad_inputs():
    sweep = MLPSweep([4, 5], 3, 2)
    data = Split(torch.randn(8, 3), torch.randn(8, 2))
    with pytest.raises(ValueError, match="task must be one of"):
        train_sweep(sweep, data, steps=1, batch_size=4, task="ranking")
    with pytest.raises(ValueError, match=r"schedule must be one of \['constant', 'cosine'\], got 'linear'"):
        train_sweep(sweep, data, steps=1, batch_size=4, schedule="linear")  # checked before the first step
    with pytest.raises(ValueError, match="steps must be one number or one per model"):
        train_sweep(sweep, data, steps=[1, 2, 3], batch_size=4)
    with pytest.raises(ValueError, match="every model needs steps >= 1"):
        train_sweep(sweep, data, steps=[0, 2], batch_size=4)
    with pytest.raises(ValueError, match="learning rates must be >= 0"):
        train_sweep(sweep, data, steps=1, batch_size=4, lr=-1.0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        train_sweep(sweep, data, steps=1, batch_size=0)
    with pytest.raises(TypeError, match="must be a labsupport Split or a sampler"):
        train_sweep(sweep, (data.x, data.y), steps=1, batch_size=4)
    with pytest.raises(ValueError, match=r"train needs inputs \(n, 3\)"):
        train_sweep(sweep, Split(torch.randn(8, 5), torch.randn(8, 2)), steps=1, batch_size=4)
    with pytest.raises(ValueError, match="classification needs integer targets"):
        per_model_loss(torch.randn(2, 8, 3), torch.randn(8), "classification")
    with pytest.raises(ValueError, match=r"regression needs targets of shape \(8, 3\)"):
        per_model_loss(torch.randn(2, 8, 3), torch.randn(8, 2))
    with pytest.raises(ValueError, match="schedule must be one of"):
        lr_factors(1, torch.tensor([3]), schedule="linear", warmup_steps=0, min_lr_fraction=0.1)
    with pytest.raises(ValueError, match="needs at least one"):
        BatchedAdam([])
    with pytest.raises(ValueError, match="at least one"):
        BatchedSGD([])
    with pytest.raises(ValueError, match="momentum"):
        BatchedSGD(small_sweep().parameters_by_model(), momentum=1.0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train_sweep(
            small_sweep(),
            Split(torch.randn(8, 6), torch.randn(8, 2)),
            steps=1,
            batch_size=4,
            optimizer="lbfgs",
        )
    with pytest.raises(TypeError, match="model must be an MLPSweep"):
        train_sweep(nn.Linear(3, 2), data, steps=1, batch_size=4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": True}, "steps must be one number or one per model"),
        ({"batch_size": True}, "batch_size must be a positive int, got True"),
        ({"warmup_steps": True}, "warmup_steps must be a non-negative int, got True"),
        ({"eval_every": True}, "eval_every must be a non-negative int, got True"),
    ],
)
def test_true_is_not_a_count(kwargs, match):
    sweep = MLPSweep([4, 5], 3, 2)
    data = Split(torch.randn(8, 3), torch.randn(8, 2))
    with pytest.raises(ValueError, match=match):
        train_sweep(sweep, data, **({"steps": 1, "batch_size": 4} | kwargs))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_two_workers_train_exactly_as_one(optimizer):
    """workers=2 splits the stacks over two threads; every number equals the one-thread run's."""
    data = Split(torch.randn(48, 6), torch.randint(0, 2, (48,)))
    runs = []
    for workers in (1, 2):
        sweep = small_sweep(widths=(3, 40, 5, 300, 8, 120), depth=2)
        assert len(sweep.layouts) > 2
        generator = torch.Generator().manual_seed(5)
        history = train_sweep(
            sweep,
            data,
            steps=[12, 7, 12, 12, 9, 5],
            batch_size=16,
            lr=[0.05, 0.02, 0.05, 0.05, 0.01, 0.05],
            task="classification",
            optimizer=optimizer,
            generator=generator,
            workers=workers,
            progress=False,
        )
        runs.append((sweep.flat.detach().clone(), history.train_loss, generator.get_state()))
    (flat1, loss1, state1), (flat2, loss2, state2) = runs
    assert torch.equal(flat1, flat2)
    assert torch.equal(loss1.nan_to_num(-1.0), loss2.nan_to_num(-1.0))
    assert torch.equal(state1, state2)  # the caller's generator ends where one worker leaves it


def test_workers_need_a_generator_and_no_evaluations():
    data = Split(torch.randn(16, 6), torch.randn(16, 2))
    sweep = small_sweep(widths=(3, 300), depth=1)
    with pytest.raises(ValueError, match="workers > 1 needs a generator"):
        train_sweep(sweep, data, steps=2, batch_size=4, workers=2, progress=False)
    with pytest.raises(ValueError, match=r"no evaluations during training \(eval_every=0\)"):
        train_sweep(
            sweep,
            data,
            steps=2,
            batch_size=4,
            workers=2,
            eval_data=data,
            eval_every=1,
            generator=torch.Generator(),
            progress=False,
        )
    with pytest.raises(ValueError, match="workers must be"):
        train_sweep(sweep, data, steps=2, batch_size=4, workers=0, progress=False)


def test_lr_factors_of_many_steps_equal_one_step_at_a_time():
    steps = torch.tensor([3, 10, 6])
    options = {"schedule": "cosine", "warmup_steps": 2, "min_lr_fraction": 0.1}
    table = lr_factors(torch.arange(1, 12), steps, **options)
    assert table.shape == (11, 3)
    for t in range(1, 12):
        torch.testing.assert_close(table[t - 1], lr_factors(t, steps, **options))


@pytest.mark.parametrize("failing", ["this thread", "the other thread"])
def test_a_failing_worker_stops_the_others_and_its_error_is_raised(failing):
    """An error (or the learner interrupting the cell) in any thread ends the whole run at once."""
    caller = torch.Generator().manual_seed(0)
    calls = {"this thread": 0, "the other thread": 0}

    def sample(batch_size, generator):
        thread = "this thread" if generator is caller else "the other thread"
        calls[thread] += 1
        if thread == failing and calls[thread] == 3:
            raise RuntimeError(f"boom in {thread}")
        return torch.randn(batch_size, 6, generator=generator), torch.randn(
            batch_size, 2, generator=generator
        )

    sweep = small_sweep(widths=(3, 300), depth=2)
    assert len(sweep.layouts) == 2
    with pytest.raises(RuntimeError, match=f"boom in {failing}"):
        train_sweep(sweep, sample, steps=100_000, batch_size=4, workers=2, generator=caller, progress=False)
    assert max(calls.values()) < 1_000, calls  # the other thread stopped too, long before the end


def test_the_gradient_exists_before_the_workers_start(monkeypatch):
    """Two threads that each found no gradient would each make one: one thread's gradients
    would land in a tensor its optimizer never reads. train_sweep makes it before they start."""
    import labsupport.sweep.train as sweep_train

    seen = []
    real = sweep_train.run_shares

    def spy(shares, run, generator):
        seen.append(sweep.flat.grad is not None)
        return real(shares, run, generator)

    monkeypatch.setattr(sweep_train, "run_shares", spy)
    sweep = small_sweep(widths=(3, 300), depth=2)
    data = Split(torch.randn(16, 6), torch.randn(16, 2))
    train_sweep(sweep, data, steps=2, batch_size=4, workers=2, generator=torch.Generator(), progress=False)
    assert seen == [True]


def test_workers_share_a_cpu_and_a_device_runs_every_stack_from_one_thread():
    """On a CPU the stacks are split, largest first; elsewhere (here the meta device) one share."""
    from labsupport.sweep.workers import share_stacks

    sweep = small_sweep(widths=(3, 40, 300, 120), depth=2)
    shares = share_stacks(sweep, 2)
    every = sorted(g for share in shares for g in share)
    assert len(shares) == 2 and every == list(range(len(sweep.layouts)))
    assert len(share_stacks(sweep, 9)) == len(sweep.layouts)  # at most one share per stack
    assert share_stacks(sweep.to("meta"), 2) == [list(range(len(sweep.layouts)))]
