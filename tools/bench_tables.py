"""Read the tables the benchmarks write (``benchmarks/lab_times.md``, ``benchmarks/gpu_estimates.md``).

One reader for every tool that quotes them: ``tools/sync_labs.py`` (the title cells' times and
T4 estimates), ``tools/hub_sizing.py`` (the JupyterHub sizing) and ``tools/gpu_estimate.py``
(its check against the measured ``cpu`` times).
"""

from __future__ import annotations

from pathlib import Path


def markdown_table(path: Path) -> dict[str, dict[str, str]]:
    """``{lab: {column header: cell}}`` from the first Markdown table whose first header is ``lab``."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            if header is not None and rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None and cells[0].lower() == "lab":
            header = cells
        elif header is not None and not set(cells[0]) <= set("-: "):
            rows[cells[0]] = dict(zip(header, cells, strict=False))
    return rows


def column(path: Path, name: str) -> dict[str, str]:
    """``{lab: cell}`` of the column headed ``name``; a clear error if the table lacks it."""
    rows = markdown_table(path)
    if not rows or any(name not in row for row in rows.values()):
        raise ValueError(f"{path.name} has no table with a 'lab' and a {name!r} column")
    return {lab: row[name] for lab, row in rows.items()}
