"""A lab's headline numbers: shown to the learner, and read back by the tests.

Every lab ends with one call::

    report_summary("03_memorization", {"random_labels_train_accuracy": 1.0, ...}, timings={...})

``values`` are the results a seed fixes: two runs on one machine give the same ones.
``timings`` are wall-clock measurements, which vary from run to run. The learner sees a table. The same numbers travel in the cell's output under the MIME type
:data:`SUMMARY_MIME` (JSON), which ``tests/effects/`` reads from the executed notebook to
assert each claim of the lab's chapter on the lab's own run. The numbers are the lab's
result, so a test never re-implements the experiment.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

SUMMARY_MIME = "application/vnd.labsupport.summary+json"

Value = bool | int | float | str | None


def _clean(key: str, value: Any) -> Value | list[Value]:
    """A JSON-ready copy of one summary value (non-finite floats become None)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Sequence):
        items = [_clean(key, item) for item in value]
        if any(isinstance(item, list) for item in items):
            raise TypeError(f"summary value {key!r} must be a flat list, got a nested one")
        return items
    hint = " (call .item() or .tolist() on a tensor)" if hasattr(value, "tolist") else ""
    raise TypeError(
        f"summary value {key!r} must be a number, a string, a bool, None or a list of them, "
        f"got {type(value).__name__}{hint}"
    )


def _text(value: Value | list[Value]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def summary_text(values: Mapping[str, Value | list[Value]]) -> str:
    """The summary as an aligned two-column text table."""
    width = max(len(key) for key in values)
    return "\n".join(f"{key:<{width}}  {_text(value)}" for key, value in values.items())


def comparison_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Markdown for the learner's summary: one row per headline, what this run measured beside
    what the paper (or the chapter) reports."""
    if not rows or not all(isinstance(r, tuple) and len(r) == 3 for r in rows):
        raise ValueError(
            f"table must be a non-empty list of (quantity, measured, reported) tuples, got {rows!r}"
        )
    lines = ["| | you measured | the paper reports |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {reported} |" for what, measured, reported in rows]
    return "\n".join(lines)


def report_summary(
    lab: str,
    values: Mapping[str, Any],
    *,
    timings: Mapping[str, Any] | None = None,
    table: Sequence[tuple[str, str, str]] | None = None,
) -> None:
    """Display a lab's headline numbers (a table) with a machine-readable copy for the tests.

    Args:
        lab: the lab's file stem, e.g. ``"03_memorization"``.
        values: name -> number, string, bool, None or flat list of those: the results that
            the seed fixes. Names are identifiers (``snake_case``), so a test can read them.
        timings: the same for wall-clock measurements (seconds, speed-ups), which vary
            from run to run.
        table: what the learner sees: ``(quantity, measured, reported)`` rows of text, shown
            as a short "you measured / the paper reports" table. Without it, every value is
            listed.

    The displayed payload is ``{"lab": lab, "values": {...}, "timings": {...}}`` under
    :data:`SUMMARY_MIME`, with ``"table"`` when a table is given; the table's rows are also
    written to the learner's verdict ledger (:mod:`labsupport.ledger`), which Lab 8 reads.
    """
    if not isinstance(lab, str) or not lab:
        raise TypeError(f"lab must be the lab's file stem, a non-empty string, got {lab!r}")
    if not isinstance(values, Mapping) or not values:
        raise ValueError(f"values must be a non-empty mapping of name -> number, got {values!r}")
    timings = {} if timings is None else timings
    if not isinstance(timings, Mapping):
        raise TypeError(f"timings must be a mapping of name -> number, got {type(timings).__name__}")
    for key in [*values, *timings]:
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"summary names must be identifiers like 'test_error', got {key!r}")
    if both := set(values) & set(timings):
        raise ValueError(f"names in both values and timings: {sorted(both)}")
    payload = {
        "lab": lab,
        "values": {key: _clean(key, value) for key, value in values.items()},
        "timings": {key: _clean(key, value) for key, value in timings.items()},
    }
    from IPython.display import display

    if table is not None:
        markdown = comparison_table(table)
        payload["table"] = [list(row) for row in table]
        from labsupport.env import get_profile
        from labsupport.ledger import record_lab

        record_lab(lab, table, get_profile())
        display({SUMMARY_MIME: payload, "text/markdown": markdown, "text/plain": markdown}, raw=True)
        return
    text = f"Summary of lab {lab}\n" + summary_text(payload["values"])
    if payload["timings"]:
        text += "\nmeasured on this machine (varies from run to run):\n" + summary_text(payload["timings"])
    display({SUMMARY_MIME: payload, "text/plain": text}, raw=True)
