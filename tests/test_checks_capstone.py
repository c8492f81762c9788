"""Lab 8's checks (labsupport.checks.capstone): each passes a right answer, fails the known
wrong ones with the message meant for them, and never names the better width or format."""

from __future__ import annotations

import math

import pytest

from labsupport.checks.capstone import check_decision, check_format, check_plan, total_flops
from labsupport.rightsize import tokens_for_loss
from labsupport.scaling import ChinchillaLaw

#: Close to the law Lab 8's cpu run fits to its grid.
LAW = ChinchillaLaw(E=4.5e-5, A=1.1347, B=41571.8, alpha=0.8193, beta=1.3623)
WIDTHS = (8, 11, 16, 23, 32, 45, 64, 91, 128, 181)


def parameters(width: int) -> int:
    return width * 6 + 1


TARGET = float(LAW(parameters(64), 3e8 / (6 * parameters(64))))  # 64 on the budget


def right_plan(law, target, queries, widths):
    need = {w: tokens_for_loss(law, parameters(w), target) for w in widths}
    need = {w: D for w, D in need.items() if math.isfinite(D)}
    best = min(need, key=lambda w: total_flops(parameters(w), need[w], queries))
    return best, need[best]


def _check_plan(plan) -> None:
    check_plan(plan, LAW, TARGET, widths=WIDTHS, parameters=parameters)


def test_the_plan_check_passes_the_plan(capsys):
    _check_plan(right_plan)
    assert "✓ plan" in capsys.readouterr().out


def _failure(plan) -> str:
    with pytest.raises(AssertionError) as failure:
        _check_plan(plan)
    return str(failure.value)


def test_the_plan_check_names_the_mistake_never_the_better_width():
    def train_only(law, target, queries, widths):  # the queries forgotten
        return right_plan(law, target, 0.0, widths)

    def smallest(law, target, queries, widths):  # always the smallest width that can reach it
        need = {w: tokens_for_loss(law, parameters(w), target) for w in widths}
        w = min(w for w, D in need.items() if math.isfinite(D))
        return w, need[w]

    def global_law(law, target, queries, widths):  # reads the lab's law, not its argument
        return right_plan(LAW, target, queries, widths)

    def generous(law, target, queries, widths):  # more data than the width needs
        w, D = right_plan(law, target, queries, widths)
        return w, 1.1 * D

    message = _failure(train_only)
    assert "another width reaches the target for less" in message and "cheapest to train" in message
    message = _failure(smallest)
    assert "smallest that reaches the target" in message
    assert "plan must use the law passed to it" in _failure(global_law)
    assert "less data" in _failure(generous)
    assert "expected a pair" in _failure(lambda law, target, queries, widths: [45, 1e5])
    assert "not one of the grid's widths" in _failure(lambda law, target, queries, widths: (50, 1e5))
    for message in (_failure(train_only), _failure(smallest)):
        cheaper = right_plan(LAW, TARGET, 1e9, WIDTHS)[0]
        assert f"width {cheaper}" not in message.split(":", 1)[1], message


def _decision(width: int, queries: float, **extra) -> dict:
    tokens = tokens_for_loss(LAW, parameters(width), TARGET)
    why = f"width {width} reaches the target at the lowest total cost at {queries:.0e} queries"
    return {"queries": queries, "width": width, "tokens": tokens, "why": why, **extra}


def _check(decision, queries, **kw) -> None:
    check_decision(
        "decision",
        decision,
        law=LAW,
        target=TARGET,
        widths=WIDTHS,
        parameters=parameters,
        queries=queries,
        **kw,
    )


def test_the_decision_check_passes_a_cheapest_choice_and_one_within_the_margin(capsys):
    best, _ = right_plan(LAW, TARGET, 1e7, WIDTHS)
    _check(_decision(best, 1e7), 1e7)
    # at the crossover of 45 and 64 both cost the same: either is a defensible decision
    N_s, N_b = parameters(45), parameters(64)
    D_s, D_b = (tokens_for_loss(LAW, N, TARGET) for N in (N_s, N_b))
    crossover = 3 * (N_s * D_s - N_b * D_b) / (N_b - N_s)
    for width in (45, 64):
        _check(_decision(width, crossover), crossover)
    busier = _decision(best, 1e8, moves=False)
    _check(busier, 1e8, previous=_decision(best, 1e7))
    assert capsys.readouterr().out.count("✓ decision") == 4


def _decision_failure(decision, queries=1e7, **kw) -> str:
    with pytest.raises(AssertionError) as failure:
        _check(decision, queries, **kw)
    return str(failure.value)


def test_the_decision_check_says_what_is_wrong_and_never_which_width_is_cheaper():
    good = _decision(45, 1e7)
    assert "the field 'why' is missing" in _decision_failure({k: v for k, v in good.items() if k != "why"})
    assert "the volume this decision is for" in _decision_failure({**good, "queries": 1e4})
    assert "one of the grid's widths" in _decision_failure({**good, "width": 50})
    assert "positive number" in _decision_failure({**good, "tokens": -1.0})
    assert "at least ten words" in _decision_failure({**good, "why": "it is cheapest"})
    assert "citing at least one number" in _decision_failure({**good, "why": "because " * 12})
    short = {**good, "tokens": good["tokens"] / 2}
    assert "above the target" in _decision_failure(short)
    costly = _decision(181, 1e7)
    message = _decision_failure(costly)
    assert "another width reaches the target for more than 5% less" in message
    assert not any(f"{w}" in message.split("queries", 1)[1] for w in WIDTHS if w != 181), message
    assert "no answer yet" in _decision_failure(...)
    previous = _decision(64, 1e4)
    said_stays = _decision(45, 1e7, moves=False)
    assert "'moves' says the decision stays" in _decision_failure(said_stays, previous=previous)
    assert "must be True or False" in _decision_failure(_decision(45, 1e7, moves="yes"), previous=previous)


FORMATS = {"fp32": 1084.0, "int8": 501.0, "int6": 444.8, "int4": 388.5}
LOSSES = {"fp32": 0.0124, "int8": 0.0125, "int6": 0.01252, "int4": 0.0769}


def test_the_format_check_accepts_a_fitting_format_within_the_margin(capsys):
    for name in ("int8", "int6"):  # int6 is within 2% of int8's loss: a judgement, not a mistake
        check_format({"format": name}, sizes=FORMATS, losses=LOSSES, budget=600)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    "decision, message",
    [
        ({"format": "fp32"}, "over the budget"),
        ({"format": "int4"}, "another format that fits has a test loss more than 2% lower"),
        ({"format": "int2"}, "one of the measured formats"),
        ({}, "no answer yet"),
    ],
)
def test_the_format_check_fails_what_does_not_fit_or_loses_too_much(decision, message):
    with pytest.raises(AssertionError, match=message) as failure:
        check_format(decision, sizes=FORMATS, losses=LOSSES, budget=600)
    if "one of" not in message:  # listing the formats names no better one
        assert "int8" not in str(failure.value), "the message never names the better format"
