"""labsupport.distill (Chapter 4): the distillation loss and the batched student trainer, against
PyTorch's own losses and a plain per-student loop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labsupport.distill import UNLABELED, Recipe, distillation_loss, train_students


def oracle_loss(s: torch.Tensor, t: torch.Tensor, y: torch.Tensor, T: float, alpha: float) -> torch.Tensor:
    """The loss from PyTorch's own kl_div and cross_entropy, for fully labelled (B, C) batches."""
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean")
    return alpha * F.cross_entropy(s, y) + (1 - alpha) * T**2 * soft


def batch(seed: int, n: int = 32, c: int = 10) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, c, generator=g),
        3 * torch.randn(n, c, generator=g),
        torch.randint(c, (n,), generator=g),
    )


@pytest.mark.parametrize(("T", "alpha"), [(1.0, 0.0), (1.0, 1.0), (4.0, 0.1), (20.0, 0.5), (0.5, 0.9)])
def test_loss_matches_pytorch(T, alpha):
    s, t, y = batch(0)
    got = distillation_loss(s, t, y, temperature=T, alpha=alpha)
    torch.testing.assert_close(got, oracle_loss(s, t, y, T, alpha))


def test_loss_is_zero_soft_term_when_student_equals_teacher():
    s, _, y = batch(1)
    assert distillation_loss(s, s.clone(), y, temperature=3.0, alpha=0.0).abs().item() < 1e-6


def test_unlabeled_inputs_get_only_the_soft_term():
    s, t, y = batch(2)
    y_hidden = y.clone()
    y_hidden[:10] = UNLABELED
    per_input_soft = (
        F.kl_div(F.log_softmax(s / 2, dim=1), F.softmax(t / 2, dim=1), reduction="none").sum(1) * 4
    )
    hard = F.cross_entropy(s[10:], y[10:], reduction="none")
    expected = (0.7 * per_input_soft + 0.3 * torch.cat([torch.zeros(10), hard])).mean()
    got = distillation_loss(s, t, y_hidden, temperature=2.0, alpha=0.3)
    torch.testing.assert_close(got, expected)


def test_stacked_students_with_their_own_temperature_and_alpha():
    temps, alphas = [1.0, 4.0, 10.0], [0.0, 0.5, 1.0]
    cases = [batch(10 + i) for i in range(3)]
    s, t, y = (torch.stack(parts) for parts in zip(*cases, strict=True))  # (3, B, C), (3, B, C), (3, B)
    got = distillation_loss(
        s, t, y, temperature=torch.tensor(temps).unsqueeze(1), alpha=torch.tensor(alphas).unsqueeze(1)
    )
    expected = torch.stack([oracle_loss(*cases[i], temps[i], alphas[i]) for i in range(3)]).mean()
    torch.testing.assert_close(got, expected)


def test_t_squared_keeps_the_soft_gradient_scale_at_high_temperature():
    # For large T, d(T² KL)/ds -> ((s - mean s) - (t - mean t)) / (C B) (Hinton et al. 2015, section 2.1):
    # without the T² factor it would shrink like 1/T².
    s, t, y = batch(3, n=8)
    s, t = s.double(), t.double()  # float32 cannot resolve softmax(z / T) finely enough at this T
    s, t = s - s.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    s.requires_grad_(True)
    distillation_loss(s, t, y, temperature=1e5, alpha=0.0).backward()
    torch.testing.assert_close(s.grad, (s.detach() - t) / (10 * 8), rtol=1e-3, atol=1e-7)


