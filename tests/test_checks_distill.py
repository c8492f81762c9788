"""labsupport.checks.distill: Lab 4's checks pass right answers, fail known wrong ones with the
intended hint, and never show the expected value."""

import pytest
import torch
import torch.nn.functional as F

from labsupport import UNLABELED
from labsupport.checks.distill import (
    CONCLUSIONS,
    check_capacity_experiment,
    check_distillation_loss,
    check_matches_distillation_loss,
    supported_conclusion,
)
from labsupport.distill import distillation_loss


def loss(kind="right"):
    """The lab's answer, and the mistakes a learner makes in it."""

    def fn(s, t, y, T, alpha):
        log_q, p = F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1)
        soft = F.kl_div(log_q, p, reduction="none").sum(dim=1)
        hard = F.cross_entropy(s, y, ignore_index=UNLABELED, reduction="none")
        if kind == "no T²":  # the WRONG answer of tests/test_grading.py
            return (alpha * hard + (1 - alpha) * soft).mean()
        if kind == "T":
            return (alpha * hard + (1 - alpha) * T * soft).mean()
        if kind == "reversed":
            q = log_q.exp()
            soft = (q * (log_q - F.log_softmax(t / T, dim=1))).sum(dim=1)
        if kind == "mean over classes":
            soft = F.kl_div(log_q, p, reduction="none").mean(dim=1)
        if kind == "soft cross-entropy":
            soft = -(p * log_q).sum(dim=1)
        if kind == "hard at T":
            hard = F.cross_entropy(s / T, y, ignore_index=UNLABELED, reduction="none")
        if kind == "alpha swapped":
            return ((1 - alpha) * hard + alpha * T**2 * soft).mean()
        if kind == "T² on both":
            return (T**2 * (alpha * hard + (1 - alpha) * soft)).mean()
        if kind == "labelled mean":
            hard_mean = F.cross_entropy(s, y, ignore_index=UNLABELED)
            return alpha * hard_mean + (1 - alpha) * (T**2 * soft).mean()
        if kind == "no ignore_index":
            hard = F.cross_entropy(s, y, reduction="none")
        if kind == "unlabelled dropped":
            keep = (y != UNLABELED).float()
            return ((alpha * hard + (1 - alpha) * T**2 * soft) * keep).mean()
        if kind == "detached":
            return (alpha * hard + (1 - alpha) * T**2 * soft).mean().detach()
        return (alpha * hard + (1 - alpha) * T**2 * soft).mean()

    return fn


def test_the_right_answers_pass(capsys):
    check_distillation_loss(loss())
    check_distillation_loss(lambda s, t, y, T, a: distillation_loss(s, t, y, temperature=T, alpha=a))
    batchmean = lambda s, t, y, T, a: (  # noqa: E731
        a * F.cross_entropy(s, y, ignore_index=UNLABELED, reduction="none").mean()
        + (1 - a) * T**2 * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    )
    check_distillation_loss(batchmean)
    check_matches_distillation_loss(loss())
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        ("no T²", "the T² factor forgotten?"),
        ("T", "T instead of T²?"),
        ("reversed", "KL(student || teacher)?"),
        ("mean over classes", "a mean over the classes too?"),
        ("soft cross-entropy", "a cross-entropy with the soft targets instead of the KL"),
        ("hard at T", "the hard term uses the student's logits at T = 1"),
        ("alpha swapped", "alpha weights the hard labels"),
        ("T² on both", "the T² factor belongs to the soft term only"),
        ("labelled mean", "averaged over the labelled inputs only"),
        ("no ignore_index", "ignore_index=UNLABELED"),
        ("unlabelled dropped", "an UNLABELED input still gets the soft term"),
        ("detached", "no gradient reaches the student's logits"),
    ],
)
def test_known_mistakes_fail_with_their_hint_and_no_value(kind, hint):
    with pytest.raises(AssertionError, match="distillation_loss") as error:
        check_distillation_loss(loss(kind))
    message = str(error.value)
    assert hint in message
    # the values the cases should give are never shown
    s, t, y = torch.randn(3, 2), torch.randn(3, 2), torch.tensor([0, 1, 0])
    assert f"{float(distillation_loss(s, t, y)):.3g}" not in message
    for word in ("expected 0.", "should be 0.", "want"):
        assert word not in message


def test_the_oracle_fails_a_wrong_loss():
    with pytest.raises(AssertionError, match="differs from the reference loss"):
        check_matches_distillation_loss(loss("no T²"))


