"""Lab 8's checks: the learner's plan, their size decision and their deployed format.

The capstone's decision is the learner's, so these checks test properties of a choice, never
compare it with one right answer: :func:`check_plan` runs the learner's planning procedure
under several laws, targets and query volumes and tests that each answer reaches its target
with no more data than it needs and that no other width is cheaper; :func:`check_decision`
tests a ``decision`` dict (fields and types, the target reached under the learner's own law,
a total cost within a stated margin of the cheapest width, and, for a changed volume, that
``moves`` says what the widths say); :func:`check_format` tests the deployed format against
the memory budget and the measured losses. A failure says what is wrong and, for a known
mistake, what it suggests; it never names the better width or format.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from labsupport.rightsize import tokens_for_loss
from labsupport.scaling import ChinchillaLaw

#: Training plus inference FLOPs of ``N`` parameters trained on ``D`` samples and asked ``Q``
#: queries (Chapter 8): ``6 N D + 2 N Q``.
TotalCost = Callable[[float, float, float], float]


def total_flops(N: float, D: float, queries: float) -> float:
    """Training plus inference: ``6 N D + 2 N Q`` (the lab's own ``total_flops``)."""
    return 6 * N * D + 2 * N * queries


def _needed(
    law: ChinchillaLaw, widths: Iterable[int], parameters: Callable[[int], float], target: float
) -> dict:
    """Width -> the data it needs to reach ``target`` under ``law`` (only the widths that can)."""
    need = {w: tokens_for_loss(law, parameters(w), target) for w in widths}
    return {w: D for w, D in need.items() if math.isfinite(D)}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _loss(law: ChinchillaLaw, N: float, D: float) -> float:
    return float(law(N, D))


def check_plan(
    plan: Callable[..., Any],
    law: ChinchillaLaw,
    target: float,
    *,
    widths: Iterable[int],
    parameters: Callable[[int], float],
    cost: TotalCost = total_flops,
) -> None:
    """Check ``plan(law, target, queries, widths) -> (width, tokens)`` by its properties.

    It runs under ``law`` at ``target`` and at an easier target, and under a second law (the
    first with twice its data term and a lower floor, so a plan that reads a global law
    fails), at volumes from no queries to 10⁹. Each answer must be one of ``widths``, reach
    its target under the law it was given, with no more data than that width needs (1%), and
    no other width may reach the target for less in total at that volume. Two mistakes get a
    hint: choosing the cheapest width to train (the queries forgotten) and always choosing the
    smallest width that can reach the target.
    """
    if not callable(plan):
        raise AssertionError(f"plan: expected a function, got {type(plan).__name__}")
    widths = list(widths)
    other = replace(law, B=2 * law.B, E=law.E / 2)
    cases = [(law, target, "your law"), (law, 1.2 * target, "your law, an easier target")]
    cases.append((other, float(other(parameters(widths[len(widths) // 2]), 1e5)), "another law"))
    checked = 0
    for given, aim, which in cases:
        need = _needed(given, widths, parameters, aim)
        if not need:
            continue
        for queries in (0.0, 1e3, 1e5, 1e7, 1e9):
            where = f"plan under {which} (target {aim:.4g}) at {queries:.0e} queries"
            _check_one_plan(
                plan(given, aim, queries, widths), given, aim, queries, widths, need, where, parameters, cost
            )
            checked += 1
    print(
        f"✓ plan: in all {checked} cases the width reaches the target with the data it needs, and none is cheaper"
    )


def _check_one_plan(
    answer: Any,
    law: ChinchillaLaw,
    target: float,
    queries: float,
    widths: list[int],
    need: Mapping[int, float],
    where: str,
    parameters: Callable[[int], float],
    cost: TotalCost,
) -> None:
    if not (isinstance(answer, tuple) and len(answer) == 2):
        raise AssertionError(f"{where}: expected a pair (width, tokens), got {answer!r}")
    width, tokens = answer
    if width not in widths:
        raise AssertionError(f"{where}: the width {width!r} is not one of the grid's widths {widths}")
    if not _is_number(tokens) or not math.isfinite(tokens) or tokens <= 0:
        raise AssertionError(f"{where}: tokens must be a positive finite number, got {tokens!r}")
    N = parameters(width)
    if _loss(law, N, tokens) > target * (1 + 1e-6):
        raise AssertionError(
            f"{where}: width {width} on {tokens:.4g} samples reaches loss {_loss(law, N, tokens):.4g} "
            "under the law it was given, above the target (are the tokens what that width needs under "
            "this law? plan must use the law passed to it, not a global one)"
        )
    if _loss(law, N, tokens / 1.01) <= target:
        raise AssertionError(
            f"{where}: width {width} reaches the target with less data than {tokens:.4g} samples; "
            "every extra sample costs training"
        )
    mine = cost(N, tokens, queries)
    if any(cost(parameters(w), D, queries) < mine * (1 - 1e-9) for w, D in need.items()):
        train_only = min(need, key=lambda w: cost(parameters(w), need[w], 0.0))
        hint = ""
        if width == train_only and queries > 0:
            hint = " (your width is the cheapest to train: answering the queries costs 2 N per query too)"
        elif width == min(need):
            hint = (
                " (your width is the smallest that reaches the target: at this volume training weighs more)"
            )
        raise AssertionError(f"{where}: another width reaches the target for less in total{hint}")


def _field(name: str, decision: Mapping[str, Any], key: str) -> Any:
    if key not in decision:
        raise AssertionError(f"{name}: the field {key!r} is missing (fields: {sorted(decision)})")
    return decision[key]


def check_decision(
    name: str,
    decision: Any,
    *,
    law: ChinchillaLaw,
    target: float,
    widths: Iterable[int],
    parameters: Callable[[int], float],
    queries: float,
    margin: float = 0.05,
    previous: Mapping[str, Any] | None = None,
    cost: TotalCost = total_flops,
) -> None:
    """Check a size decision ``{"queries", "width", "tokens", "why"}`` (and ``"moves"`` when
    ``previous`` is given) by the properties the capstone asks of it.

    ``queries`` must be the volume decided for; ``width`` one of ``widths``; ``tokens`` a
    positive number; ``why`` a justification of at least ten words that cites a number. Under
    ``law`` the width trained on ``tokens`` must reach ``target``, and its total cost at
    ``queries`` must be within ``margin`` of the cheapest width that reaches the target; with
    ``previous``, ``moves`` must be ``True`` exactly when the width differs from the previous
    decision's. A failure never names the cheaper width.
    """
    if decision is None or decision is Ellipsis:
        raise AssertionError(f"{name}: no answer yet (got {decision!r}); fill in the exercise cell first")
    if not isinstance(decision, Mapping):
        raise AssertionError(f"{name}: expected a dict of fields, got {type(decision).__name__}")
    widths = list(widths)
    stated, width, tokens, why = (_field(name, decision, k) for k in ("queries", "width", "tokens", "why"))
    if not _is_number(stated) or not math.isclose(float(stated), queries, rel_tol=1e-9):
        raise AssertionError(
            f"{name}: 'queries' should be the volume this decision is for, {queries:.3g}; got {stated!r}"
        )
    if width not in widths:
        raise AssertionError(f"{name}: 'width' must be one of the grid's widths {widths}, got {width!r}")
    if not _is_number(tokens) or not math.isfinite(tokens) or tokens <= 0:
        raise AssertionError(
            f"{name}: 'tokens' must be a positive number of training samples, got {tokens!r}"
        )
    if not isinstance(why, str) or len(why.split()) < 10 or not any(ch.isdigit() for ch in why):
        raise AssertionError(
            f"{name}: 'why' should say in a sentence or two (at least ten words) why, citing at least "
            "one number of your run"
        )
    N = parameters(width)
    reached = _loss(law, N, tokens)
    if reached > target * (1 + 1e-3):
        raise AssertionError(
            f"{name}: width {width} trained on {tokens:.4g} samples reaches loss {reached:.4g} under your law, "
            f"above the target {target:.4g}: it needs more data, or a larger width"
        )
    need = _needed(law, widths, parameters, target)
    mine = cost(N, tokens, queries)
    if any(cost(parameters(w), D, queries) * (1 + margin) < mine for w, D in need.items()):
        raise AssertionError(
            f"{name}: at {queries:.3g} queries another width reaches the target for more than "
            f"{margin:.0%} less in total (training plus answering)"
        )
    if previous is not None:
        moves = _field(name, decision, "moves")
        if not isinstance(moves, bool):
            raise AssertionError(f"{name}: 'moves' must be True or False, got {moves!r}")
        if moves != (width != previous.get("width")):
            said = "moves" if moves else "stays"
            raise AssertionError(
                f"{name}: 'moves' says the decision {said}, but its width is "
                f"{'the same as' if width == previous.get('width') else 'not'} the first decision's"
            )
    print(
        f"✓ {name}: width {width} on {tokens:.3g} samples reaches the target, within {margin:.0%} of the cheapest"
    )


def check_format(
    decision: Mapping[str, Any],
    *,
    sizes: Mapping[str, float],
    losses: Mapping[str, float],
    budget: float,
    margin: float = 0.02,
) -> None:
    """Check ``decision["format"]``: a measured format that fits ``budget`` bytes, with a test
    loss within ``margin`` of the best format that fits. A failure never names a better one."""
    if not isinstance(decision, Mapping) or "format" not in decision:
        raise AssertionError('decision["format"]: no answer yet; set it to the name of a format')
    chosen = decision["format"]
    if chosen not in sizes or chosen not in losses:
        raise AssertionError(
            f'decision["format"] must be one of the measured formats {list(sizes)}, got {chosen!r}'
        )
    if sizes[chosen] > budget:
        raise AssertionError(
            f'decision["format"] = {chosen!r} takes {sizes[chosen]:.0f} bytes, over the budget'
        )
    best = min(losses[f] for f in sizes if sizes[f] <= budget)
    if losses[chosen] > best * (1 + margin):
        raise AssertionError(
            f'decision["format"] = {chosen!r} fits, but another format that fits has a test loss more than '
            f"{margin:.0%} lower"
        )
    print(
        f'✓ decision["format"] = {chosen!r} fits the budget, within {margin:.0%} of the best loss that fits'
    )
