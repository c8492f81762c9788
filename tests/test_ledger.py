"""labsupport.ledger: every lab's summary reaches the ledger, and Lab 8 builds its table from it."""

from __future__ import annotations

import json

import pytest

from labsupport.ledger import LEVERS, build_verdict, load_ledger, record_lab, reference_run, verdict_table
from labsupport.report import report_summary

REFERENCE = {
    "profile": "cpu",
    "labs": {
        lab: [("quantity A", f"ref {i}", "paper A"), ("quantity B", "ref", "paper B")]
        for i, lab in enumerate(LEVERS)
    },
}


def test_the_shipped_reference_run_covers_every_lab():
    reference = reference_run()
    assert reference["profile"] == "cpu"
    assert set(reference["labs"]) == set(LEVERS)
    for lab, rows in reference["labs"].items():
        assert rows and all(len(row) == 3 and all(isinstance(c, str) and c for c in row) for row in rows), lab


def test_a_ledger_from_all_eight_labs_fills_every_row(tmp_path):
    path = tmp_path / "ledger.json"
    for i, lab in enumerate(LEVERS):
        record_lab(
            lab, [("quantity A", f"mine {i}", "paper A"), ("quantity B", "mine", "paper B")], "cpu", path
        )
    table = build_verdict(load_ledger(path), REFERENCE)
    assert table.missing == []
    assert len(table.rows) == 2 * len(LEVERS)
    assert all(row[2].startswith("mine") for row in table.rows)
    assert table.rows[0] == ("parameters and FLOPs (Lab 1)", "quantity A", "mine 0", "ref 0", "paper A")
    text = table.markdown()
    assert "Not run in this environment" not in text and "| mine 7 | ref 7 |" in text


def test_an_empty_ledger_falls_back_visibly_to_the_reference(tmp_path):
    table = build_verdict(load_ledger(tmp_path / "none.json"), REFERENCE)
    assert table.missing == list(LEVERS)
    assert all(row[2] == "—" and row[3].startswith("ref") for row in table.rows)
    text = table.markdown()
    assert "Not run in this environment: Lab 1, Lab 2" in text and "Lab 8" in text
    assert "LABSUPPORT_CACHE" in text, "say how to keep the ledger on Colab"


def test_a_partial_ledger_in_another_profile_says_so(tmp_path):
    path = tmp_path / "ledger.json"
    record_lab("04_distillation", [("quantity A", "mine", "paper A")], "smoke", path)
    table = build_verdict(load_ledger(path), REFERENCE)
    assert "04_distillation" not in table.missing and len(table.missing) == 7
    rows = [r for r in table.rows if r[0].startswith("distillation") or r[1] == "quantity B"]
    assert ("distillation (Lab 4)", "quantity A", "mine", "ref 3", "paper A") in rows
    assert "`smoke` profile" in table.markdown()


def test_a_damaged_ledger_is_reported_and_treated_as_empty(tmp_path, capsys):
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    assert load_ledger(path) == {}
    assert "could not be read" in capsys.readouterr().out
    record_lab("01_complexity", [("q", "m", "p")], "cpu", path)
    assert json.loads(path.read_text())["01_complexity"]["rows"] == [["q", "m", "p"]]


def test_report_summary_writes_its_table_to_the_learners_ledger(monkeypatch, tmp_path):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))
    monkeypatch.setenv("LABSUPPORT_PROFILE", "smoke")
    report_summary("03_memorization", {"x": 1.0}, table=[("train accuracy", "100%", "100% (Zhang)")])
    ledger = load_ledger()
    assert ledger["03_memorization"]["rows"] == [["train accuracy", "100%", "100% (Zhang)"]]
    assert ledger["03_memorization"]["profile"] == "smoke"
    lab3 = next(row for row in verdict_table().rows if row[0] == "memorization capacity (Lab 3)")
    assert lab3[1:3] == ("train accuracy", "100%")


def test_record_lab_on_a_read_only_folder_reports_instead_of_failing(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        record_lab("01_complexity", [("q", "m", "p")], "cpu", folder / "ledger.json")
    finally:
        folder.chmod(0o700)
    out = capsys.readouterr().out
    assert (
        "could not be added to the ledger" in out or (folder / "ledger.json").exists()
    )  # root ignores modes


@pytest.mark.parametrize("bad", [None, 3])
def test_build_verdict_ignores_nothing_silently(bad):
    table = build_verdict({"01_complexity": bad}, REFERENCE)
    assert "01_complexity" in table.missing


def test_the_verdict_table_carries_the_learners_predictions(monkeypatch, tmp_path):
    from labsupport.predictions import predict

    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))
    predict("Speed-up of the cheap draft (x)", 2.0).reveal(1.5)
    predict("Which wins?", "MoE", choices=("MoE", "dense")).reveal("dense")
    text = verdict_table(tmp_path / "none.json").markdown()
    assert "Your predictions across the labs: 2 revealed." in text
    assert "1 of 1 numeric guesses within a factor of 2; 0 of 1 choices right" in text
