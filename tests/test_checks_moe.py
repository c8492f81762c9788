"""labsupport.checks.moe: Lab 5's checks pass the right answers, fail known wrong ones with the
intended hint, and never show the expected value."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labsupport.checks.moe import check_balance_loss, check_capacity_router, check_moe_layer
from labsupport.moe import MoELayer
from labsupport.routing import load_balancing_loss, within_capacity


def balance(probs, chosen):
    """The right answer, written as a learner would."""
    f = F.one_hot(chosen, probs.shape[1]).float().mean(dim=(0, 1))
    return probs.shape[1] * (f * probs.mean(dim=0)).sum()


def test_check_balance_loss_accepts_the_right_answer_and_the_library(capsys):
    check_balance_loss(balance)
    check_balance_loss(load_balancing_loss)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (  # the WRONG answer of tests/test_grading.py
            lambda p, c: (F.one_hot(c, p.shape[1]).float().mean(dim=(0, 1)) * p.mean(dim=0)).sum(),
            "the factor N",
        ),
        (  # counts divided by T, not T·k
            lambda p, c: p.shape[1] * (F.one_hot(c, p.shape[1]).float().sum(dim=1).mean(0) * p.mean(0)).sum(),
            "divide the counts by T·k",
        ),
        (  # only the first choice
            lambda p, c: balance(p, c[:, :1]),
            "only the first choice",
        ),
        (  # one mean of all probabilities
            lambda p, c: p.shape[1] * (F.one_hot(c, p.shape[1]).float().mean(dim=(0, 1)) * p.mean()).sum(),
            "one mean per expert",
        ),
        (lambda p, c: balance(p.detach(), c), "no gradient reaches"),
        (lambda p, c: torch.tensor(balance(p, c).item()), "no gradient reaches"),
        (lambda p, c: balance(p, c).item(), "one-number tensor"),
        (  # f made from the probabilities: a gradient for experts nobody chose
            lambda p, c: p.shape[1] * (p.mean(0) * p.mean(0)).sum(),
            "balance_loss on",
        ),
    ],
)
def test_check_balance_loss_names_the_mistake_without_the_value(wrong, hint):
    with pytest.raises(AssertionError, match="balance_loss") as error:
        check_balance_loss(wrong)
    message = str(error.value)
    assert hint in message
    for right in ("expected", "should be 1.3", "want"):
        assert right not in message


def test_check_balance_loss_catches_a_gradient_through_f():
    def soft_counts(p, c):  # right values, but f carries a gradient through the probabilities
        f = F.one_hot(c, p.shape[1]).float().mean(dim=(0, 1))
        f = f + 0 * p.sum(0) + (p - p.detach()).sum(0) * (f == 0)
        return p.shape[1] * (f * p.mean(0)).sum()

    with pytest.raises(AssertionError, match="no input chose"):
        check_balance_loss(soft_counts)


def keep_loop(chosen, num_experts, capacity):
    """The right answer as a loop: first choices in input order, then second choices."""
    keep = torch.zeros(chosen.shape, dtype=torch.bool)
    taken = [0] * num_experts
    for j in range(chosen.shape[1]):
        for t in range(chosen.shape[0]):
            e = int(chosen[t, j])
            if taken[e] < capacity:
                keep[t, j], taken[e] = True, taken[e] + 1
    return keep


def test_check_capacity_router_accepts_the_right_answers(capsys):
    check_capacity_router(keep_loop)
    check_capacity_router(within_capacity)
    assert capsys.readouterr().out.count("✓") == 2


def _row_major(chosen, num_experts, capacity):
    """Each input's k choices queued together."""
    return keep_loop(chosen.reshape(-1, 1), num_experts, capacity).view(chosen.shape)


def _last_come(chosen, num_experts, capacity):
    return keep_loop(chosen.flip(0), num_experts, capacity).flip(0)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda c, n, cap: keep_loop(c, n, cap + 1), "keeps more than its capacity"),
        (lambda c, n, cap: keep_loop(c, n, max(cap - 1, 0)), "free slot"),
        (lambda c, n, cap: torch.ones(c.shape, dtype=torch.bool), "more than its capacity"),
        (lambda c, n, cap: keep_loop(c, n, cap).long(), "bool tensor"),
        (lambda c, n, cap: keep_loop(c, n, cap)[:, 0], "bool tensor"),
        (_row_major, "queue all first choices"),
        (_last_come, "first come, first served"),
        (lambda c, n, cap: keep_loop(c, n, cap) if cap < len(c) else keep_loop(c, n, cap - 1), "at least"),
    ],
)
def test_check_capacity_router_names_the_broken_property(wrong, hint):
    with pytest.raises(AssertionError, match="keep_within_capacity") as error:
        check_capacity_router(wrong)
    assert hint in str(error.value)
    assert "True" not in str(error.value), "the message must not show the expected mask"


def test_check_capacity_router_refuses_an_answer_that_changes_its_input():
    def in_place(chosen, num_experts, capacity):
        keep = keep_loop(chosen, num_experts, capacity)
        chosen[~keep] = 0
        return keep

    with pytest.raises(AssertionError, match="changed its input"):
        check_capacity_router(in_place)


def test_check_moe_layer_accepts_the_reference_and_catches_a_wrong_layer(capsys):
    check_moe_layer(MoELayer)
    assert "✓" in capsys.readouterr().out

    class Renormalized(MoELayer):
        """Gates renormalized over the top k (Mixtral's choice): different outputs for k=1."""

        def route(self, x):
            probs, gate, chosen = super().route(x)
            return probs, gate / gate.sum(dim=1, keepdim=True), chosen

    with pytest.raises(AssertionError, match="outputs differ"):
        check_moe_layer(Renormalized)

    class Renamed(nn.Module):
        def __init__(self, d_in, d_hidden, d_out, num_experts, k):
            super().__init__()
            self.gate = nn.Linear(d_in, num_experts, bias=False)

    with pytest.raises(AssertionError, match="not named like MoELayer"):
        check_moe_layer(Renamed)
