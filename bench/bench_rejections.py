"""How long does a rejection workbook with 5,000 failing rows take to write?

    .venv/bin/python bench/bench_rejections.py [--rows 5000] [--repeat 3]

Prints the time of `write_rejections` (what `check --rejections`, every `import` with failures and
"Download rejections" call) for N failing rows of the template's 23 columns, the time of a bare
openpyxl write-only pass over the same values (the floor: merely streaming the cells), and their
ratio; best of N runs each. Target: under 1 s for 5,000 rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.pars.excel import HEADERS, write_rejections  # noqa: E402


def failing_rows(count: int) -> list[tuple[list[str], int, str]]:
    rows = []
    for index in range(count):
        values = ["Add", "123456789", "03-14-2026", f"Learner{index}", "Testperson", "03/14", "CA",
                  f"A{index:07d}", "4", "ABIM", f"{100000 + index}", "4", "Medical Knowledge", "4",
                  "", "", "", "", "", "", "", "", ""]
        rows.append((values, 671, "Completion date 03-14-2026 is after the activity's end date 01-31-2026"))
    return rows


def floor(path: Path, rows: list[tuple[list[str], int, str]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Rejected learners")
    sheet.append(["guidance"])
    sheet.append([*HEADERS, "Error Code", "Error Message"])
    for values, code, message in rows:
        sheet.append([*values, code, message])
    workbook.save(path)


def best_of(repeat: int, action) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = failing_rows(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rejections.xlsx"
        bare = Path(folder) / "floor.xlsx"
        ours = best_of(args.repeat, lambda: write_rejections(out, list(HEADERS), rows))
        base = best_of(args.repeat, lambda: floor(bare, rows))
    print(f"write_rejections, {args.rows:,} failing rows: {ours:.3f} s")
    print(f"openpyxl write-only floor, same values:     {base:.3f} s")
    print(f"ratio: {ours / base:.2f} (target: under 1 s)")


if __name__ == "__main__":
    main()
