"""The shape every lab and page must have (see "The lab format" in the README)."""

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from tools.sync_labs import (
    BADGE_RE,
    check_metadata,
    colab_badge,
    graded_check,
    is_checked,
    nbgrader_metadata,
    setup_cell_source,
    time_text,
)

LABS = sorted((Path(__file__).resolve().parents[1] / "labs").glob("*.ipynb"))
CITE_RE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")
BIB_KEY_RE = re.compile(r"^@\w+\{([^,\s]+),", re.MULTILINE)


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        if "root" in node:
            files.append(node["root"])
        for value in node.values():
            files += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            files += _toc_files(item)
    return files


@pytest.fixture(scope="module")
def toc_files(root):
    return _toc_files(yaml.safe_load((root / "_toc.yml").read_text()))


def _labs(root):
    return sorted((root / "labs").glob("*.ipynb"))


@pytest.fixture(params=LABS, ids=[p.stem for p in LABS])
def lab(request):
    path = request.param
    return path, json.loads(path.read_text())


def test_toc_entries_exist(root, toc_files):
    for entry in toc_files:
        assert any((root / f"{entry}{ext}").exists() for ext in ("", ".md", ".ipynb")), (
            f"{entry} in _toc.yml is missing"
        )


def test_every_lab_and_chapter_is_in_the_toc(root, toc_files):
    for path in _labs(root) + sorted((root / "chapters").glob("*.md")):
        assert path.relative_to(root).with_suffix("").as_posix() in toc_files, (
            f"{path.name} is not in _toc.yml"
        )


def test_lab_is_python3_and_clean(lab):
    path, nb = lab
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or is_checked(cell):
            continue
        assert not cell["outputs"] and cell["execution_count"] is None, (
            f"{path.name}: commit labs without outputs"
        )


def test_checked_cells_keep_only_small_text_outputs(lab):
    path, nb = lab
    for cell in filter(is_checked, nb["cells"]):
        assert cell["outputs"], (
            f"{path.name}: a # NBVAL_CHECK_OUTPUT cell needs its recorded output (python -m tools.sync_labs --record)"
        )
        for output in cell["outputs"]:
            assert output["output_type"] == "stream" and output["name"] == "stdout", f"{path.name}: text only"
            assert len("".join(output["text"])) < 2000


def test_title_cell(lab):
    path, nb = lab
    title = "".join(nb["cells"][0]["source"])
    assert title.startswith("# Lab "), path.name
    for part in ("Learning objectives", "Prerequisites", "Time", "smoke", "cpu", "gpu"):
        assert part in title, f"{path.name}: the title cell must state {part!r}"
    measured = time_text(path.stem)
    assert measured is not None, f"{path.name} is not in benchmarks/lab_times.md; run `make bench`"
    assert measured in title, (
        f"{path.name}: the title cell must state the measured {measured!r} (make sync-labs)"
    )
    badges = BADGE_RE.findall(title)
    assert badges == [colab_badge(path)], f"{path.name}: wrong Colab badge; run `make sync-labs`"


def test_setup_cell_is_canonical(lab):
    path, nb = lab
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "".join(first_code["source"]) == setup_cell_source(), f"{path.name}: run `make sync-labs`"


def test_config_dataclass_per_profile(lab):
    """One frozen Config whose for_profile writes cpu in full and the others as changes to it."""
    path, nb = lab
    configs = [
        c for c in nb["cells"] if c["cell_type"] == "code" and "def for_profile" in "".join(c["source"])
    ]
    assert len(configs) == 1, f"{path.name}: one config cell with Config.for_profile"
    code = "".join(configs[0]["source"])
    assert "@dataclass(frozen=True)" in code and "by_profile(" in code, path.name
    assert "cpu=cpu" in code, f"{path.name}: write the cpu profile in full, then `smoke=replace(cpu, ...)`"
    assert code.count("replace(") >= 2 and code.count("cls(") == 1, (
        f"{path.name}: smoke and gpu are `replace(cpu, ...)`, so a reader sees only what changes"
    )
    assert "cfg = Config.for_profile()" in code, path.name


