"""What does the memory-bomb pre-scan (app/pars/xlsx_guard.py) add to reading a workbook?

    .venv/bin/python bench/bench_prescan.py [--rows 5000] [--repeat 5]

Prints, for the realistic 5,000-row workbook of bench_check.py, the time of `xlsx_guard.prescan`
(every sheet and the shared strings streamed once), the time of the python-calamine read it protects
(the floor of `parsdesk check`), and their ratio; best of N runs each, in this process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_check import make_workbook  # noqa: E402

from app.pars import xlsx_guard  # noqa: E402


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
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from python_calamine import CalamineWorkbook

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "learners.xlsx"
        make_workbook(path, args.rows)

        def prescan() -> None:
            with zipfile.ZipFile(path) as archive:
                xlsx_guard.prescan(path, archive)

        def calamine() -> None:
            CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)

        guard = best_of(args.repeat, prescan)
        floor = best_of(args.repeat, calamine)
    print(f"pre-scan, {args.rows:,}-row workbook: {guard * 1000:.0f} ms")
    print(f"python-calamine read (floor):   {floor * 1000:.0f} ms")
    print(f"ratio: {guard / floor:.2f}")


if __name__ == "__main__":
    main()
