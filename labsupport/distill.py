"""Knowledge distillation: the reference loss and a batched student trainer (Chapter 4).

* :func:`distillation_loss` is the loss of Hinton, Vinyals & Dean (2015): cross-entropy with
  the hard labels plus ``T**2`` times the KL divergence between the teacher's and the
  student's softmax at temperature ``T``. Answer key: the lab writes its own loss; this copy
  is the oracle the exercise check and tests compare against.
* :func:`train_students` trains many small students at once, each with its own seed,
  examples, temperature and mixing weight, by stacking their weights (``torch.func``):
  one batched step costs little more than one student's step on a CPU.

:func:`train_students` is one of labsupport's two batched trainers; the other is
:func:`labsupport.sweep.train.train_sweep`. ``vmap`` over one architecture suits students that
differ in data, temperature and alpha; a width sweep, whose models differ in size and in the
number of steps, needs the padded stacks of :class:`labsupport.sweep.model.MLPSweep` instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from labsupport._validate import function, non_negative_int, number_in, positive_int, tensor

#: Label value that marks an input without a label (a teacher can still label it).
UNLABELED = -1


def _as_weight(value: float | torch.Tensor, name: str, like: torch.Tensor) -> torch.Tensor:
    """A float or a tensor broadcastable to ``like`` (the per-example shape), on its device."""
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"{name} must be a float or a tensor, got {type(value).__name__}")
    tensor = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    try:
        torch.broadcast_shapes(tensor.shape, like.shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(tensor.shape)} does not broadcast to the batch shape {tuple(like.shape)}"
        ) from None
    return tensor


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 4.0,
    alpha: float | torch.Tensor = 0.1,
) -> torch.Tensor:
    """``alpha * CE(student, labels) + (1 - alpha) * T**2 * KL(teacher_T || student_T)``.

    Answer key: Lab 4 writes its own distillation loss; this copy is the oracle the exercise
    check and tests compare against.

    Args:
        student_logits, teacher_logits: ``(..., C)`` logits for the same inputs.
        labels: ``(...)`` class indices; :data:`UNLABELED` (-1) marks inputs without a label,
            which then contribute only the soft term.
        temperature: ``T > 0``; a float, or a tensor broadcastable to ``labels.shape``
            (one temperature per student when students are stacked).
        alpha: weight of the hard-label term in ``[0, 1]`` (1 = hard labels only,
            0 = soft targets only); a float or a tensor like ``temperature``.

    Returns:
        The loss averaged over all inputs (a scalar).
    """
    if not all(isinstance(t, torch.Tensor) for t in (student_logits, teacher_logits, labels)):
        raise TypeError("student_logits, teacher_logits and labels must be tensors")
    if student_logits.shape != teacher_logits.shape or student_logits.ndim < 2:
        raise ValueError(
            "student and teacher logits must have the same shape (..., C), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    if labels.shape != student_logits.shape[:-1] or labels.dtype != torch.long:
        raise ValueError(
            f"labels must be a long tensor of shape {tuple(student_logits.shape[:-1])}, "
            f"got {labels.dtype} of shape {tuple(labels.shape)}"
        )
    T = _as_weight(temperature, "temperature", labels.to(student_logits.dtype))
    a = _as_weight(alpha, "alpha", labels.to(student_logits.dtype))
    if (T <= 0).any():
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if ((a < 0) | (a > 1)).any():
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    T_ = T.unsqueeze(-1)  # broadcast over the class dimension
    log_p_student = F.log_softmax(student_logits / T_, dim=-1)
    p_teacher = F.softmax(teacher_logits / T_, dim=-1)
    # KL(p_teacher || p_student) per input; xlogy makes 0 * log 0 = 0.
    soft = (torch.xlogy(p_teacher, p_teacher) - p_teacher * log_p_student).sum(-1)
    hard = F.cross_entropy(
        student_logits.reshape(-1, student_logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=UNLABELED,
        reduction="none",
    ).reshape(labels.shape)
    return (a * hard + (1 - a) * T**2 * soft).mean()


@dataclass(frozen=True)
class Recipe:
    """How one student is trained: its seed, its examples and its targets (Chapter 4).

    ``examples`` are indices into the transfer set given to :func:`train_students`;
    ``alpha`` weights the hard labels (1 = hard labels only, 0 = the teacher's soft targets only).
    """

    seed: int
    examples: torch.Tensor
    temperature: float = 4.0
    alpha: float = 1.0

    def __post_init__(self) -> None:
        non_negative_int("seed", self.seed)
        what = "1-D long tensor of indices into the transfer set"
        tensor("examples", self.examples, ndim=1, dtype=torch.long, what=what)
        if len(self.examples) == 0:
            raise ValueError("a recipe needs at least one example, got an empty examples tensor")
        number_in("temperature", self.temperature, 0, low_open=True)
        number_in("alpha", self.alpha, 0, 1)


def train_students(
    make_student: Callable[[], nn.Module],
    recipes: Sequence[Recipe],
    x: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
    *,
    steps: int,
    batch_size: int,
    lr: float = 3e-3,
    device: torch.device | str | None = None,
) -> list[nn.Module]:
    """Train one student per recipe, all at once; return them in the recipes' order.

    Each student is built by ``make_student()`` under its recipe's seed, draws its own
    minibatches (with replacement) from its ``examples`` with a generator seeded the same way,
    and minimises :func:`distillation_loss` with Adam. A student trained alone or in a batch
    sees the same data and starts from the same weights. Students may use dropout (each gets
    its own masks) but not batch norm: buffers are not updated. For models of different sizes
    trained at once, see :func:`labsupport.sweep.train.train_sweep` (module docstring).

    Args:
        make_student: builds one (untrained) student; every call must give the same architecture.
        recipes: one :class:`Recipe` per student.
        x: ``(N, ...)`` inputs of the transfer set.
        labels: ``(N,)`` class indices, :data:`UNLABELED` for inputs without a label.
        teacher_logits: ``(N, C)`` teacher outputs on ``x``; needed when any ``alpha < 1``.
        steps, batch_size, lr: the optimisation, the same for every student.
        device: where to train (default: the device of ``x``).
    """
    function("make_student", make_student)
    recipes = list(recipes)
    if not recipes or not all(isinstance(r, Recipe) for r in recipes):
        kinds = sorted({type(r).__name__ for r in recipes}) or "nothing"
        raise TypeError(f"recipes must be a non-empty sequence of Recipe, got {kinds}")
    tensor("x", x)
    tensor("labels", labels, ndim=1)
    if labels.shape != x.shape[:1]:
        raise ValueError(
            f"labels must hold one label per input: x has {len(x)} rows, labels has shape {tuple(labels.shape)}"
        )
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    number_in("lr", lr, 0, low_open=True)
    n = len(labels)
    for r in recipes:
        if r.examples.min() < 0 or r.examples.max() >= n:
            raise ValueError(f"recipe with seed {r.seed} has example indices outside [0, {n})")
        if r.alpha > 0 and (labels[r.examples] == UNLABELED).any():
            raise ValueError(f"recipe with seed {r.seed} uses hard labels (alpha > 0) on unlabeled inputs")
    if teacher_logits is None:
        if any(r.alpha < 1 for r in recipes):
            raise ValueError("teacher_logits are needed when a recipe has alpha < 1")
    elif teacher_logits.shape[0] != n:
        raise ValueError(f"teacher_logits must have one row per input ({n}), got {teacher_logits.shape[0]}")
    device = torch.device(device) if device is not None else x.device

    students = []
    for r in recipes:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(r.seed)
            students.append(make_student().to(device))
    params, buffers = stack_module_state(students)  # each (S, ...)
    template = copy.deepcopy(students[0]).to("meta")

    def forward(p: dict, b: dict, xb: torch.Tensor) -> torch.Tensor:
        return functional_call(template, (p, b), (xb,))

    batched_forward = vmap(forward, randomness="different")  # each student its own dropout masks
    x, labels = x.to(device), labels.to(device)
    if teacher_logits is not None:
        teacher_logits = teacher_logits.to(device)
    pools = [r.examples.to(device) for r in recipes]
    generators = [torch.Generator().manual_seed(r.seed) for r in recipes]
    T = torch.tensor([r.temperature for r in recipes], device=device).unsqueeze(1)  # (S, 1)
    alpha = torch.tensor([r.alpha for r in recipes], device=device).unsqueeze(1)  # (S, 1)
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    for _ in range(steps):
        idx = torch.stack(
            [
                pool[torch.randint(len(pool), (batch_size,), generator=g).to(device)]
                for pool, g in zip(pools, generators, strict=True)
            ]
        )  # (S, B)
        out = batched_forward(params, buffers, x[idx])  # (S, B, C)
        # Without a teacher (alpha = 1 everywhere) the soft term is zero; any logits will do.
        soft_targets = out.detach() if teacher_logits is None else teacher_logits[idx]
        # Summing over students keeps each student's gradient what it would be alone.
        loss = distillation_loss(out, soft_targets, labels[idx], temperature=T, alpha=alpha) * len(recipes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        for i, student in enumerate(students):
            for name, p in student.named_parameters():
                p.copy_(params[name][i])
    for student in students:
        student.eval()
    return students
