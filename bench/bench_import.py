"""Batch import speed: a 5,000-row PARS workbook from drop to "summary shown" and to "queued".

    .venv/bin/python bench/bench_import.py [--rows 5000] [--keep DIR] [--runs N]

"Summary" is what the Batch Upload tab does before showing its summary: read the file (load_batch)
and analyse it against the store (validation, deletes, re-upload detection). "Queued" adds the commit
that stores the upload and queues every valid record in one transaction. Targets on a 2-core box:
summary < 1.5 s, queued < 3 s. Peak memory is the process's maximum resident set size.
Then the same file again (every row already reported) and a file deleting every record just queued
(after PARS accepted them), to summary and to queued. With --runs N each step is timed N times (a
fresh store each time) and the medians are printed, with the load average.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.models import Store  # noqa: E402
from app.pars.batch import load_batch  # noqa: E402
from app.services.batch_import import analyse, commit  # noqa: E402
from tests.batch_support import AS_OF, add_activity, counts, row, write_xlsx  # noqa: E402

SUMMARY_TARGET_S = 1.5
QUEUED_TARGET_S = 3.0


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _prefill(store: Store, count: int) -> None:
    from sqlalchemy import select

    from app.models.schema import ActivityRow
    from tests.sync_support import queue_records

    with store.session() as session:
        activity_row_id = session.scalar(select(ActivityRow.id))
    queue_records(store, activity_row_id, count, status="Accepted", outbox_action=None, label="old")


def run_once(folder: Path, rows_count: int, existing: int) -> dict[str, float]:
    """One pass of every step on a fresh store in `folder`; the step timings and counts."""
    store = Store.open(folder / "bench.sqlite3")
    add_activity(store)
    if existing:
        _prefill(store, existing)
    # One row in fifty has an error, as real files do: the summary lists them.
    rows = [row(n, Completion_Date="02-20-2026") if n % 50 == 0 else row(n) for n in range(1, rows_count + 1)]
    path = write_xlsx(folder / "learners.xlsx", rows)
    figures: dict[str, float] = {}

    start = time.perf_counter()
    batch = load_batch(path)
    figures["read_s"] = time.perf_counter() - start
    with store.session() as session:
        analysis = analyse(session, batch, AS_OF)
    figures["summary_s"] = time.perf_counter() - start
    with store.transaction() as session:
        result = commit(session, analysis, path.name, attested_by="bench", actor="bench")
    figures["queued_s"] = time.perf_counter() - start
    figures["records"], figures["queued"], figures["errors"] = len(batch.records), result.queued, result.errors

    # The same file again: every valid row is recognised as already reported, nothing is duplicated.
    start = time.perf_counter()
    with store.session() as session:
        again = analyse(session, load_batch(path), AS_OF)
    figures["reupload_s"] = time.perf_counter() - start
    figures["already"], figures["again_valid"] = again.already_reported, again.valid

    # A delete file for every record just queued, once PARS has accepted them.
    from sqlalchemy import delete, update

    from app.models.schema import CompletionRow, OutboxRow

    with store.transaction() as session:
        session.execute(update(CompletionRow).where(CompletionRow.upload_id == result.upload_id)
                        .values(status="Accepted", status_source="board"))
        session.execute(delete(OutboxRow))
    delete_path = write_xlsx(folder / "deletes.xlsx", [{**r, "Record Action": "Delete"} for r in rows])
    start = time.perf_counter()
    with store.session() as session:
        deletes = analyse(session, load_batch(delete_path), AS_OF)
    figures["delete_summary_s"] = time.perf_counter() - start
    commit_start = time.perf_counter()
    with store.transaction() as session:
        delete_result = commit(session, deletes, delete_path.name, attested_by="bench", actor="bench")
    figures["delete_queued_s"] = time.perf_counter() - start
    figures["delete_commit_s"] = time.perf_counter() - commit_start
    figures["deletes"], figures["delete_errors"] = delete_result.deletes, delete_result.errors
    figures["outbox"] = counts(store)["outbox"]
    store.close()
    for leftover in folder.glob("bench.sqlite3*"):
        leftover.unlink()
    return figures


def main(argv: list[str] | None = None) -> int:
    import os
    import statistics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="write the store and workbook here instead of a temp folder")
    parser.add_argument("--existing", type=int, default=0,
                        help="records already in the store (accepted, same activity) before the upload")
    parser.add_argument("--runs", type=int, default=1, help="passes (a fresh store each); medians are printed")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="parsdesk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rss_before = _peak_rss_mb()
    load_before = os.getloadavg()[0]
    passes = [run_once(folder, args.rows, args.existing) for _ in range(max(1, args.runs))]
    f = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
    runs = f" (medians of {len(passes)})" if len(passes) > 1 else ""
    print(f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} (1 min, 2 cores){runs}")
    print(f"rows in file:           {int(f['records']):,}")
    print(f"  read workbook:        {f['read_s']:6.2f} s")
    print(f"drop -> summary shown:  {f['summary_s']:6.2f} s   (target < {SUMMARY_TARGET_S} s)")
    print(f"drop -> queued:         {f['queued_s']:6.2f} s   (target < {QUEUED_TARGET_S} s)")
    print(f"queued {int(f['queued']):,}, errors {int(f['errors']):,}; outbox rows after the deletes {int(f['outbox']):,}"
          + (f"; {args.existing:,} records were stored before" if args.existing else ""))
    print(f"same file again -> summary: {f['reupload_s']:5.2f} s  ({int(f['already']):,} already reported, "
          f"{int(f['again_valid']):,} to queue)")
    print(f"delete file -> summary:  {f['delete_summary_s']:5.2f} s, -> queued: {f['delete_queued_s']:5.2f} s "
          f"(the commit {f['delete_commit_s']:.2f} s; {int(f['deletes']):,} deletes queued, "
          f"{int(f['delete_errors']):,} rows failed)")
    if len(passes) > 1:
        print("each pass, drop -> queued / delete commit (s): "
              + ", ".join(f"{p['queued_s']:.2f}/{p['delete_commit_s']:.2f}" for p in passes))
    print(f"peak RSS:               {_peak_rss_mb():6.0f} MB (before the import: {rss_before:.0f} MB)")
    ok = f["summary_s"] < SUMMARY_TARGET_S and f["queued_s"] < QUEUED_TARGET_S
    print("within targets" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
