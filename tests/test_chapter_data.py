"""The data tables the chapters draw from: every row has a source in references.bib."""

import csv
import re


def test_every_notable_model_row_cites_a_bib_entry(root):
    keys = set(re.findall(r"^@\w+\{([^,]+),", (root / "references.bib").read_text(), flags=re.M))
    rows = list(csv.DictReader((root / "chapters" / "data" / "notable_models.csv").open()))
    assert len(rows) >= 10
    for row in rows:
        sources = row["source"].split(";")
        assert sources and all(s in keys for s in sources), (row["model"], sources)
        assert 2017 <= int(row["year"]) <= 2026, row
        assert float(row["parameters"]) > 0, row
        for field in ("active_parameters", "training_tokens"):
            if row[field]:
                assert float(row[field]) > 0, row
        if row["active_parameters"]:
            assert float(row["active_parameters"]) < float(row["parameters"]), row
        if not row["training_tokens"]:
            assert row["note"], f"{row['model']}: say why the tokens are missing"


MONTHS = "January February March April May June July August September October November December"
DATED = re.compile(
    rf"^\*The evidence in this chapter runs to (?:(?:{'|'.join(MONTHS.split())}) )?(\d{{4}})\b"
)


def _bib_years(root) -> dict[str, int]:
    text = (root / "references.bib").read_text()
    years = {}
    for entry in re.split(r"^@", text, flags=re.M)[1:]:
        key = re.match(r"\w+\{([^,]+),", entry)
        year = re.search(r"^\s*year\s*=\s*\{?(\d{4})", entry, flags=re.M)
        if key and year:
            years[key.group(1).strip()] = int(year.group(1))
    return years


def test_every_chapter_dates_its_evidence_by_its_newest_source(root):
    """Near its top each chapter says how recent its evidence is: the year of its newest citation."""
    years = _bib_years(root)
    for chapter in sorted((root / "chapters").glob("0[1-8]_*.md")):
        lines = chapter.read_text().splitlines()
        title = next(i for i, line in enumerate(lines) if line.startswith("# "))
        dated = [m for line in lines[title + 1 : title + 20] if (m := DATED.match(line))]
        assert dated, (
            f"{chapter.name}: no '*The evidence in this chapter runs to <Month> <year>' line near its top"
        )
        cited = re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", chapter.read_text())
        newest = max(years[key.strip()] for group in cited for key in group.split(","))
        assert int(dated[0].group(1)) == newest, f"{chapter.name}: the newest source cited is from {newest}"
