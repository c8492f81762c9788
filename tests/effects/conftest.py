"""The effect layer: each lab runs once in the ``cpu`` profile, as a learner runs it.

Every test here reads the numbers the lab itself reports (its ``report_summary`` cell) and
asserts a claim its chapter makes. Nothing re-implements a lab: if a lab's code or
configuration drifts, these tests see it.

Numeric claims go through the ``claim`` fixture, which also records the value, the threshold
and the slack (how far the value is from failing, relative to the threshold) in
``tests/artifacts/effects/claims.jsonl``; ``python -m tests.report`` prints the thinnest
margins, so a claim drifting toward its threshold shows before it flips.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.labrun import ROOT, lab_env, run_lab, summary

#: Each run's summary and each claim are also written here (ignored by git), for the closing
#: notes and for a reader who wants the numbers the assertions saw.
ARTIFACTS = ROOT / "tests" / "artifacts" / "effects"
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/effects/" in str(item.path):
            item.add_marker(pytest.mark.effects)


@pytest.fixture(scope="session")
def cpu_run(session_cache) -> Callable[[str], dict[str, Any]]:
    """``cpu_run(stem)``: the summary of the lab's cpu-profile run (from the run store, where
    ``make test`` may have put it before the streams started; else run now, once)."""
    runs: dict[str, dict[str, Any]] = {}

    def get(stem: str) -> dict[str, Any]:
        if stem not in runs:
            runs[stem] = summary(run_lab("cpu", stem, lab_env("cpu", session_cache)))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / f"{stem}.json").write_text(json.dumps(runs[stem], indent=1))
        return runs[stem]

    return get


def slack(value: float, op: str, threshold: float) -> float:
    """How far ``value`` is from failing ``value op threshold``, relative to the threshold
    (0.25: a quarter of the threshold to spare; negative: the claim fails)."""
    scale = abs(threshold) or 1.0
    return (value - threshold) / scale if op in (">", ">=") else (threshold - value) / scale


@pytest.fixture
def claim(request) -> Callable[..., None]:
    """``claim(name, value, op, threshold, why)``: assert ``value op threshold`` and record it."""

    def check(name: str, value: float, op: str, threshold: float, why: str = "") -> None:
        if op not in OPERATORS:
            raise ValueError(f"op must be one of {sorted(OPERATORS)}, got {op!r}")
        if value is None:
            raise AssertionError(f"{name}: the lab reported no value (None) {why}")
        record = {
            "test": request.node.nodeid,
            "name": name,
            "value": value,
            "op": op,
            "threshold": threshold,
            "slack": slack(value, op, threshold),
            "pid": os.getpid(),
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with open(ARTIFACTS / "claims.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        assert OPERATORS[op](value, threshold), f"{name} = {value:.4g}, wanted {op} {threshold:.4g}: {why}"

    return check
