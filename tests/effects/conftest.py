"""The effect layer: each lab runs once in the ``cpu`` profile, as a learner runs it.

Every test here reads the numbers the lab itself reports (its ``report_summary`` cell) and
asserts a claim its chapter makes. Nothing re-implements a lab: if a lab's code or
configuration drifts, these tests see it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from tests.labrun import ROOT, execute_lab, summary

#: Each run's summary is also written here (ignored by git), for the closing notes and for a
#: reader who wants the numbers the assertions saw.
ARTIFACTS = ROOT / "tests" / "artifacts" / "effects"


#: The labs whose effect tests were collected (``test_labNN_<name>.py`` tests lab ``NN_<name>``).
COLLECTED: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/effects/" in str(item.path):
            item.add_marker(pytest.mark.effects)
            match = re.fullmatch(r"test_lab(\d\d_\w+)\.py", item.path.name)
            if match and match[1] not in COLLECTED:
                COLLECTED.append(match[1])


def _run(stem: str, cache: Any) -> dict[str, Any]:
    result = summary(execute_lab(stem, profile="cpu", cache=cache))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{stem}.json").write_text(json.dumps(result, indent=1))
    return result


@pytest.fixture(scope="session")
def cpu_run(session_cache) -> Iterator[Callable[[str], dict[str, Any]]]:
    """``cpu_run(stem)``: the summary of one cpu-profile run of that lab (run once per session).

    The first call starts every collected lab, two at a time (two cores, one torch thread per
    kernel), the one asked for first; later calls wait for theirs.
    """
    pool = ThreadPoolExecutor(max_workers=2)
    runs: dict[str, Future] = {}

    def get(stem: str) -> dict[str, Any]:
        if not runs:
            for name in [stem, *(s for s in COLLECTED if s != stem)]:
                runs[name] = pool.submit(_run, name, session_cache)
        if stem not in runs:
            runs[stem] = pool.submit(_run, stem, session_cache)
        return runs[stem].result()

    yield get
    pool.shutdown(cancel_futures=True)
