"""The "Beyond one machine" page sizes a JupyterHub from the measured table, never from typed numbers."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import re

import pytest
import yaml

from tools import hub_sizing, sync_labs
from tools.hub_sizing import GIB, HUB_MIB, measured, size, sizing_markdown
from tools.sync_labs import measured_times

PAGE = hub_sizing.ROOT / "chapters" / "beyond_one_machine.md"

TABLE = """| lab | smoke (s) | cpu (s) | smoke peak (MiB) | cpu peak (MiB) |
|---|---|---|---|---|
| 01_complexity | 9 | 34 | 700 | 900 |
| 07_serving | 33 | 69 | 1500 | {peak} |

One run ...
"""


@pytest.fixture
def table(tmp_path, monkeypatch):
    """Point the extension at a lab table of our own (and at no gpu estimates); returns a writer."""

    def write(peak: int = 2900) -> None:
        (tmp_path / "lab_times.md").write_text(TABLE.format(peak=peak), encoding="utf-8")

    monkeypatch.setattr(hub_sizing, "LAB_TIMES", tmp_path / "lab_times.md")
    monkeypatch.setattr(hub_sizing, "GPU_ESTIMATES", tmp_path / "gpu_estimates.md")
    write()
    return write


def test_the_peaks_and_times_are_read_by_column(table):
    assert measured(hub_sizing.LAB_TIMES) == {"01_complexity": (900, 34), "07_serving": (2900, 69)}
    assert measured(hub_sizing.LAB_TIMES, "smoke") == {"01_complexity": (700, 9), "07_serving": (1500, 33)}


def lab_times_module():
    spec = importlib.util.spec_from_file_location(
        "lab_times", hub_sizing.ROOT / "benchmarks" / "lab_times.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_the_benchmark_writes_is_read_back_by_the_title_cells_and_the_page(tmp_path, monkeypatch):
    lab_times = lab_times_module()
    rows = [("01_complexity", [9.4, 34.2], [700 * 2**20, 1749 * 2**20])]
    path = tmp_path / "lab_times.md"
    path.write_text(lab_times.table(rows, ["smoke", "cpu"], 1, load=1.2))
    monkeypatch.setattr(sync_labs, "LAB_TIMES", path)
    assert measured_times() == {"01_complexity": (9, 34)}
    assert measured(path) == {"01_complexity": (1749, 34)}
    assert "load average of the machine reached 1.2" in path.read_text()


def test_the_peak_cell_reports_the_kernels_high_water_marks():
    lab_times = lab_times_module()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(lab_times.PEAK_CELL, {})
    marks = json.loads(out.getvalue())
    assert set(marks) == {"RUSAGE_SELF", "RUSAGE_CHILDREN"} and marks["RUSAGE_SELF"] > 50 * 2**20


def test_a_table_without_peaks_says_to_run_the_benchmark(tmp_path):
    old = tmp_path / "old.md"
    old.write_text("| lab | smoke (s) | cpu (s) |\n|---|---|---|\n| 01_complexity | 9 | 34 |\n")
    with pytest.raises(ValueError, match=r"no column 'cpu peak \(MiB\)'.*lab_times.py"):
        measured(old)


def test_the_limit_is_the_heaviest_peak_plus_headroom_and_the_users_fill_the_machine():
    s = size({"a": (900, 34), "b": (2900, 69)}, memory_gib=64, cores=16, headroom=0.3)
    assert s.lab == "b" and s.limit_gib == math.ceil(2900 * 1.3 / GIB) == 4
    assert s.users == (64 * GIB - HUB_MIB) // (4 * GIB) == 15
    assert s.guarantee_gib == 3.0 and s.full_speed == 15
    assert size({"b": (2900, 69)}, memory_gib=64, cores=8, headroom=0.3).full_speed == 8
    with pytest.raises(ValueError, match="headroom"):
        size({"b": (2900, 69)}, memory_gib=64, cores=16, headroom=2)
    with pytest.raises(ValueError, match="make bench"):
        size({}, memory_gib=64, cores=16, headroom=0.3)


def test_the_pages_numbers_follow_the_table(table):
    text = sizing_markdown(64, 16, 0.3)
    assert "| {doc}`07_serving <../labs/07_serving>` | 2.8 GiB | 69 s | not measured |" in text
    assert "sudo tljh-config set limits.memory 4G" in text
    assert 'c.Spawner.mem_limit = "4G"' in text
    assert "guarantee: 3G" in text and "limit: 4G" in text
    assert "**15 users at once**" in text
    assert "Gap, for the course's maintainers" in text
    table(peak=5000)  # a heavier lab: a larger limit, fewer users
    text = sizing_markdown(64, 16, 0.3)
    assert "limits.memory 7G" in text and "**9 users at once**" in text


def test_the_gpu_estimates_are_shown_as_estimates_when_they_exist(table):
    hub_sizing.GPU_ESTIMATES.write_text(
        "| lab | gpu TFLOP | peak memory (GB) | T4 minutes (estimated) |\n|---|---|---|---|\n"
        "| 01_complexity | 1.0 | 1.5 | 2 |\n| 07_serving | 3.0 | 6.25 | 4 |\n"
    )
    text = sizing_markdown()
    assert "| 6.25 GiB (estimate) |" in text and "Gap" not in text
    assert "at most 6.25 GiB (07_serving)" in text


def test_the_page_types_no_sizing_of_its_own():
    """Every limit and user count on the page comes from the directive."""
    page = PAGE.read_text(encoding="utf-8")
    assert re.search(r"```\{hub-sizing\}\n:memory-gib: \d+\n:cores: \d+\n:headroom: [\d.]+\n```", page)
    outside = re.sub(r"```\{hub-sizing\}.*?```", "", page, flags=re.S)
    for typed in ("limits.memory", "mem_limit", "guarantee:", "users at once", "GiB ("):
        assert typed not in outside, f"the page types {typed!r}: let {{hub-sizing}} write it"


def test_the_page_is_in_the_book_and_the_directive_is_registered():
    root = hub_sizing.ROOT
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    assert "tools.hub_sizing" in config["sphinx"]["local_extensions"]
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files.index("chapters/beyond_one_machine") == files.index("chapters/how_to_run") + 1


def test_the_committed_table_gives_every_lab_a_peak_and_its_times_to_the_title_cells():
    cpu = measured()
    assert cpu and all(peak > 0 for peak, _ in cpu.values())
    assert {lab: seconds for lab, (_, seconds) in cpu.items()} == {
        lab: times[1] for lab, times in measured_times().items()
    }
    text = sizing_markdown()
    heaviest = max(cpu, key=lambda lab: cpu[lab][0])
    assert f"| {{doc}}`{heaviest} <../labs/{heaviest}>` | {cpu[heaviest][0] / GIB:.1f} GiB |" in text


def test_the_benchmark_tables_have_one_reader_and_it_names_a_missing_column(tmp_path):
    from tools.bench_tables import column, markdown_table

    path = tmp_path / "t.md"
    path.write_text(
        "Intro.\n\n| lab | cpu (s) |\n|---|---|\n| 01_complexity | 34 |\n\nA note | with a bar.\n"
    )
    assert markdown_table(path) == {"01_complexity": {"lab": "01_complexity", "cpu (s)": "34"}}
    assert column(path, "cpu (s)") == {"01_complexity": "34"}
    with pytest.raises(ValueError, match="'smoke \\(s\\)' column"):
        column(path, "smoke (s)")
