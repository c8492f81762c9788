"""The shape every lab and page must have (see "The lab format" in the README)."""

import ast
import importlib
import json
import pkgutil
import re
import statistics
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

MAX_CELL_LINES = 25
SETTINGS_RE = re.compile(r"^cfg = (?P<cls>\w+Settings)\.for_profile\(\)", re.M)
PREDICT_RE = re.compile(r"^(?P<name>\w+) = predict\(", re.M)
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


def test_every_colab_link_opens_a_student_version(root):
    """The README's and the pages' Colab links open ``labs/student/`` at the installed release."""
    from tools.sync_labs import colab_url

    wanted = {colab_url(lab) for lab in LABS}
    for page in [root / "README.md", root / "intro.md", *sorted((root / "chapters").glob("*.md"))]:
        for link in re.findall(r"https://colab\.research\.google\.com/[^)\s\"]+", page.read_text()):
            assert link in wanted, (
                f"{page.name}: {link} is not a lab's student version (run `make sync-labs`)"
            )
    readme = (root / "README.md").read_text()
    assert all(url in readme for url in wanted), "the README lists every lab's student version"


def test_setup_cell_is_canonical(lab):
    path, nb = lab
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "".join(first_code["source"]) == setup_cell_source(), f"{path.name}: run `make sync-labs`"


def _code(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_settings_are_a_short_table_from_labsupport(lab):
    """The first cell after set-up shows the profile's settings (labsupport.settings); the three
    profiles are written there, out of the learner's way, not in the notebook."""
    path, nb = lab
    code = _code(nb)
    settings = SETTINGS_RE.search(code[1])
    assert settings, (
        f"{path.name}: the cell after set-up is `cfg = XSettings.for_profile()` (labsupport.settings)"
    )
    assert len(code[1].splitlines()) <= 15, f"{path.name}: the settings cell is over 15 lines"
    import labsupport.settings as package

    modules = [
        importlib.import_module(f"labsupport.settings.{m.name}")
        for m in pkgutil.iter_modules(package.__path__)
    ]
    found = [getattr(m, settings["cls"]) for m in modules if hasattr(m, settings["cls"])]
    assert found and issubclass(cls := found[0], package.LabSettings), (
        f"{path.name}: {settings['cls']} must be a LabSettings in a module of labsupport.settings"
    )
    assert set(cls.profiles()) == {"smoke", "cpu", "gpu"}
    assert all(cls.meanings().values()), f"{settings['cls']}: every setting says what it means"
    assert not any("class Config" in c or "def for_profile" in c for c in code), (
        f"{path.name}: the profiles live in labsupport.settings, not in the notebook"
    )


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_code_cells_are_short(lab):
    """One claim per cell: at most 25 lines (a loop written out once may be longer: tag it
    `write-once`), and a median of at most 12."""
    path, nb = lab
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "remove-input" not in _tags(c)]
    lengths = [len("".join(c["source"]).splitlines()) for c in cells]
    long = [
        f"cell {c['id']} ({n} lines)"
        for c, n in zip(cells, lengths, strict=True)
        if n > MAX_CELL_LINES and "write-once" not in _tags(c)
    ]
    assert not long, f"{path.name}: code cells over {MAX_CELL_LINES} lines: {long}"
    assert statistics.median(lengths) <= 12, (
        f"{path.name}: median code cell {statistics.median(lengths)} lines"
    )
    once = [n for c, n in zip(cells, lengths, strict=True) if "write-once" in _tags(c)]
    assert len(once) <= 3 and all(n <= 45 for n in once), f"{path.name}: write-once cells {once}"


def test_predictions_come_before_their_runs_and_are_revealed(lab):
    """At least two predictions per lab, each in a cell before the run it predicts and revealed after it."""
    path, nb = lab
    code = _code(nb)
    made = [(i, m["name"]) for i, c in enumerate(code) for m in PREDICT_RE.finditer(c)]
    assert len(made) >= 2, f"{path.name}: a lab asks for at least two predictions, found {len(made)}"
    for i, name in made:
        assert any(f"{name}.reveal(" in c for c in code[i + 1 :]), (
            f"{path.name}: prediction {name!r} is never revealed after a run"
        )
        assert "..." in code[i], (
            f"{path.name}: prediction {name!r} must leave its guess as ... for the learner"
        )


def test_every_lab_asks_a_written_question(lab):
    path, nb = lab
    questions = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "markdown" and "### Written question" in "".join(c["source"])
    ]
    assert questions, f"{path.name}: no written question graded by hand"
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if cell in questions:
            meta = cells[i + 1].get("metadata", {}).get("nbgrader", {})
            assert meta.get("grade") and meta.get("solution") and meta.get("points"), (
                f"{path.name}: a written question's answer cell needs nbgrader metadata (make sync-labs)"
            )
            assert "Rubric" in "".join(cells[i + 1]["source"]), (
                f"{path.name}: the model answer states its rubric"
            )


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