def _solution_names(source: str) -> set[str]:
    """Names a top-level solution region binds (a region inside a function binds none a
    student must know: the function's signature is outside it)."""
    region = source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
    if not source.lstrip().startswith("### BEGIN SOLUTION"):
        return set()
    return {
        target.id
        for node in ast.parse(region).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_exercises_are_a_solution_cell_then_a_graded_check(lab):
    """nbgrader's form: the solution, then a locked check worth points (see tools/sync_labs.py)."""
    path, nb = lab
    cells = nb["cells"]
    solutions = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and "### BEGIN SOLUTION" in "".join(c["source"])
    ]
    assert solutions, f"{path.name}: no exercise in nbgrader form"
    headings = [c for c in cells if c["cell_type"] == "markdown" and "### Exercise" in "".join(c["source"])]
    assert len(headings) == len(solutions), f"{path.name}: one '### Exercise N' heading per exercise"
    for n, (i, heading) in enumerate(zip(solutions, headings, strict=True), start=1):
        source = "".join(cells[i]["source"])
        assert f"### Exercise {n}" in "".join(heading["source"]), (
            f"{path.name}: exercises are numbered in order"
        )
        assert cells[i]["metadata"].get("nbgrader") == nbgrader_metadata(path, n), (
            f"{path.name}: run `make sync-labs`"
        )
        assert source.count("### BEGIN SOLUTION") == source.count("### END SOLUTION") == 1, path.name
        assert not source.split("### END SOLUTION")[1].strip(), (
            f"{path.name}: exercise {n}'s solution cell must end with its solution; checks go in the next cell"
        )
        check = cells[i + 1]
        found = graded_check("".join(check["source"]))
        assert check["cell_type"] == "code" and found is not None and found[0] == n, (
            f"{path.name}: exercise {n} needs '# Graded check: exercise {n} (P points)' right after its solution"
        )
        assert check["metadata"].get("nbgrader") == check_metadata(path, n, found[1]), (
            f"{path.name}: make sync-labs"
        )
        assert "check" in "".join(check["source"]).split("\n", 1)[1], (
            f"{path.name}: exercise {n}'s check checks nothing"
        )
        used = set(re.findall(r"\w+", "".join(check["source"])))
        for name in _solution_names(source) & used:  # what the check reads, the exercise names
            assert f"`{name}`" in "".join(heading["source"]), (
                f"{path.name}: exercise {n} must name `{name}`, the variable its student version asks for"
            )
    experiments = [h for h in headings if "(experiment)" in "".join(h["source"])]
    assert experiments, f"{path.name}: every lab has at least one open experiment to grade"
    assert any("### BEGIN HIDDEN TESTS" in "".join(c["source"]) for c in cells), (
        f"{path.name}: no hidden test"
    )


def _bib_keys(root):
    return set(BIB_KEY_RE.findall((root / "references.bib").read_text()))


def test_every_citation_exists(root):
    keys = _bib_keys(root)
    sources = [root / "intro.md", *sorted((root / "chapters").glob("*.md"))]
    texts = [(p.name, p.read_text()) for p in sources]
    texts += [
        (
            p.name,
            "".join(
                "".join(c["source"])
                for c in json.loads(p.read_text())["cells"]
                if c["cell_type"] == "markdown"
            ),
        )
        for p in _labs(root)
    ]
    for name, text in texts:
        for group in CITE_RE.findall(text):
            for key in (k.strip() for k in group.split(",")):
                assert key in keys, f"{name} cites {key!r}, which is not in references.bib"


def test_bibliography_keys_are_unique(root):
    found = BIB_KEY_RE.findall((root / "references.bib").read_text())
    assert len(found) == len(set(found)), "duplicate keys in references.bib"


def test_every_cell_has_a_unique_id(lab):
    """nbformat 4.5 requires cell ids; `make sync-labs` gives new cells one."""
    path, nb = lab
    ids = [cell.get("id") for cell in nb["cells"]]
    assert None not in ids, f"{path.name}: a cell has no id; run `make sync-labs`"
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate cell ids"


def test_every_lab_ends_with_its_summary(lab):
    """The effect layer reads the numbers a lab reports (labsupport.report_summary)."""
    path, nb = lab
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    calls = [c for c in code if "report_summary(" in "".join(c["source"])]
    assert len(calls) == 1, f"{path.name}: one report_summary(...) cell, found {len(calls)}"
    assert f'"{path.stem}"' in "".join(calls[0]["source"]), f"{path.name}: report_summary names its lab"


#: The widest code line the site's code column shows without a scroll bar at 1280 px (the
#: browser test measures it; this is its cheap proxy for the edit loop).
WIDEST_CODE_LINE = 89


def test_code_lines_fit_the_sites_column(lab):
    path, nb = lab
    wide = [
        f"cell {i}: {line!r}"
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if len(line) > WIDEST_CODE_LINE
    ]
    assert not wide, f"{path.name}: code lines over {WIDEST_CODE_LINE} characters:\n" + "\n".join(wide)
