"""Export of every record ("Download filtered list", `parsdesk export`) against its floor.

    .venv/bin/python bench/bench_export.py [SIZES ...]      # default 10k 100k 500k 1M

For each store size (bench/store_builder.py), the export of every record is timed against a floor:
a bare openpyxl write-only pass that writes the same number of rows of the same width from values
already in memory. Goal: export ≤ 1.5× the floor at every size (a streamed query, no OFFSET pages).
Medians of --runs runs (default 5 up to 100,000 records, 3 at 500,000, 1 at 1,000,000: a million-row
floor alone takes minutes), alternating export and floor; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_builder import SIZES, build, load_note  # noqa: E402

GOAL_RATIO = 1.5


def floor_pass(path: Path, rows: int, columns: int) -> None:
    """openpyxl write-only, the same shape of row: text, a date, numbers and a timestamp."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Learners")
    sheet.append([f"Header {n}" for n in range(columns)])
    row = ["123456789", "Grand Rounds 1", "Hopper17", "Grace", "CA", "L0000017", date(2026, 1, 6), 8.0,
           "ABIM 100017", 8.0, "ABIM 8", "ABIM Medical Knowledge 8", "Accepted", None, None, "board",
           datetime(2026, 2, 1, 12), "ccid:1234567:bulk00000017"][:columns]
    for _ in range(rows):
        sheet.append(row)
    workbook.save(path)


def measure(records: int, runs: int) -> dict[str, float]:
    from app.models import Store
    from app.services.export import COLUMNS, export_filtered
    from app.services.learners import SearchFilters

    store = Store.open(build(records))
    exports: list[float] = []
    floors: list[float] = []
    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-export-") as scratch:
        out = Path(scratch)
        for _ in range(runs):
            started = time.perf_counter()
            with store.session() as session:
                written = export_filtered(session, out / "export.xlsx", SearchFilters())
            exports.append(time.perf_counter() - started)
            started = time.perf_counter()
            floor_pass(out / "floor.xlsx", written, len(COLUMNS))
            floors.append(time.perf_counter() - started)
    store.close()
    export_s, floor_s = statistics.median(exports), statistics.median(floors)
    return {"records": written, "export_s": export_s, "floor_s": floor_s, "ratio": export_s / floor_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--runs", type=int, default=0, help="runs per size (default 5 / 3 at 500,000 / 1 at 1M)")
    args = parser.parse_args(argv)
    print(f"before: {load_note()}")
    print(f"{'records':>10}  {'export s':>9}  {'floor s':>8}  {'ratio':>6}  goal ≤ {GOAL_RATIO}×")
    worst = 0.0
    for size in args.sizes:
        runs = args.runs or (5 if size <= 100_000 else 3 if size <= 500_000 else 1)
        result = measure(size, runs)
        worst = max(worst, result["ratio"])
        print(f"{int(result['records']):>10,}  {result['export_s']:>9.2f}  {result['floor_s']:>8.2f}  "
              f"{result['ratio']:>5.2f}×  {'ok' if result['ratio'] <= GOAL_RATIO else 'over'}  "
              f"(median of {runs}; {load_note()})", flush=True)
    print(f"after: {load_note()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
