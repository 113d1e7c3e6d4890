"""`parsdesk check FILE --db STORE` against `parsdesk check FILE --activities JSON`, as the store grows.

    .venv/bin/python bench/bench_check_db.py [SIZES ...]      # default 10k 100k 500k 1M

A 5,000-row workbook for the store's Batch Upload activity (a tenth of its rows name learners the
store already holds) is checked twice per size, each in a fresh process as a user runs it: once
against the store (bench/store_builder.py) and once against the same activity as an activities file,
which reads nothing from a store: the floor. Goal: --db ≤ 2× --activities and peak memory < 300 MiB
at 1,000,000 records. Wall time is the median of --runs runs (default 5) after a warm-up run (the
children keep their bytecode in a private cache, as an installed app does); peak memory is the
process's maximum resident set size. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from store_builder import SIZES, build, load_note  # noqa: E402

GOAL_RATIO = 2.0
GOAL_PEAK_MIB = 300


def make_activities(path: Path) -> None:
    from tests.batch_support import ACTIVITY

    board = ACTIVITY.boards[0]
    path.write_text(json.dumps([{
        "activity_id": ACTIVITY.activity_id, "title": ACTIVITY.title, "type": ACTIVITY.activity_type,
        "start_date": ACTIVITY.start_date.isoformat(), "end_date": ACTIVITY.end_date.isoformat(),
        "cme_credits": str(ACTIVITY.cme_credits),
        "boards": [{"board": board.board, "max_points": str(board.max_points),
                    "credit_types": list(board.credit_types),
                    "credit_claim_date": board.credit_claim_date.isoformat()}],
    }]))


def make_workbook(path: Path, store: Path, rows: int) -> None:
    """Rows for the upload activity; every tenth names a learner the store holds for it."""
    from sqlalchemy import select

    from app.models import Store
    from app.models.schema import ActivityRow, CompletionRow
    from tests.batch_support import ACTIVITY_ID, row, write_xlsx

    opened = Store.open(store, migrate_schema=False)
    with opened.session() as s:
        known = s.execute(
            select(CompletionRow.first_name, CompletionRow.last_name, CompletionRow.license_id)
            .join(ActivityRow, ActivityRow.id == CompletionRow.activity_id)
            .where(ActivityRow.accme_id == ACTIVITY_ID).limit(rows // 10)
        ).all()
    opened.close()
    cells = []
    for n in range(rows):
        if n % 10 == 0 and n // 10 < len(known):
            first, last, license_id = known[n // 10]
            cells.append(row(n, First_Name=first, Last_Name=last, Licensing_ID_or_NPI=license_id))
        else:
            cells.append(row(n))
    write_xlsx(path, cells)


# the child processes keep their bytecode in a private cache, as an installed app has it
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_check(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak MiB) of one `parsdesk check` process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "check", *args], cwd=ROOT, env=_ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"check failed ({process.returncode}): {process.stderr.read().decode()[:300]}")
    return elapsed, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"before: {load_note()}")
    print(f"{'records':>10}  {'--db s':>7}  {'--activities s':>14}  {'ratio':>6}  {'--db peak MiB':>13}"
          f"   goal ≤ {GOAL_RATIO}×, < {GOAL_PEAK_MIB} MiB")
    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-checkdb-") as scratch:
        folder = Path(scratch)
        _ENV["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        activities = folder / "activities.json"
        make_activities(activities)
        for size in args.sizes:
            store = build(size)
            workbook = folder / f"upload-{size}.xlsx"
            make_workbook(workbook, store, args.rows)
            with_db, with_activities, peaks = [], [], []
            run_check([str(workbook), "--db", str(store), "--as-of", "2026-02-15"])  # warm-up: bytecode, page cache
            for _ in range(args.runs):  # alternate, so both see the same machine
                wall, peak = run_check([str(workbook), "--db", str(store), "--as-of", "2026-02-15"])
                with_db.append(wall)
                peaks.append(peak)
                with_activities.append(
                    run_check([str(workbook), "--activities", str(activities), "--as-of", "2026-02-15"])[0])
            db_s, floor_s = statistics.median(with_db), statistics.median(with_activities)
            ratio = db_s / floor_s
            ok = ratio <= GOAL_RATIO and max(peaks) < GOAL_PEAK_MIB
            print(f"{size:>10,}  {db_s:>7.2f}  {floor_s:>14.2f}  {ratio:>5.2f}×  {max(peaks):>13.0f}   "
                  f"{'ok' if ok else 'over'}")
    print(f"after: {load_note()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
