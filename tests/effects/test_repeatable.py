"""Seeds make a lab repeatable: two runs on one machine report the same numbers.

Each lab runs twice in ``smoke``: first with an empty cache (it trains and saves what it
caches), then with that cache (it loads it). The seeded values must be equal; wall-clock
timings are reported apart and left out. Two labs run at a time, each pair of runs in order.
"""

import pytest

from tests.labrun import LABS, execute_lab, result_of, summary, two_at_a_time


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict:
    def twice(stem: str) -> tuple[dict, dict]:
        cache = tmp_path_factory.mktemp(f"repeat-{stem}")
        first = summary(execute_lab(stem, profile="smoke", cache=cache))
        return first, summary(execute_lab(stem, profile="smoke", cache=cache))

    return two_at_a_time({lab.stem: (lambda stem=lab.stem: twice(stem)) for lab in LABS})


@pytest.mark.parametrize("stem", [p.stem for p in LABS])
def test_two_runs_give_the_same_summary(pairs, stem):
    first, second = result_of(pairs, stem)
    assert first["values"] == second["values"]
