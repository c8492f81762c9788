"""How long the instructor kit takes: generating it, and autograding one submission per lab.

Builds the kit (``nbgrader generate_assignment`` for every lab) into a temporary folder, files
each lab's solution notebook as one student's submission, then autogrades lab by lab in each
profile asked for, and prints the times and the scores.

    python benchmarks/grading_times.py --profiles smoke cpu
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nbgrader.api import Gradebook  # noqa: E402

from tools.instructor_kit import LABS, build_kit, collect, nbgrader  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["smoke"], choices=["smoke", "cpu", "gpu"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kit"
        start = time.perf_counter()
        build_kit(out)
        print(f"make instructor-kit (generate {len(LABS)} labs): {time.perf_counter() - start:.0f} s")
        course = out / "course"
        for profile in args.profiles:
            env = os.environ | {
                "LABSUPPORT_PROFILE": profile,
                "LABSUPPORT_CACHE": str(Path(tmp) / f"cache-{profile}"),
            }
            total = 0.0
            for lab in LABS:
                student = f"solver-{profile}"
                collect(course, lab.stem, student, lab)
                start = time.perf_counter()
                nbgrader(course, "autograde", lab.stem, "--student", student, env=env)
                seconds = time.perf_counter() - start
                total += seconds
                with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
                    sub = gradebook.find_submission_notebook(lab.stem, lab.stem, student)
                    score = f"{sub.score:g}/{sub.max_score:g}"
                print(f"autograde {lab.stem:<26} {profile:>5}: {seconds:5.0f} s  score {score}")
            print(f"autograde all {len(LABS)} labs in {profile}: {total:.0f} s")


if __name__ == "__main__":
    main()