# -- the capacity experiment ---------------------------------------------------------------------

RUNS = {
    **{(None, s): e for s, e in enumerate([0.59, 0.58, 0.575])},
    **{(32, s): e for s, e in enumerate([0.52, 0.53, 0.52])},
    **{(128, s): e for s, e in enumerate([0.405, 0.402, 0.398])},
    **{(512, s): e for s, e in enumerate([0.447, 0.415, 0.434])},
}
WIDTHS = (32, 128, 512)


def experiment(widths=(32, 128, 512), seeds=(0, 1, 2), conclusion="no clear winner", runs=RUNS):
    return {
        "teachers": {w: [runs[(w, s)] for s in seeds] for w in widths},
        "control": [runs[(None, s)] for s in seeds],
        "seeds": list(seeds),
        "conclusion": conclusion,
    }


def test_supported_conclusions():
    by_width = {w: [RUNS[(w, s)] for s in range(3)] for w in WIDTHS}
    # 128 beats 512 by 3.0 points, within 512's spread of 3.2
    assert supported_conclusion(by_width) == "no clear winner"
    assert supported_conclusion({32: by_width[32], 512: by_width[512]}) == "bigger is better"
    tight = {128: by_width[128], 512: [0.43, 0.431, 0.432]}
    assert supported_conclusion(tight) == "smaller is better"


def test_a_consistent_experiment_passes(capsys):
    check_capacity_experiment(experiment(), RUNS, WIDTHS)
    check_capacity_experiment(experiment((32, 512), (1, 2), "bigger is better"), RUNS, WIDTHS)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("result", "hint"),
    [
        (None, "no answer yet"),
        ({"teachers": {}, "seeds": [0, 1]}, "expected a dict with the keys"),
        (experiment(seeds=(0,)), "cannot show the seed-to-seed spread"),
        (experiment(seeds=(0, 0)), "a list of different seeds"),
        (experiment(widths=(512,)), "two teacher widths or more"),
        (experiment() | {"teachers": {64: [0.4, 0.4, 0.4], 512: [0.4, 0.4, 0.4]}}, "no teacher of width 64"),
        (experiment() | {"control": [0.59, 0.58]}, "one number per seed"),
        (experiment() | {"control": [0.58, 0.58, 0.575]}, "the control, seed 0"),
        (experiment() | {"teachers": {128: [0.4, 0.4, 0.4], 512: [0.45, 0.41, 0.43]}}, "teacher 128, seed 0"),
        (
            experiment(seeds=(0, 1, 3), runs=RUNS | {(w, 3): 0.5 for w in (None, 32, 128, 512)}),
            "no run of teacher 32 with seed 3",
        ),
        (experiment(conclusion="the biggest"), "must be one of"),
        (experiment(conclusion="bigger is better"), "needs the students of the biggest teacher (512)"),
        (experiment(conclusion="smaller is better"), "needs a smaller teacher's students to beat"),
        (experiment((32, 512), conclusion="no clear winner"), "your numbers do resolve a winner"),
    ],
)
def test_flawed_experiments_fail_with_their_reason(result, hint):
    with pytest.raises(AssertionError, match="experiment") as error:
        check_capacity_experiment(result, RUNS, WIDTHS)
    message = str(error.value)
    assert hint in message
    if "conclusion" in hint or "winner" in hint or "needs" in hint:
        for conclusion in CONCLUSIONS:  # the right conclusion is never named
            if conclusion != (result or {}).get("conclusion"):
                assert f"'{conclusion}'" not in message


def test_the_control_must_use_the_same_seeds():
    runs = RUNS | {(None, 5): 0.6, (None, 6): 0.61, (None, 7): 0.6}
    result = experiment() | {"control": [runs[(None, s)] for s in (5, 6, 7)]}
    with pytest.raises(AssertionError, match="the control, seed 0"):
        check_capacity_experiment(result, runs, WIDTHS)


def test_the_margin_is_the_larger_spread():
    """Two arms 1 point apart, spreads 0.5 and 2 points: not resolved."""
    assert supported_conclusion({1: [0.40, 0.405], 2: [0.41, 0.43]}) == "no clear winner"
    assert supported_conclusion({1: [0.40, 0.405], 2: [0.42, 0.421]}) == "smaller is better"
    assert supported_conclusion({1: [0.42, 0.421], 2: [0.40, 0.405]}) == "bigger is better"
