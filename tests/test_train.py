"""fit() and evaluate() on real small problems."""

import pytest
import torch
from torch import nn

from labsupport import Split, evaluate, fit, load_mnist1d, set_seed


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
    # Chance is 10%; a small MLP on MNIST-1D reaches well above 30% within a few hundred steps.
    assert before["accuracy"] < 0.2 < 0.3 < after["accuracy"]
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
    with pytest.raises(ValueError, match="need steps >= 1"):
        fit(model, data.train, steps=0, batch_size=1, optimizer=opt)
    with pytest.raises(ValueError, match="as many labels as inputs"):
        evaluate(model, Split(data.train.x[:5], data.train.y[:4]))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        evaluate(model, data.test, batch_size=0)
