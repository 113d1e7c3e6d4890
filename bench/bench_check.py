"""How fast is `parsdesk check` on a full 5,000-record workbook?

    .venv/bin/python bench/bench_check.py [--rows 5000] [--repeat 3]

Prints the whole-process time of `parsdesk check` (a fresh interpreter, as a user runs it, best of N),
the time of a bare openpyxl read-only pass over the same file (in this process, best of N: the cost of
merely reading the cells with the usual library), and their ratio. Targets: ratio <= 0.5 and the whole
check under 0.8 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.pars.excel import GUIDANCE, HEADERS  # noqa: E402

ACTIVITY_ID = "123456789"
BOARDS = ("ABIM", "ABP", "ABS", "ABPATH")
STATES = ("California", "NY", "Texas", "OR", "Washington", "NJ")


def make_activities(path: Path) -> None:
    activity = {
        "activity_id": ACTIVITY_ID,
        "title": "Benchmark activity",
        "type": "Course",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "cme_credits": "10",
        "rems": True,
        "state_collaboration": True,
        "boards": [
            {"board": "ABIM", "max_points": "10", "credit_types": ["Medical Knowledge", "Patient Safety"],
             "credit_claim_date": "2027-01-31"},
            {"board": "ABP", "max_points": "10", "credit_types": ["Lifelong Learning & Self-Assessment"],
             "credit_claim_date": "2027-01-31"},
            {"board": "ABS", "max_points": "10", "credit_types": ["Accredited CME"], "credit_claim_date": "2027-01-31"},
            {"board": "ABPATH", "max_points": "10", "credit_types": ["Lifelong Learning"],
             "credit_claim_date": "2027-01-31"},
        ],
    }
    path.write_text(json.dumps([activity]))


def make_workbook(path: Path, rows: int) -> None:
    """A realistic file: mixed date cells and text dates, numeric and text IDs, boards, some bad rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Learners")
    sheet.append([GUIDANCE])
    sheet.append(list(HEADERS))
    start = date(2026, 1, 5)
    credit_types = {"ABIM": "Medical Knowledge", "ABP": "Lifelong Learning & Self-Assessment",
                    "ABS": "Accredited CME", "ABPATH": "Lifelong Learning"}
    for index in range(rows):
        completed = start + timedelta(days=index % 150)
        board = BOARDS[index % len(BOARDS)]
        row = [
            "Add",
            ACTIVITY_ID if index % 2 else int(ACTIVITY_ID),
            completed if index % 3 else completed.strftime("%m-%d-%Y"),
            f"First{index}",
            f"Last{index}",
            f"{index % 12 + 1:02d}/{index % 28 + 1:02d}",
            STATES[index % len(STATES)],
            f"L{100000 + index}",
            "2" if index % 2 else 1.5,
            board,
            str(500000 + index),
            2 if index % 100 else "2.3",  # one row in a hundred breaks the quarter-point rule
            credit_types[board],
            1.25,
            "", "", "", "", "", "", "", "", "",
        ]
        sheet.append(row)
    workbook.save(path)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children: less disturbed by other load than wall time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_of(repeat: int, action) -> tuple[float, float]:  # noqa: ANN001 - a zero-argument callable
    """(best wall time, best CPU time) over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu_seconds() - cpu_started)
    return min(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        workbook = Path(folder) / "learners.xlsx"
        activities = Path(folder) / "activities.json"
        make_workbook(workbook, args.rows)
        make_activities(activities)
        command = [sys.executable, "-m", "app.cli", "check", str(workbook), "--activities", str(activities),
                   "--as-of", "2026-06-30", "--format", "json"]

        outcome: dict[str, object] = {}

        def run_check() -> None:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if done.returncode not in (0, 1):
                raise SystemExit(f"check failed ({done.returncode}): {done.stderr.strip()}")
            outcome.update(json.loads(done.stdout))

        def openpyxl_pass() -> None:
            from openpyxl import load_workbook

            book = load_workbook(workbook, read_only=True, data_only=True)
            for _row in book.active.iter_rows(values_only=True):
                pass
            book.close()

        check_time, check_cpu = best_of(args.repeat, run_check)
        openpyxl_time, openpyxl_cpu = best_of(args.repeat, openpyxl_pass)

    ratio = check_time / openpyxl_time
    print(f"rows: {args.rows:,} (valid {outcome.get('valid')}, invalid {outcome.get('invalid')})")
    print(f"parsdesk check, whole process (best of {args.repeat}): {check_time:.3f} s wall, "
          f"{check_cpu:.3f} s CPU  (target < 0.8 s)")
    print(f"openpyxl read-only pass (best of {args.repeat}):       {openpyxl_time:.3f} s wall, "
          f"{openpyxl_cpu:.3f} s CPU")
    print(f"ratio check / openpyxl: {ratio:.2f} wall, {check_cpu / openpyxl_cpu:.2f} CPU  (target <= 0.5)")
    return 0 if check_time < 0.8 and ratio <= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
