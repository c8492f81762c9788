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
