"""labsupport.train: fit(), evaluate() and the shared minibatch cursor, on real small problems."""

import pytest
import torch
from torch import nn

from labsupport.data import Split, load_mnist1d
from labsupport.env import set_seed
from labsupport.train import evaluate, fit, minibatches


@pytest.fixture(scope="module")
def data():
    return load_mnist1d(num_samples=1000, seed=0, cache=False)


def _model():
    return nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 10))


def test_fit_learns_and_records_history(data):
    generator = set_seed(0)
    model = _model()
    before = evaluate(model, data.test)
    history = fit(
        model,
        data.train,
        steps=300,
        batch_size=64,
        optimizer=torch.optim.Adam(model.parameters(), lr=3e-3),
        eval_data=data.test,
        eval_every=100,
        generator=generator,
        progress=False,
    )
    assert history.steps == list(range(1, 301)) and len(history.train_loss) == 300
    assert history.eval_steps == [100, 200, 300]
    after = evaluate(model, data.test)
    # Chance is 10%: an untrained model is near it, and a small MLP on MNIST-1D reaches well
    # above 30% within a few hundred steps.
    assert before["accuracy"] < 0.2
    assert after["accuracy"] > 0.3
    assert after["loss"] < before["loss"]
    assert history.final["eval_accuracy"] == pytest.approx(after["accuracy"])


def test_fit_is_repeatable_with_a_seeded_generator(data):
    def run():
        generator = set_seed(1)
        model = _model()
        fit(
            model,
            data.train,
            steps=20,
            batch_size=32,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            generator=generator,
            progress=False,
        )
        return evaluate(model, data.test)["loss"]

    assert run() == run()


def test_evaluate_regression_has_no_accuracy():
    x = torch.randn(50, 3)
    model = nn.Linear(3, 1)
    result = evaluate(model, Split(x, model(x).detach()), loss_fn=nn.functional.mse_loss)
    assert result == {"loss": pytest.approx(0.0, abs=1e-10)}


def test_evaluate_restores_training_mode(data):
    model = nn.Sequential(nn.Linear(40, 10), nn.Dropout(0.5))
    model.train()
    evaluate(model, data.test)
    assert model.training


def test_bad_inputs(data):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="must be a labsupport Split"):
        fit(model, (data.train.x, data.train.y), steps=1, batch_size=1, optimizer=opt)
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        fit(model, data.train, steps=0, batch_size=1, optimizer=opt)
    with pytest.raises(ValueError, match="as many labels as inputs"):
        evaluate(model, Split(data.train.x[:5], data.train.y[:4]))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        evaluate(model, data.test, batch_size=0)
    one_score = nn.Sequential(nn.Linear(40, 1), nn.Flatten(0))  # (B,) outputs: no class dimension
    with pytest.raises(ValueError, match=r"accuracy needs outputs \(\.\.\., classes\)"):
        evaluate(one_score, data.test, loss_fn=lambda out, y: out.sum())


class _TokenModel(nn.Module):
    """Logits (B, T, V) that put all their mass on a fixed next token for each input token."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table)  # (V, V): row v = the logits after token v

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table[idx]


def _lm_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())


def test_evaluate_reports_token_accuracy_for_language_model_logits():
    # The model predicts token (v + 1) % 4 after token v. Targets follow that rule except at
    # 3 of the 2 x 6 = 12 positions, so the token accuracy is exactly 9 / 12.
    table = torch.full((4, 4), -10.0)
    table[torch.arange(4), (torch.arange(4) + 1) % 4] = 10.0
    x = torch.tensor([[0, 1, 2, 3, 0, 1], [2, 3, 0, 1, 2, 3]])
    y = (x + 1) % 4
    y[0, 0], y[1, 2], y[1, 5] = 3, 2, 1
    result = evaluate(_TokenModel(table), Split(x, y), loss_fn=_lm_loss, batch_size=1)
    assert result["accuracy"] == pytest.approx(9 / 12)
    # the loss is the mean over the batches of the model's own loss, weighted by sequences
    want = (_lm_loss(table[x[:1]], y[:1]) + _lm_loss(table[x[1:]], y[1:])).item() / 2
    assert result["loss"] == pytest.approx(want, rel=1e-6)


def _cursor_by_hand(n, batch_size, steps, generator):
    """The cursor fit and train_sweep used to write out: a fresh randperm per pass."""
    order, cursor, out = torch.randperm(n, generator=generator), 0, []
    for _ in range(steps):
        if cursor + batch_size > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        out.append(order[cursor : cursor + batch_size])
        cursor += batch_size
    return out


def test_minibatches_reshuffle_each_pass_and_drop_the_short_remainder():
    data = Split(torch.arange(10.0)[:, None], torch.arange(10))
    stream = minibatches(data, 3, generator=torch.Generator().manual_seed(0))
    got = [next(stream)[1] for _ in range(7)]  # 3 batches per pass: 10 = 3 * 3 + 1
    want = _cursor_by_hand(10, 3, 7, torch.Generator().manual_seed(0))
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
    assert len(set(torch.cat(got[:3]).tolist())) == 9  # no example twice within a pass


def test_minibatches_of_a_batch_at_least_the_data_are_the_whole_set_and_draw_nothing():
    data = Split(torch.arange(5.0)[:, None], torch.arange(5))
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    stream = minibatches(data, 8, generator=generator)
    for _ in range(3):
        x, y = next(stream)
        assert torch.equal(y, data.y) and torch.equal(x, data.x)
    assert torch.equal(generator.get_state(), state), "full-batch training must not consume the generator"


def test_fit_and_evaluate_leave_the_model_in_the_right_mode(data):
    model = nn.Sequential(nn.Linear(40, 10), nn.Dropout(0.5))
    fit(
        model,
        data.train,
        steps=4,
        batch_size=16,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        eval_data=data.test,
        eval_every=2,
        progress=False,
    )
    assert model.training  # evaluate() restored training mode after each evaluation
