"""The reference run (``labsupport/reference_run.json``) is what the labs' cpu runs report.

Lab 8's verdict table and the book's reference page show it beside the learner's numbers, so
it must not drift from the labs: each lab's summary table, from its own cpu run, must have the
reference's rows (same quantities, same papers) and, but for timings, the same numbers (to the
last digit shown). When a lab changes on purpose, ``python -m tools.reference_run`` remakes it
from the run store.
"""

from __future__ import annotations

import re

import pytest

from labsupport.ledger import LEVERS, reference_run

NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?")
#: Rows that are wall-clock measurements of this machine: compared by name only.
TIMED = ("rate", "time", "throughput", "speed-up", "step /")
REMAKE = "the lab changed: remake the reference with `python -m tools.reference_run tests/artifacts/runs`"


def close(got: str, want: str) -> bool:
    """Same text and, number by number, equal to within one unit of the last digit shown (or 2%)."""
    if NUMBER.sub("#", got) != NUMBER.sub("#", want):
        return False
    for a, b in zip(NUMBER.findall(got), NUMBER.findall(want), strict=True):
        x, y = float(a.replace(",", "")), float(b.replace(",", ""))
        digits = len(b.split(".")[1].split("e")[0]) if "." in b else 0
        if abs(x - y) > max(10.0**-digits, 0.02 * abs(y)):
            return False
    return True


@pytest.mark.parametrize("stem", list(LEVERS))
def test_the_reference_run_is_the_labs_own_cpu_run(cpu_run, stem):
    reference = reference_run()["labs"][stem]
    table = cpu_run(stem).get("table")
    assert table, f"{stem}'s summary has no table"
    assert [r[0] for r in table] == [r[0] for r in reference] or len(table) == len(reference), REMAKE
    for (quantity, measured, paper), (ref_quantity, ref_measured, ref_paper) in zip(
        table, reference, strict=True
    ):
        assert paper == ref_paper, f"{stem}, {quantity!r}: the paper column changed. {REMAKE}"
        assert close(quantity, ref_quantity), f"{stem}: {quantity!r} != {ref_quantity!r}. {REMAKE}"
        if not any(word in quantity for word in TIMED):
            assert close(measured, ref_measured), (
                f"{stem}, {quantity!r}: the cpu run measured {measured}, the reference says {ref_measured}. {REMAKE}"
            )
