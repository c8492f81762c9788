"""Lab 4's checks: a learner's distillation loss, and the designed capacity experiment.

* :func:`check_distillation_loss` tests properties of the loss (Chapter 4): with ``alpha = 1``
  it is the cross-entropy with the labels, averaged over the whole batch, and inputs marked
  :data:`labsupport.UNLABELED` add no hard loss; the soft term vanishes when the student's
  logits equal the teacher's; on a two-class hand case it is the KL divergence of the teacher's
  distribution from the student's; scaling both logits by ``T`` at temperature ``T`` multiplies
  it by ``T**2``. Forgotten ``T**2``, a reversed KL and a mean over the classes get a hint.
  :func:`check_matches_distillation_loss` compares with :func:`labsupport.distill.distillation_loss`:
  the oracle of the lab's hidden tests.
* :func:`check_capacity_experiment` grades the result of "is the biggest teacher the best
  teacher?" (``ex-distill-capacity``) on its properties: two teacher sizes or more, two seeds or
  more per arm, a control with the same seeds, numbers that the learner's own runs produced,
  and a conclusion that the numbers support given the seed spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from labsupport._validate import describe
from labsupport.distill import UNLABELED, distillation_loss

#: Relative tolerance of the loss checks (float64 cases).
_RTOL = 1e-6


def _case(seed: int, batch: int = 8, classes: int = 10) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random student logits, teacher logits (sharper) and labels, in float64."""
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(batch, classes, generator=g, dtype=torch.float64)
    teacher = 3 * torch.randn(batch, classes, generator=g, dtype=torch.float64)
    labels = torch.randint(classes, (batch,), generator=g)
    return student, teacher, labels


def _loss(
    fn: Callable, name: str, s: torch.Tensor, t: torch.Tensor, y: torch.Tensor, T: float, alpha: float
) -> float:
    """``fn`` on copies of the inputs; the value, after checking it is a differentiable scalar."""
    student = s.clone().requires_grad_(True)
    try:
        out = fn(student, t.clone(), y.clone(), T, alpha)
    except IndexError as exc:
        if (y == UNLABELED).any():
            raise AssertionError(
                f"{name}: raised IndexError ({exc}) on labels that include UNLABELED (-1):"
                " the hard term must skip them (ignore_index=UNLABELED)"
            ) from None
        raise
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise AssertionError(f"{name}: expected a one-number tensor (the batch mean), got {describe(out)}")
    if not out.requires_grad:
        raise AssertionError(
            f"{name}: no gradient reaches the student's logits (.item(), .detach() or a new tensor?)"
        )
    return float(out.detach())


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=_RTOL, abs_tol=1e-9)


