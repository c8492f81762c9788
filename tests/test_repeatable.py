"""Seeds make a lab repeatable: two runs on one machine report the same numbers.

The two runs are ones the suite makes anyway: nbval's run of each lab (smoke, widgets live),
which starts from an empty course cache and so trains and saves what the lab caches, and the
book's run of the same lab (smoke, static widgets) in the same session, which finds that cache
full and loads it. The seeded values must be equal; wall-clock timings are reported apart and
left out. (Both widget modes draw each plot once, at its defaults: labsupport/widgets.py.)
"""

import nbformat
import pytest

from tests.labrun import LABS, stored, summary

pytestmark = [pytest.mark.book, pytest.mark.timeout(1800)]
NO_COLD_RUN = "the cold run is nbval's: run the labs in the same session (pytest labs tests --nbval-lax)"


@pytest.fixture(scope="module")
def cold_runs(nbval_runs, session_cache):
    if len(nbval_runs["runs"]) < len(LABS) or nbval_runs["cold"] is not True:
        pytest.skip(NO_COLD_RUN)
    return nbval_runs


def test_the_book_loaded_what_the_cold_runs_cached(cold_runs, built_book, session_cache):
    """The warm run really is warm: the checkpoints the cold runs trained are in the cache."""
    names = {path.name for path in session_cache.rglob("*")}
    for checkpoint in ("lab04-teacher-smoke", "lab06-mlp-smoke"):
        assert any(name.startswith(checkpoint) for name in names), f"{checkpoint} is not in the cache"


@pytest.mark.parametrize("stem", [p.stem for p in LABS])
def test_a_cold_and_a_warm_run_give_the_same_summary(cold_runs, built_book, stem):
    result, html = built_book
    executed = html.parent / "jupyter_execute" / "labs" / f"{stem}.ipynb"
    if not executed.exists():
        pytest.fail(
            f"the book did not execute {stem} (no {executed}); see test_book.py\n{result.stderr[-2000:]}"
        )
    cold = stored("smoke", stem)
    assert cold is not None, f"nbval ran {stem} but the run store has no smoke run of it"
    warm = nbformat.read(executed, as_version=4)
    assert summary(cold)["values"] == summary(warm)["values"]