def _is_constant(node: ast.AST) -> bool:
    """An expression of literals only (``12 * 96 * 12_288**2``): an answer written out."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left) and _is_constant(node.right)
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand)
    return False


def _defined_names(source: str) -> set[str]:
    """The names a solution cell binds (functions, classes, variables): the learner's answers."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def oracle_uses(visible: str, answers: set[str] = frozenset()) -> list[str]:
    """What the visible part of a graded check does that gives its answer away: importing a
    ``labsupport`` function other than a check (the answer key), or comparing with a number
    written out in the cell."""
    found = []
    for node in ast.walk(ast.parse(visible)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labsupport"):
            found += [
                f"imports {a.name} from {node.module}" for a in node.names if not a.name.startswith("check_")
            ]
        elif isinstance(node, ast.Import) and any(a.name.startswith("labsupport") for a in node.names):
            found.append("imports labsupport")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "labsupport"
        ):
            found.append(f"uses labsupport.{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_close":
            # the learner's answer itself (a name) against a number written out; a property of
            # the answer (a call: "the entropy at your T") may be compared with a stated target
            answer = node.args[1] if len(node.args) > 1 else None
            expected = node.args[2] if len(node.args) > 2 else None
            expected = next((k.value for k in node.keywords if k.arg == "expected"), expected)
            written = expected is not None and _is_constant(expected)
            if isinstance(answer, ast.Name) and answer.id in answers and written:
                found.append(f"check_close against a number written in the cell ({ast.unparse(expected)})")
    return found


def test_no_visible_check_holds_its_answer(lab):
    """Checks test properties; the answer key (labsupport's own function, a number written
    out) is only in the hidden tests, which the student version does not have."""
    path, nb = lab
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or graded_check(source) is None:
            continue
        visible = source.split("### BEGIN HIDDEN TESTS", 1)[0]
        assert not oracle_uses(visible), f"{path.name}, {source.splitlines()[0]}: {oracle_uses(visible)}"


def test_the_oracle_rule_can_fail():
    assert oracle_uses("from labsupport import distillation_loss as reference")
    assert oracle_uses("check_close('N', N_estimate, 12 * 96 * 12_288**2)", {"N_estimate"})
    assert not oracle_uses("check_close('N at C', N_at, 175e9)", {"C_175B"})
    assert oracle_uses("import labsupport\nlabsupport.fake_quantize(w, 8)")
    assert not oracle_uses(
        "from labsupport.checks.serving import check_verifier\ncheck_close('H', h(T), 1.0)"
    )


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
    assert "table=" in "".join(calls[0]["source"]), (
        f"{path.name}: the learner sees a you-measured/paper table"
    )
    assert "remove-input" in _tags(calls[0]), f"{path.name}: the summary's code is hidden on the site"
    assert calls[0]["metadata"].get("jupyter", {}).get("source_hidden"), (
        f"{path.name}: the summary's code is collapsed in Jupyter"
    )


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


#: A solution (a ``hide-input`` cell) shows inside its dropdown, 20 px narrower.
WIDEST_FOLDED_LINE = 86


def test_folded_code_and_code_in_text_fit_their_columns(lab):
    path, nb = lab
    wide = []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "hide-input" in cell["metadata"].get("tags", []):
            wide += [f"cell {i}: {line!r}" for line in source.splitlines() if len(line) > WIDEST_FOLDED_LINE]
        elif cell["cell_type"] == "markdown":
            fenced = source.split("```")[1::2]  # the insides of the code fences
            lines = [line for block in fenced for line in block.splitlines()[1:]]
            wide += [f"cell {i}: {line!r}" for line in lines if len(line) > WIDEST_CODE_LINE]
    assert not wide, f"{path.name}: lines wider than their column on the site:\n" + "\n".join(wide)


def _cell_tree(source: str) -> ast.Module:
    """A code cell's syntax tree, its IPython magics (``%pip ...``) read as ``pass``."""
    return ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M))


def _opens_figure(node: ast.AST) -> bool:
    """Whether ``node`` is ``plt.subplots`` or ``plt.figure``."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "plt"
        and node.attr in ("subplots", "figure")
    )


def _outside_definitions(tree: ast.Module) -> list[ast.AST]:
    """Every node of ``tree`` that is not inside a function or class definition: what runs
    when the cell runs."""
    nodes, todo = [], list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            nodes.append(node)
            todo += ast.iter_child_nodes(node)
    return nodes


def figure_cells(nb: dict) -> list[dict]:
    """The code cells that draw a figure when they run: they open one (``plt.subplots``,
    ``plt.figure``) outside a function definition, or use a function of the lab that opens one,
    such as ``interactive_plot(plot_speedup, ...)``, whose static fallback draws it on the site.
    A cell that only defines such a function draws nothing; a widget that only prints (Lab 4's
    completions) neither."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    trees = [_cell_tree("".join(c["source"])) for c in code]
    plotters = {
        node.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(map(_opens_figure, ast.walk(node)))
    }
    return [
        cell
        for cell, tree in zip(code, trees, strict=True)
        if any(
            _opens_figure(node) or (isinstance(node, ast.Name) and node.id in plotters)
            for node in _outside_definitions(tree)
        )
    ]


#: An alt text must say what the figure shows: this many words at least, and not a file name.
MIN_ALT_WORDS = 12
ALT_FILE_NAME = re.compile(r"[\w.-]+\.(png|svg|jpe?g|gif|webp)\b|_images/", re.IGNORECASE)


def test_every_figure_a_lab_draws_says_what_it_shows(lab):
    """Each plotting cell carries alt text (cell metadata ``mystnb: image: alt:``, as the
    chapters' cells do), which the site puts on the figure; ``test_book`` checks the built pages."""
    path, nb = lab
    cells = figure_cells(nb)
    assert cells, f"{path.name}: no cell draws a figure; has the detection broken?"
    bare = []
    for cell in cells:
        alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt")
        if not isinstance(alt, str) or len(alt.split()) < MIN_ALT_WORDS or ALT_FILE_NAME.search(alt):
            bare.append(f"cell {cell['id']}: alt {alt!r}")
    assert not bare, (
        f"{path.name}: figures without alt text of {MIN_ALT_WORDS}+ words that says what they show "
        "(axes, curves, what to look for), in the cell's metadata mystnb.image.alt:\n" + "\n".join(bare)
    )
