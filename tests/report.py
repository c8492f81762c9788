"""The end of a ``make test`` run: what ran, what was skipped and why, and the thinnest margins.

``python -m tests.report`` reads what the test processes left in ``tests/artifacts/``:

* ``layers-<pid>.json`` (``tests/conftest.py``): passed, failed and skipped tests per layer,
  and the reasons for each skip;
* ``effects/claims.jsonl`` (``tests/effects/conftest.py``): every numeric claim of the effect
  layer with its value, threshold and slack;
* ``runs/executions.log`` (``tests/labrun.py``): every execution of a lab, by layer.

It prints the layers, every skipped layer with its reasons, the five claims with the least
slack, how often each lab was executed in full, and a last line of totals. It exits 1 if a
layer was skipped under ``CI=true`` or no test ran at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def layers(artifacts: Path) -> tuple[dict[str, Counter], dict[str, set[str]]]:
    """Outcome counts per layer and skip reasons per layer, over every process's report."""
    counts: dict[str, Counter] = defaultdict(Counter)
    skipped: dict[str, set[str]] = defaultdict(set)
    for path in sorted(artifacts.glob("layers-*.json")):
        record = json.loads(path.read_text())
        for layer, outcomes in record["counts"].items():
            counts[layer].update(outcomes)
        for layer, reasons in record["skipped"].items():
            skipped[layer].update(reasons)
    return counts, skipped


def thinnest(artifacts: Path, n: int = 5) -> list[dict]:
    """The ``n`` effect claims with the least slack (the first to flip if results drift)."""
    path = artifacts / "effects" / "claims.jsonl"
    if not path.exists():
        return []
    claims = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(claims, key=lambda c: c["slack"])[:n]


def executions(artifacts: Path) -> dict[str, Counter]:
    """``{lab: Counter(layer -> full executions)}`` from the run store's log."""
    per_lab: dict[str, Counter] = defaultdict(Counter)
    path = artifacts / "runs" / "executions.log"
    if path.exists():
        for line in path.read_text().splitlines():
            stem, layer, kind, *_ = line.split("\t")
            if kind == "full":
                per_lab[stem][layer] += 1
    return per_lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS)
    args = parser.parse_args(argv)
    counts, skipped = layers(args.artifacts)
    print("=== the run, layer by layer")
    for layer, outcomes in sorted(counts.items()):
        print(f"{layer:<8} " + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())))
    for layer, reasons in sorted(skipped.items()):
        print(f"SKIPPED {layer}: " + "; ".join(sorted(reasons)))
    claims = thinnest(args.artifacts)
    if claims:
        print("=== the five thinnest margins of the effect layer (slack: share of the threshold to spare)")
        for c in claims:
            print(
                f"{c['slack']:+7.1%}  {c['name']} = {c['value']:.4g} {c['op']} {c['threshold']:.4g}  ({c['test']})"
            )
    runs = executions(args.artifacts)
    if runs:
        print("=== full executions of each lab, by layer")
        for stem, by_layer in sorted(runs.items()):
            detail = ", ".join(f"{layer} {n}" for layer, n in sorted(by_layer.items()))
            print(f"{stem:<26} {sum(by_layer.values())}  ({detail})")
    total = Counter()
    for outcomes in counts.values():
        total.update(outcomes)
    failed = total["failed"] + total["error"]
    status = 0
    if os.environ.get("CI") == "true" and skipped:
        print("CI=true: every layer must run, and these were skipped: " + ", ".join(sorted(skipped)))
        status = 1
    if not total:
        print("no test ran")
        status = 1
    print(f"{total['passed']} passed, {failed} failed, {total['skipped']} skipped")
    return status if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
