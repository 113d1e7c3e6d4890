"""How fast is `parsdesk check` on a full 5,000-record workbook?

    .venv/bin/python bench/bench_check.py [--rows 5000] [--repeat 3]

Prints the whole-process time of `parsdesk check` (a fresh interpreter, as a user runs it) against
two floors measured in the same run:
- the python-calamine read floor (issue 12: check <= 2x): a fresh interpreter that only imports
  python-calamine and reads the same sheet, as `check` does first; also the read alone in this process;
- a bare openpyxl read-only pass over the file (in this process: the earlier target, ratio <= 0.5).
Medians of --repeat runs (default 5), check and floors alternating. The child processes write their
bytecode to a private cache (PYTHONPYCACHEPREFIX) and the first run is a warm-up, so the figure is
that of an installed app, not of compiling its sources. The load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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


def median_of(repeat: int, action) -> tuple[float, float]:  # noqa: ANN001 - a zero-argument callable
    """(median wall time, median CPU time) over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu_seconds() - cpu_started)
    return statistics.median(walls), statistics.median(cpus)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} ({os.cpu_count()} cores)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"before: {_load()}")

    with tempfile.TemporaryDirectory() as folder:
        workbook = Path(folder) / "learners.xlsx"
        activities = Path(folder) / "activities.json"
        make_workbook(workbook, args.rows)
        make_activities(activities)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        command = [sys.executable, "-m", "app.cli", "check", str(workbook), "--activities", str(activities),
                   "--as-of", "2026-06-30", "--format", "json"]
        read_only = [sys.executable, "-c", "import sys; from python_calamine import CalamineWorkbook; "
                     "CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python(skip_empty_area=False)",
                     str(workbook)]

        outcome: dict[str, object] = {}

        def run_check() -> None:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
            if done.returncode not in (0, 1):
                raise SystemExit(f"check failed ({done.returncode}): {done.stderr.strip()}")
            outcome.update(json.loads(done.stdout))

        def calamine_process() -> None:
            subprocess.run(read_only, cwd=ROOT, check=True, env=env)

        def calamine_here() -> None:
            from python_calamine import CalamineWorkbook

            CalamineWorkbook.from_path(str(workbook)).get_sheet_by_index(0).to_python(skip_empty_area=False)

        def openpyxl_pass() -> None:
            from openpyxl import load_workbook

            book = load_workbook(workbook, read_only=True, data_only=True)
            for _row in book.active.iter_rows(values_only=True):
                pass
            book.close()

        run_check()  # warm-up: writes the bytecode cache
        calamine_process()
        checks, floors, here = [], [], []
        for _ in range(args.repeat):  # alternate, so check and floor see the same machine
            checks.append(median_of(1, run_check))
            floors.append(median_of(1, calamine_process))
            here.append(median_of(1, calamine_here)[0])
        check_time = statistics.median(wall for wall, _ in checks)
        check_cpu = statistics.median(cpu for _, cpu in checks)
        floor_time = statistics.median(wall for wall, _ in floors)
        floor_cpu = statistics.median(cpu for _, cpu in floors)
        here_time = statistics.median(here)
        openpyxl_time, openpyxl_cpu = median_of(min(args.repeat, 3), openpyxl_pass)

    ratio = check_time / floor_time
    print(f"rows: {args.rows:,} (valid {outcome.get('valid')}, invalid {outcome.get('invalid')}); "
          f"medians of {args.repeat}")
    print(f"parsdesk check, whole process:              {check_time:.3f} s wall, {check_cpu:.3f} s CPU")
    print(f"python-calamine read, whole process (floor): {floor_time:.3f} s wall, {floor_cpu:.3f} s CPU; "
          f"the read alone in this process: {here_time:.3f} s")
    print(f"ratio check / calamine floor: {ratio:.2f} wall, {check_cpu / floor_cpu:.2f} CPU  (goal <= 2; "
          f"against the in-process read alone: {check_time / here_time:.2f})")
    print(f"openpyxl read-only pass: {openpyxl_time:.3f} s wall; ratio check / openpyxl "
          f"{check_time / openpyxl_time:.2f} (earlier target <= 0.5)")
    print(f"after: {_load()}")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
