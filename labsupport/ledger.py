"""The verdict ledger: each lab's headline numbers, carried to the capstone.

Every lab ends with :func:`labsupport.report_summary`, whose "you measured / the paper reports"
rows are written here, into ``ledger.json`` in the course's cache folder, keyed by lab. Lab 8
calls :func:`verdict_table`, which lays Chapter 8's levers out with the learner's own numbers
beside the course's reference run (``reference_run.json``, shipped with the package and made
from the test suite's ``cpu`` runs by ``tools/reference_run.py``) and the papers' numbers.
A lab the learner has not run in this environment shows the reference run only, and says so.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from labsupport.cache import CACHE_ENV, cache_dir

#: Lab -> the lever of Chapter 8's table that it measures.
LEVERS: dict[str, str] = {
    "01_complexity": "parameters and FLOPs",
    "02_scaling_laws": "parameters N and data D",
    "03_memorization": "memorization capacity",
    "04_distillation": "distillation",
    "05_mixture_of_experts": "sparsity (MoE)",
    "06_efficient_deployment": "precision, pruning, narrowing",
    "07_serving": "serving tricks",
    "08_capstone": "training past compute-optimal; inference compute",
}

#: How a Colab learner keeps the ledger across sessions (Colab's files last one session).
KEEP_ON_COLAB = (
    "On Colab the cache folder lasts one session. To keep your ledger from lab to lab, run this "
    "before the set-up cell of every lab: `from google.colab import drive; "
    "drive.mount('/content/drive'); import os; "
    f"os.environ['{CACHE_ENV}'] = '/content/drive/MyDrive/labsupport'`."
)

Rows = list[tuple[str, str, str]]


def ledger_path() -> Path:
    """The learner's ledger: ``ledger.json`` in the course's cache folder."""
    return cache_dir() / "ledger.json"


def load_ledger(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """``{lab: {"profile": ..., "rows": [[quantity, measured, reported], ...], "recorded": ...}}``.

    A missing ledger is empty; a damaged one is reported and treated as empty.
    """
    path = ledger_path() if path is None else Path(path)
    if not path.exists():
        return {}
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        print(f"(the ledger {path} could not be read; it is treated as empty)")
        return {}
    return ledger if isinstance(ledger, dict) else {}


def record_lab(
    lab: str, rows: Sequence[tuple[str, str, str]], profile: str, path: Path | None = None
) -> None:
    """Write ``lab``'s summary rows into the ledger (replacing an earlier run of that lab).

    A ledger that cannot be written (a read-only folder) is reported, never fatal: the lab's
    own results are already on the learner's screen.
    """
    path = ledger_path() if path is None else Path(path)
    ledger = load_ledger(path)
    ledger[lab] = {"profile": profile, "rows": [list(r) for r in rows], "recorded": time.time()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ledger, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        print(f"(this lab's numbers could not be added to the ledger {path}: {exc})")


def reference_run() -> dict[str, Any]:
    """The course's reference run: ``{"profile", "machine", "labs": {lab: rows}}``."""
    text = resources.files("labsupport").joinpath("reference_run.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class VerdictTable:
    """Chapter 8's levers with the learner's numbers, the reference run's and the papers'."""

    rows: list[tuple[str, str, str, str, str]]  # lever, quantity, yours, reference, paper
    missing: list[str]  # labs with no entry in the learner's ledger
    profiles: dict[str, str]  # lab -> the profile the learner ran it in
    reference_profile: str
    predictions: str = ""  # the learner's calibration line, from their revealed predictions

    def markdown(self) -> str:
        """The table and its notes as Markdown."""
        ref = f"reference run ({self.reference_profile})"
        lines = [
            f"| lever (lab) | quantity | you measured | {ref} | the paper reports |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {' | '.join(cells)} |" for cells in self.rows]
        notes = [f"Your predictions across the labs: {self.predictions}"] if self.predictions else []
        if self.missing:
            labs = ", ".join(f"Lab {int(lab[:2])}" for lab in self.missing)
            notes.append(
                f"**Not run in this environment: {labs}.** Their rows show the reference run only "
                f"(the course's own `{self.reference_profile}` run). Run those labs here to fill in "
                f"your column. {KEEP_ON_COLAB}"
            )
        other = sorted({p for p in self.profiles.values() if p != self.reference_profile})
        if other:
            notes.append(
                f"Some of your runs used the `{'`, `'.join(other)}` profile: their numbers are "
                "smaller experiments than the reference run's and can differ from it."
            )
        return "\n".join(lines) + ("\n\n" + "\n\n".join(notes) if notes else "")

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.markdown()


def build_verdict(ledger: Mapping[str, Mapping[str, Any]], reference: Mapping[str, Any]) -> VerdictTable:
    """The verdict table from a ledger and a reference run (both as :func:`load_ledger` and
    :func:`reference_run` return them). Rows pair by position within each lab."""
    rows: list[tuple[str, str, str, str, str]] = []
    missing, profiles = [], {}
    ref_labs = reference.get("labs", {})
    for lab, lever in LEVERS.items():
        ref_rows = [tuple(r) for r in ref_labs.get(lab, [])]
        entry = ledger.get(lab)
        mine = [tuple(r) for r in entry.get("rows", [])] if isinstance(entry, Mapping) else []
        if mine:
            profiles[lab] = str(entry.get("profile", "?"))
        else:
            missing.append(lab)
        label = f"{lever} (Lab {int(lab[:2])})"
        for i in range(max(len(ref_rows), len(mine))):
            quantity, yours, paper = mine[i] if i < len(mine) else ("", "—", "")
            ref_quantity, ref_value, ref_paper = ref_rows[i] if i < len(ref_rows) else ("", "—", "")
            rows.append(
                (label if i == 0 else "", quantity or ref_quantity, yours, ref_value, paper or ref_paper)
            )
    return VerdictTable(rows, missing, profiles, str(reference.get("profile", "cpu")))


def verdict_table(ledger_file: Path | None = None) -> VerdictTable:
    """Chapter 8's levers table built from this learner's ledger, beside the reference run.

    Displays as a Markdown table in a notebook; labs not run in this environment are listed
    under it, with how to keep the ledger on Colab.
    """
    from labsupport.predictions import calibration, revealed

    table = build_verdict(load_ledger(ledger_file), reference_run())
    guesses = revealed()
    line = f"{len(guesses)} revealed. {calibration(guesses)}" if guesses else ""
    return dataclasses.replace(table, predictions=line)