def _ce(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-input cross-entropy, 0 for unlabelled inputs."""
    return F.cross_entropy(s, y, ignore_index=UNLABELED, reduction="none")


def check_distillation_loss(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float, float], torch.Tensor],
    *,
    name: str = "distillation_loss",
) -> None:
    """Check a learner's ``fn(student_logits, teacher_logits, labels, T, alpha)`` by its properties.

    Prints a confirmation, or raises ``AssertionError`` naming the property that fails and, for
    a known mistake, a hint. It never shows the loss a case should give.
    """
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    s, t, y = _case(0)
    T = 3.0

    # alpha = 1: the hard labels alone, averaged over the batch
    got, want = _loss(fn, name, s, t, y, T, 1.0), float(_ce(s, y).mean())
    if not _close(got, want):
        hints = {
            float(_ce(s / T, y).mean()): "the hard term uses the student's logits at T = 1, not T",
            T**2 * want: "the T² factor belongs to the soft term only",
            float(_ce(s, y).sum()): "summed over the batch: the loss is a mean over the inputs",
        }
        hint = next((h for value, h in hints.items() if _close(got, value)), None)
        raise AssertionError(
            f"{name}: with alpha = 1 the loss should be the cross-entropy with the labels (the"
            f" hard-label student), but it is not; "
            + (hint or "alpha weights the hard labels: alpha = 1 means no soft term")
        )

    # unlabelled inputs: no hard loss, and the mean is still over the whole batch
    y_part = y.clone()
    y_part[:3] = UNLABELED
    got, want = _loss(fn, name, s, t, y_part, T, 1.0), float(_ce(s, y_part).mean())
    if not _close(got, want):
        if _close(got, float(_ce(s[3:], y_part[3:]).mean())):
            raise AssertionError(
                f"{name}: with some inputs UNLABELED, the hard term is averaged over the labelled"
                " inputs only; the loss is a mean over the whole batch, in which an unlabelled"
                " input adds no hard loss (reduction='none', then the mean)"
            )
        raise AssertionError(
            f"{name}: with alpha = 1 and some inputs UNLABELED, the loss should be the labelled"
            " inputs' cross-entropy averaged over the whole batch, but it is not"
        )
    y_none = torch.full_like(y, UNLABELED)
    got = _loss(fn, name, s, t, y_none, T, 1.0)
    if not math.isfinite(got):
        raise AssertionError(
            f"{name}: NaN when no input has a label: a cross-entropy with reduction='mean' divides"
            " by the number of labelled inputs, 0 here; take reduction='none'"
        )
    if not _close(got, 0.0):
        raise AssertionError(f"{name}: with alpha = 1 and every input UNLABELED nothing should be left")
    soft = _loss(fn, name, s, t, y_none, T, 0.0)
    if not _close(soft, _loss(fn, name, s, t, y, T, 0.0)):
        raise AssertionError(
            f"{name}: with alpha = 0 the loss should not depend on the labels: an UNLABELED input"
            " still gets the soft term, the teacher's knowledge about it"
        )
    if not _close(_loss(fn, name, s, t, y_none, T, 0.4), 0.6 * soft):
        raise AssertionError(
            f"{name}: with every input UNLABELED the loss should be (1 - alpha) times the soft term alone"
        )

    # the soft term vanishes when the student already says what the teacher says
    for temperature in (1.0, 4.0):
        for student in (t, t + torch.linspace(-2, 2, len(t), dtype=t.dtype)[:, None]):
            got = _loss(fn, name, student, t, y, temperature, 0.0)
            if not _close(got, 0.0):
                raise AssertionError(
                    f"{name}: with alpha = 0 and the student's logits equal to the teacher's (up to"
                    f" a constant per input) the loss should be 0, at T = {temperature:g}; a"
                    " cross-entropy with the soft targets instead of the KL divergence? (It adds"
                    " the teacher's entropy.)"
                )

    # a hand case: two classes, T = 1, teacher (1/2, 1/2) against student (0.9, 0.1), and
    # teacher (0.8, 0.2) against student (1/2, 1/2)
    p = torch.tensor([[0.5, 0.5], [0.8, 0.2]], dtype=torch.float64)
    q = torch.tensor([[0.9, 0.1], [0.5, 0.5]], dtype=torch.float64)
    kl = (p * (p / q).log()).sum(dim=1)  # KL(p || q) per input
    got = _loss(fn, name, q.log(), p.log(), torch.tensor([0, 0]), 1.0, 0.0)
    if not _close(got, float(kl.mean())):
        hints = {
            float((q * (q / p).log()).sum(dim=1).mean()): (
                "KL(student || teacher)? The soft term is KL(teacher_T || student_T):"
                " F.kl_div takes the student's log-probabilities first and the teacher's"
                " probabilities second"
            ),
            float(kl.mean() / 2): "a mean over the classes too? Sum the KL over the classes",
            float(kl.sum()): "summed over the batch: average over the inputs",
        }
        hint = next((h for value, h in hints.items() if _close(got, value)), None)
        raise AssertionError(
            f"{name}: with alpha = 0 and T = 1, on two inputs of two classes (teacher 1/2, 1/2"
            " against student 0.9, 0.1; teacher 0.8, 0.2 against student 1/2, 1/2) the loss should"
            " be the mean KL divergence of the teacher's distribution from the student's, and it"
            " is not" + (f"; {hint}" if hint else "")
        )

    # T²: at temperature T, logits T times larger soften to the same distributions
    T = 4.0
    base = _loss(fn, name, s, t, y, 1.0, 0.0)
    scaled = _loss(fn, name, T * s, T * t, y, T, 0.0)
    ratio = scaled / base
    if not math.isclose(ratio, T**2, rel_tol=1e-5):
        if math.isclose(ratio, 1.0, rel_tol=1e-5):
            hint = "the T² factor forgotten? Without it the soft term's gradients shrink like 1/T²"
        elif math.isclose(ratio, T, rel_tol=1e-5):
            hint = "T instead of T²?"
        else:
            hint = "the soft term must be T² times the KL divergence of the softened distributions"
        raise AssertionError(
            f"{name}: logits {T:g} times larger at temperature T = {T:g} soften to the same"
            f" distributions as the original logits at T = 1, so the soft term should grow by"
            f" T² = {T**2:g}; yours grew {ratio:.3g} times: {hint}"
        )
    print(
        f"✓ {name}: alpha = 1 is the hard cross-entropy, UNLABELED inputs add no hard loss, the"
        " soft term is 0 for a student equal to its teacher, the KL on a hand case, and scales with T²"
    )


def check_matches_distillation_loss(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float, float], torch.Tensor],
    *,
    name: str = "distillation_loss",
) -> None:
    """The oracle (hidden tests): ``fn`` against :func:`labsupport.distill.distillation_loss` on random
    cases with unlabelled inputs, at several temperatures and mixing weights."""
    for seed, (T, alpha) in enumerate([(0.5, 0.3), (2.0, 0.7), (8.0, 0.0), (1.0, 1.0)]):
        s, t, y = _case(10 + seed, batch=16)
        y[:5] = UNLABELED
        got = _loss(fn, name, s, t, y, T, alpha)
        want = float(distillation_loss(s, t, y, temperature=T, alpha=alpha))
        if not math.isclose(got, want, rel_tol=1e-5):
            raise AssertionError(f"{name}: differs from the reference loss at T = {T:g}, alpha = {alpha:g}")
    print(f"✓ {name}: agrees with the reference loss")


# -- the designed experiment: is the biggest teacher the best teacher? -------------------------

#: The conclusions a capacity experiment may reach, one for any data.
CONCLUSIONS = ("bigger is better", "smaller is better", "no clear winner")

_FIELDS = ("teachers", "control", "seeds", "conclusion")


def _numbers(name: str, values: Any, count: int, what: str) -> list[float]:
    if not isinstance(values, (list, tuple)) or len(values) != count:
        raise AssertionError(f"{name}: {what} needs one number per seed ({count}), got {describe(values)}")
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: {what} must hold numbers, got {values!r}") from None


def _spread(values: list[float]) -> float:
    return max(values) - min(values)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def supported_conclusion(teachers: Mapping[int, list[float]]) -> str:
    """The conclusion that test errors per teacher width support, given the seed spread.

    Two arms differ only when their means differ by more than the larger of their two spreads
    (max - min over seeds). "bigger is better": the biggest teacher's students beat every other
    arm; "smaller is better": some smaller teacher's students beat the biggest's; otherwise "no
    clear winner".
    """
    big = max(teachers)

    def beats(a: int, b: int) -> bool:
        margin = max(_spread(teachers[a]), _spread(teachers[b]))
        return _mean(teachers[a]) < _mean(teachers[b]) - margin

    if all(beats(big, w) for w in teachers if w != big):
        return CONCLUSIONS[0]
    if any(beats(w, big) for w in teachers if w != big):
        return CONCLUSIONS[1]
    return CONCLUSIONS[2]


def check_capacity_experiment(
    experiment: Any,
    runs: Mapping[tuple[int | None, int], float],
    available: Collection[int],
    *,
    name: str = "experiment",
) -> None:
    """Check the result of the capacity experiment by its properties.

    ``experiment`` is ``{"teachers": {width: [test error per seed]}, "control": [test error
    per seed], "seeds": [...], "conclusion": one of CONCLUSIONS}``; ``runs`` maps ``(teacher
    width, seed)`` (``None`` for the control, trained on the labels alone) to the test error
    the lab's runs measured; ``available`` lists the teacher widths the lab offers. Prints a
    confirmation or raises ``AssertionError`` saying which property fails, never which
    conclusion is right.
    """
    if experiment is None or experiment is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {experiment!r}); fill in the exercise cell first")
    if not isinstance(experiment, Mapping) or set(_FIELDS) - set(experiment):
        raise AssertionError(
            f"{name}: expected a dict with the keys {', '.join(_FIELDS)}, got {describe(experiment)}"
        )
    seeds = experiment["seeds"]
    if not isinstance(seeds, (list, tuple, range)) or len(set(seeds)) != len(seeds):
        raise AssertionError(f"{name}: 'seeds' must be a list of different seeds, got {seeds!r}")
    seeds = list(seeds)
    if len(seeds) < 2:
        raise AssertionError(
            f"{name}: {len(seeds)} seed cannot show the seed-to-seed spread: use two or more"
        )
    teachers = experiment["teachers"]
    if not isinstance(teachers, Mapping) or len(teachers) < 2:
        raise AssertionError(
            f"{name}: 'teachers' must map two teacher widths or more to their students' test"
            f" errors, got {describe(teachers)}"
        )
    unknown = [w for w in teachers if w not in available]
    if unknown:
        raise AssertionError(
            f"{name}: no teacher of width {unknown[0]!r} in this lab; the widths are {sorted(available)}"
        )
    arms: dict[int | None, list[float]] = {
        w: _numbers(name, v, len(seeds), f"teacher {w}") for w, v in teachers.items()
    }
    arms[None] = _numbers(name, experiment["control"], len(seeds), "the control")
    for width, values in arms.items():
        arm = "the control" if width is None else f"teacher {width}"
        for seed, value in zip(seeds, values, strict=True):
            if (width, seed) not in runs:
                raise AssertionError(
                    f"{name}: no run of {arm} with seed {seed} was recorded: take the numbers from"
                    " student_errors"
                )
            if not math.isclose(value, runs[(width, seed)], rel_tol=1e-9, abs_tol=1e-12):
                raise AssertionError(
                    f"{name}: {arm}, seed {seed}: {value:.4g} is not what its run measured; take the"
                    " numbers from student_errors, in the order of 'seeds'"
                )
    conclusion = experiment["conclusion"]
    if conclusion not in CONCLUSIONS:
        raise AssertionError(f"{name}: 'conclusion' must be one of {CONCLUSIONS}, got {conclusion!r}")
    supported = supported_conclusion({w: v for w, v in arms.items() if w is not None})
    if conclusion != supported:
        big = max(teachers)
        reasons = {
            CONCLUSIONS[0]: (
                f"'{conclusion}' needs the students of the biggest teacher ({big}) to beat every"
                " other arm by more than the larger seed spread of the two; yours do not"
            ),
            CONCLUSIONS[1]: (
                f"'{conclusion}' needs a smaller teacher's students to beat the biggest teacher's"
                f" ({big}) by more than the larger seed spread of the two; none does"
            ),
            CONCLUSIONS[2]: (
                f"'{conclusion}', but your numbers do resolve a winner: compare each arm's mean"
                f" with the biggest teacher's ({big}), against the larger seed spread of the two"
            ),
        }
        raise AssertionError(f"{name}: {reasons[conclusion]}")
    print(
        f"✓ {name}: {len(teachers)} teachers and a control, {len(seeds)} seeds each, the numbers"
        f" of your runs, and '{conclusion}' is what they support"
    )
