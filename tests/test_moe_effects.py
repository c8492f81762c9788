"""The effects Lab 5 shows, asserted on real small training runs of labsupport.MoELayer (Chapter 5).

One module-scoped fixture trains four models on the mixture-of-regimes task (about 10 s on
one CPU thread): a dense MLP and three MoEs from the same initial weights with balance-loss
weights alpha = 0, 0.1 (the lab's value) and 1. Thresholds were calibrated on seeds 0-5 with
these sizes (600 steps, 8,192 training inputs); the margins are given next to each assertion.
"""

import copy

import pytest
import torch

from labsupport import (
    DenseMLP,
    MoELayer,
    count_flops,
    evaluate_moe,
    fit,
    load_stats,
    make_regime_task,
    matched_dense_width,
    moe_mlp_cost,
    mse_with_balance,
    set_seed,
)

E, K, WIDTH, STEPS, BATCH = 8, 1, 8, 600, 256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    task = make_regime_task(8192, 2048)
    generator = set_seed(0)
    dense_width = matched_dense_width(moe_mlp_cost(3, WIDTH, 1, E, K).flops_per_token, 3, 1)

    def train(model, alpha):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        fit(
            model,
            task.train,
            steps=STEPS,
            batch_size=BATCH,
            optimizer=optimizer,
            loss_fn=mse_with_balance(alpha),
            generator=generator,
            progress=False,
        )
        return model

    init = MoELayer(3, WIDTH, 1, E, K)
    models = {"dense": train(DenseMLP(3, dense_width, 1), 0.0)}
    for alpha in (0.0, 0.1, 1.0):
        models[alpha] = train(copy.deepcopy(init), alpha)
    return task, models


def _test_loss(task, model, **kwargs):
    return evaluate_moe(model, task.test, batch_size=BATCH, **kwargs)


def _load_ratio(task, model):
    with torch.no_grad():
        _, _, chosen = model.route(task.test.x)
    return load_stats(chosen, E).max_mean_ratio


def test_moe_beats_dense_at_equal_active_compute(runs):
    task, models = runs
    x = task.test.x[:256]
    moe_flops, dense_flops = count_flops(models[0.1], x), count_flops(models["dense"], x)
    assert moe_flops <= dense_flops < 1.1 * moe_flops  # the dense model gets at least the MoE's compute
    dense_loss = _test_loss(task, models["dense"])["loss"]
    moe_loss = _test_loss(task, models[0.1])["loss"]
    # calibration: MoE/dense loss ratio 0.31-0.42 over six seeds, so 0.7 leaves a wide margin
    assert moe_loss < 0.7 * dense_loss, (moe_loss, dense_loss)


def test_balance_loss_balances_the_load(runs):
    task, models = runs
    off, on = _load_ratio(task, models[0.0]), _load_ratio(task, models[1.0])
    # calibration: max/mean 1.75-2.17 without the loss, 1.07-1.19 with alpha = 1 (gap >= 0.56).
    # alpha = 0.1 lowers the ratio too, but in short runs not on every seed (1 of 6 in an
    # 800-step calibration did not), so the load test uses the stronger weight.
    assert on < off - 0.3, (on, off)
    assert on < 1.4, on


def test_balanced_router_drops_fewer_inputs_at_capacity(runs):
    task, models = runs
    unbalanced = _test_loss(task, models[0.0], capacity_factor=1.0)
    balanced = _test_loss(task, models[0.1], capacity_factor=1.0)
    # calibration at capacity factor 1: 0.30-0.41 dropped without the loss, 0.09-0.13 with alpha = 0.1
    assert balanced["dropped_fraction"] < unbalanced["dropped_fraction"] - 0.1, (balanced, unbalanced)


def test_smaller_capacity_drops_more_and_raises_the_loss(runs):
    task, models = runs
    results = [_test_loss(task, models[0.1], capacity_factor=cf) for cf in (0.5, 1.0, 2.0)]
    dropped = [r["dropped_fraction"] for r in results]
    losses = [r["loss"] for r in results]
    assert dropped[0] > dropped[1] > dropped[2], dropped  # fewer slots can only drop more
    assert losses[0] > losses[1] > losses[2], losses  # a dropped input gets no expert's output
    assert losses[2] <= 1.05 * _test_loss(task, models[0.1])["loss"]  # factor 2: almost nothing dropped
