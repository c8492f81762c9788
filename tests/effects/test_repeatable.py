"""Seeds make a lab repeatable: two runs on one machine report the same numbers.

Each lab runs twice in ``smoke``: first with an empty cache (it trains and saves what it
caches), then with that cache (it loads it). The seeded values must be equal; wall-clock
timings are reported apart and left out.
"""

import pytest

from tests.labrun import LABS, execute_lab, summary


@pytest.mark.parametrize("stem", [p.stem for p in LABS])
def test_two_runs_give_the_same_summary(tmp_path, stem):
    first = summary(execute_lab(stem, profile="smoke", cache=tmp_path))
    second = summary(execute_lab(stem, profile="smoke", cache=tmp_path))
    assert first["values"] == second["values"]
