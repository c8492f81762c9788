"""labsupport.predictions: a guess before a run, set beside the measurement after it."""

import json

import pytest

from labsupport.predictions import predict, prediction_record, record_path


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))


def test_a_missing_guess_runs_on_and_says_so(capsys):
    guess = predict("Speed-up of the draft (×)", ...)
    assert guess.guess is None and "No prediction yet" in capsys.readouterr().out
    line = guess.reveal(1.4)
    assert "you made no prediction" in line and "1.4" in line


def test_a_number_is_recorded_and_revealed_as_a_ratio(capsys):
    guess = predict("Test accuracy (0 to 1)", 0.5)
    line = guess.reveal(0.75)
    assert "you predicted 0.5" in line and "1.5 × your guess" in line
    record = json.loads(record_path().read_text())
    assert record["Test accuracy (0 to 1)"]["guess"] == 0.5
    assert record["Test accuracy (0 to 1)"]["measured"] == 0.75


def test_a_choice_is_right_or_not():
    assert "(right)" in predict("Which wins?", "MoE", choices=("MoE", "dense")).reveal("MoE")
    assert "not what you predicted" in predict("Which wins?", "dense", choices=("MoE", "dense")).reveal("MoE")


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("", 1.0), {}, TypeError),
        (("q", "fast"), {}, TypeError),
        (("q", float("nan")), {}, TypeError),
        (("q", "big"), {"choices": ("MoE", "dense")}, ValueError),
        (("q", "MoE"), {"choices": ("MoE",)}, ValueError),
    ],
)
def test_bad_guesses_are_refused_with_what_was_expected(args, kwargs, error):
    with pytest.raises(error):
        predict(*args, **kwargs)


def test_a_reveal_of_the_wrong_kind_is_refused():
    with pytest.raises(TypeError, match="number"):
        predict("q", 1.0).reveal("fast")
    with pytest.raises(ValueError, match="one of"):
        predict("w", "MoE", choices=("MoE", "dense")).reveal("sparse")


def test_the_course_long_record_shows_calibration(capsys):
    predict("a", 2.0).reveal(3.0)
    predict("b", 1.0).reveal(10.0)
    predict("c", "MoE", choices=("MoE", "dense")).reveal("dense")
    predict("d", ...).reveal(1.0)
    rows = prediction_record()
    assert [r["question"] for r in rows] == ["a", "b", "c"]
    out = capsys.readouterr().out
    assert "1 of 2 numeric guesses within a factor of 2" in out and "0 of 1 choices right" in out


def test_a_damaged_record_is_started_afresh(capsys):
    record_path().write_text("{not json")
    predict("a", 1.0).reveal(1.0)
    assert "could not be read" in capsys.readouterr().out
    assert [r["question"] for r in prediction_record()] == ["a"]