def test_loss_rejects_bad_inputs():
    s, t, y = batch(4)
    with pytest.raises(TypeError, match="must be tensors"):
        distillation_loss(s.tolist(), t, y)
    with pytest.raises(ValueError, match=r"same shape \(\.\.\., C\), got \(32, 10\) and \(32, 9\)"):
        distillation_loss(s, t[:, :9], y)
    with pytest.raises(ValueError, match="labels must be a long tensor of shape"):
        distillation_loss(s, t, y.float())
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        distillation_loss(s, t, y, temperature=0.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1.5"):
        distillation_loss(s, t, y, alpha=1.5)
    with pytest.raises(ValueError, match=r"temperature of shape .* does not broadcast"):
        distillation_loss(s, t, y, temperature=torch.ones(3))
    with pytest.raises(TypeError, match="alpha must be a float or a tensor, got str"):
        distillation_loss(s, t, y, alpha="0.5")


def test_recipe_rejects_bad_inputs():
    idx = torch.arange(5)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        Recipe(-1, idx)
    with pytest.raises(TypeError, match="examples must be a 1-D long tensor"):
        Recipe(0, [0, 1])
    with pytest.raises(ValueError, match="at least one example"):
        Recipe(0, torch.arange(0))
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        Recipe(0, idx, temperature=0.0)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        Recipe(0, idx, alpha=-0.1)


class TinyStudent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def toy_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    return x, torch.randint(4, (n,), generator=g), torch.randn(n, 4, generator=g)


def plain_loop(recipe: Recipe, x, y, t, steps: int, batch_size: int, lr: float) -> nn.Module:
    """The loop of Lab 4 section 4, the oracle for train_students."""
    torch.manual_seed(recipe.seed)
    model = TinyStudent()
    g = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = recipe.examples[torch.randint(len(recipe.examples), (batch_size,), generator=g)]
        loss = oracle_loss(model(x[idx]), t[idx], y[idx], recipe.temperature, recipe.alpha)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_train_students_matches_a_plain_loop_per_student():
    x, y, t = toy_data()
    recipes = [
        Recipe(0, torch.arange(40), temperature=2.0, alpha=0.3),
        Recipe(1, torch.arange(20, 64), temperature=5.0, alpha=1.0),
        Recipe(2, torch.arange(10), temperature=1.0, alpha=0.0),
    ]
    students = train_students(TinyStudent, recipes, x, y, t, steps=30, batch_size=16, lr=1e-2)
    for recipe, student in zip(recipes, students, strict=True):
        expected = plain_loop(recipe, x, y, t, steps=30, batch_size=16, lr=1e-2)
        for a, b in zip(student.parameters(), expected.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert not student.training


def test_a_student_does_not_depend_on_its_batch_mates():
    x, y, t = toy_data()
    recipe = Recipe(7, torch.arange(30), temperature=3.0, alpha=0.2)
    (alone,) = train_students(TinyStudent, [recipe], x, y, t, steps=20, batch_size=8)
    together = train_students(
        TinyStudent, [Recipe(1, torch.arange(64)), recipe], x, y, t, steps=20, batch_size=8
    )
    for a, b in zip(alone.parameters(), together[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_train_students_without_teacher_and_with_unlabeled_inputs():
    x, y, t = toy_data()
    # Hard labels only (alpha = 1): no teacher needed, and the student is the plain loop's.
    hard_recipe = Recipe(0, torch.arange(64))
    (hard,) = train_students(TinyStudent, [hard_recipe], x, y, None, steps=5, batch_size=8, lr=1e-2)
    expected = plain_loop(hard_recipe, x, y, torch.zeros_like(t), steps=5, batch_size=8, lr=1e-2)
    for a, b in zip(hard.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # Soft targets only (alpha = 0) on inputs half of which are unlabeled: the labels are never
    # read, so hiding them changes nothing, and the student still matches the plain loop.
    y_hidden = y.clone()
    y_hidden[32:] = UNLABELED
    soft_recipe = Recipe(0, torch.arange(64), alpha=0.0)
    (soft,) = train_students(TinyStudent, [soft_recipe], x, y_hidden, t, steps=5, batch_size=8, lr=1e-2)
    expected = plain_loop(soft_recipe, x, y, t, steps=5, batch_size=8, lr=1e-2)
    for a, b in zip(soft.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_train_students_rejects_bad_inputs():
    x, y, t = toy_data()
    ok = Recipe(0, torch.arange(10), alpha=0.5)
    with pytest.raises(TypeError, match="make_student must be callable"):
        train_students(3, [ok], x, y, t, steps=1, batch_size=4)
    with pytest.raises(TypeError, match="non-empty sequence of Recipe"):
        train_students(TinyStudent, [], x, y, t, steps=1, batch_size=4)
    with pytest.raises(ValueError, match="one label per input"):
        train_students(TinyStudent, [ok], x, y[:5], t, steps=1, batch_size=4)
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        train_students(TinyStudent, [ok], x, y, t, steps=0, batch_size=4)
    with pytest.raises(ValueError, match=r"indices outside \[0, 64\)"):
        train_students(TinyStudent, [Recipe(0, torch.arange(100))], x, y, t, steps=1, batch_size=4)
    with pytest.raises(ValueError, match="teacher_logits are needed"):
        train_students(TinyStudent, [ok], x, y, None, steps=1, batch_size=4)
    with pytest.raises(ValueError, match="one row per input"):
        train_students(TinyStudent, [ok], x, y, t[:10], steps=1, batch_size=4)
    y_hidden = y.clone()
    y_hidden[:5] = UNLABELED
    with pytest.raises(ValueError, match=r"hard labels .* on unlabeled inputs"):
        train_students(TinyStudent, [ok], x, y_hidden, t, steps=1, batch_size=4)
