"""The effect layer: each lab runs once in the ``cpu`` profile, as a learner runs it.

Every test here reads the numbers the lab itself reports (its ``report_summary`` cell) and
asserts a claim its chapter makes. Nothing re-implements a lab: if a lab's code or
configuration drifts, these tests see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.labrun import ROOT, execute_lab, summary

#: Each run's summary is also written here (ignored by git), for the closing notes and for a
#: reader who wants the numbers the assertions saw.
ARTIFACTS = ROOT / "tests" / "artifacts" / "effects"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/effects/" in str(item.path):
            item.add_marker(pytest.mark.effects)


@pytest.fixture(scope="session")
def cpu_run(session_cache) -> Callable[[str], dict[str, Any]]:
    """``cpu_run(stem)``: the summary of one cpu-profile run of that lab (run once per session)."""
    runs: dict[str, dict[str, Any]] = {}

    def get(stem: str) -> dict[str, Any]:
        if stem not in runs:
            runs[stem] = summary(execute_lab(stem, profile="cpu", cache=session_cache))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / f"{stem}.json").write_text(json.dumps(runs[stem], indent=1))
        return runs[stem]

    return get
