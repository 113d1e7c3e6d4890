"""Where does `parsdesk check` spend its CPU once the sheet is read? Its per-row phases, timed.

    .venv/bin/python bench/bench_check_phases.py [--rows 5000] [--repeat 15] [--baseline TREE]

Each run is a fresh interpreter (as a user runs `check`, caches cold) that reads the workbook
bench_check.py makes, then times each phase's CPU (time.process_time: less swayed than wall time by
other work on the machine) with the collector off, as `check` runs:
- catalogue: loading the boards/states catalogue (once per process; `check` meets it while reading
  the rows, timed apart here so that the phases below are the per-row work alone);
- records:  excel._records, the sheet's rows into records (the calamine read itself is not timed);
- prepare:  batch.completions_for_validation (provisional credit IDs);
- validate: validation.validate_batch.
--baseline TREE (another commit's files: `mkdir /tmp/base && git archive main | tar -x -C /tmp/base`)
times that tree's code too, alternating run by run with this one, so that both see the same load.
Prints min and median of --repeat runs per phase and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_check import make_activities, make_workbook  # noqa: E402

PHASES = ("catalogue", "records", "prepare", "validate")

CHILD = """
import gc, json, sys, time
from datetime import date
from pathlib import Path

from app.commands.check import _from_activities_file
from app.pars import catalog, excel, validation
from app.pars.batch import completions_for_validation

workbook, activities_file = Path(sys.argv[1]), sys.argv[2]
try:
    from app.pars.batch_reading import SheetParse
except ImportError:  # a baseline from before the threaded parse: _sheet_rows took the path
    rows, header_index = excel._sheet_rows(workbook)
else:
    rows, header_index = excel._sheet_rows(SheetParse.start(workbook))
activities, history = _from_activities_file(activities_file)
gc.disable()
took = {}
started = time.process_time()
catalog.state_code("CA")
took["catalogue"] = time.process_time() - started
started = time.process_time()
batch = excel._records(workbook, rows, header_index)
took["records"] = time.process_time() - started
started = time.process_time()
completions = completions_for_validation(batch.records, history)
took["prepare"] = time.process_time() - started
started = time.process_time()
validation.validate_batch(completions, activities, history, date(2026, 6, 30))
took["validate"] = time.process_time() - started
print(json.dumps(took))
"""


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} ({os.cpu_count()} cores)"


def _run(tree: Path, workbook: Path, activities: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(workbook), str(activities)], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    return {phase: seconds * 1000 for phase, seconds in json.loads(done.stdout).items()}


def _line(name: str, runs: list[dict[str, float]]) -> str:
    cells = []
    for phase in (*PHASES, "total"):
        values = [sum(run.values()) if phase == "total" else run[phase] for run in runs]
        cells.append(f"{phase} {min(values):5.1f} / {statistics.median(values):5.1f}")
    return f"{name:9s} " + "   ".join(cells) + "   (ms, min / median)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="another checkout whose phases are timed alongside")
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    print(f"before: {_load()}")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as folder:
        workbook, activities = Path(folder) / "learners.xlsx", Path(folder) / "activities.json"
        make_workbook(workbook, args.rows)
        make_activities(activities)
        order = list(trees.items())
        for index in range(args.repeat):
            for name, tree in order if index % 2 == 0 else order[::-1]:
                runs[name].append(_run(tree, workbook, activities))
    print(f"after:  {_load()}")
    for name in trees:
        print(_line(name, runs[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
