"""Predict, then run: a learner's guesses, set beside what their run measured.

A lab asks before a run whose outcome is uncertain::

    guess = predict("The CNN's test accuracy on MNIST-1D (0 to 1)", ...)

The learner replaces ``...`` with a number (or, with ``choices``, one of the choices) and runs
the cell. After the run, ``guess.reveal(measured)`` prints the guess beside the measurement.
Every guess and every measurement is kept in a course-long record in the course's cache folder,
so ``prediction_record()`` (Lab 8) can show how well calibrated the learner was across the labs.

A prediction left as ``...`` is allowed: the lab runs on and says that no guess was made. That
is how nbgrader's autograder and the course's tests run the labs.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labsupport.cache import cache_dir

#: A guess that has not been made yet: the notebook's ``...``.
NO_GUESS = Ellipsis


def record_path() -> Path:
    """The JSON file that keeps every prediction of this course (in the cache folder)."""
    return cache_dir() / "predictions.json"


def _load() -> dict[str, dict[str, Any]]:
    path = record_path()
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        # A damaged record is started afresh rather than stopping a lab: say so.
        print(f"(the prediction record {path} could not be read; starting a new one)")
        return {}
    return record if isinstance(record, dict) else {}


def _save(record: dict[str, dict[str, Any]]) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _text(value: object) -> str:
    if _is_number(value):
        return f"{value:.3g}"
    return str(value)


@dataclass(frozen=True)
class Prediction:
    """One question and the learner's guess (``None`` when no guess was made)."""

    question: str
    guess: float | str | None
    choices: tuple[str, ...] | None = None

    def reveal(self, measured: float | str) -> str:
        """Print the guess beside ``measured``, keep both in the record, return the line."""
        if self.choices is not None:
            if measured not in self.choices:
                raise ValueError(f"measured must be one of {self.choices}, got {measured!r}")
        elif not _is_number(measured):
            raise TypeError(f"measured must be a number for {self.question!r}, got {measured!r}")
        record = _load()
        entry = record.setdefault(self.question, {"guess": self.guess})
        entry.update(measured=float(measured) if _is_number(measured) else measured, revealed=time.time())
        _save(record)
        if self.guess is None:
            line = f"{self.question}: your run measured {_text(measured)} (you made no prediction)."
        elif self.choices is not None:
            verdict = "right" if self.guess == measured else "not what you predicted"
            line = f"{self.question}: you predicted {self.guess}; your run says {measured} ({verdict})."
        else:
            line = f"{self.question}: you predicted {_text(self.guess)}; your run measured {_text(measured)}"
            if self.guess and measured and (self.guess > 0) == (measured > 0):
                line += f" ({float(measured) / float(self.guess):.2g} × your guess)."
            else:
                line += "."
        print(line)
        return line


def predict(question: str, guess: Any = NO_GUESS, *, choices: tuple[str, ...] | None = None) -> Prediction:
    """Record the learner's guess before a run; call ``.reveal(measured)`` on the result after it.

    Args:
        question: what is predicted, with its unit, e.g. ``"Speed-up of the cheap draft (×)"``.
        guess: a number, or one of ``choices``; ``...`` (the default) means no guess yet.
        choices: the possible answers when the question is a choice, e.g. ``("MoE", "dense")``.

    Raises:
        TypeError / ValueError: when the guess is neither ``...`` nor of the expected kind.
    """
    if not isinstance(question, str) or not question.strip():
        raise TypeError(f"question must be a non-empty string, got {question!r}")
    if choices is not None:
        choices = tuple(choices)
        if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
            raise ValueError(f"choices must be two or more strings, got {choices!r}")
    if guess is NO_GUESS:
        print(f"No prediction yet for: {question}. Replace ... with your guess and run this cell again.")
        return Prediction(question, None, choices)
    if choices is not None and guess not in choices:
        raise ValueError(f"your guess must be one of {choices}, got {guess!r}")
    if choices is None and not (_is_number(guess) and math.isfinite(guess)):
        raise TypeError(f"your guess must be a finite number (or ... for none), got {guess!r}")
    record = _load()
    record[question] = {"guess": float(guess) if _is_number(guess) else guess, "predicted": time.time()}
    _save(record)
    print(f"Recorded your prediction: {_text(guess)}.")
    return Prediction(question, float(guess) if _is_number(guess) else guess, choices)


def revealed() -> list[dict[str, Any]]:
    """Every revealed prediction of the course so far: ``question``, ``guess``, ``measured`` and,
    for numbers, ``ratio`` (measured / guess)."""
    rows = []
    for question, entry in _load().items():
        if entry.get("guess") is None or "measured" not in entry:
            continue
        guess, measured = entry["guess"], entry["measured"]
        ratio = None
        if _is_number(guess) and _is_number(measured) and guess and (guess > 0) == (measured > 0):
            ratio = measured / guess
        rows.append({"question": question, "guess": guess, "measured": measured, "ratio": ratio})
    return rows


def calibration(rows: list[dict[str, Any]]) -> str:
    """One line on how close the guesses in ``rows`` (from :func:`revealed`) came."""
    numeric = [r["ratio"] for r in rows if r["ratio"] is not None]
    chosen = [r for r in rows if not _is_number(r["guess"])]
    parts = []
    if numeric:
        close = sum(0.5 <= r <= 2 for r in numeric)
        parts.append(f"{close} of {len(numeric)} numeric guesses within a factor of 2")
    if chosen:
        parts.append(f"{sum(r['guess'] == r['measured'] for r in chosen)} of {len(chosen)} choices right")
    return "Calibration: " + ("; ".join(parts) if parts else "no revealed guesses yet") + "."


def prediction_record() -> list[dict[str, Any]]:
    """Every revealed prediction of the course so far, printed as a table with a calibration line.

    Returns one dict per question: ``question``, ``guess``, ``measured`` and, for numbers,
    ``ratio`` (measured / guess).
    """
    rows = revealed()
    if not rows:
        print("No revealed predictions yet: the labs' predict(...) cells keep them once you fill them in.")
        return rows
    for row in rows:
        note = (
            f"{row['ratio']:.2g} ×"
            if row["ratio"] is not None
            else ("right" if row["guess"] == row["measured"] else "wrong")
        )
        print(f"{row['question'][:60]:<60}  {_text(row['guess']):>8}  {_text(row['measured']):>8}  {note}")
    print(calibration(rows))
    return rows
