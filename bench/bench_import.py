"""Batch import speed: a 5,000-row PARS workbook from drop to "summary shown" and to "queued".

    .venv/bin/python bench/bench_import.py [--rows 5000] [--keep DIR]

"Summary" is what the Batch Upload tab does before showing its summary: read the file (load_batch)
and analyse it against the store (validation, deletes, re-upload detection). "Queued" adds the commit
that stores the upload and queues every valid record in one transaction. Targets on a 2-core box:
summary < 1.5 s, queued < 3 s. Peak memory is the process's maximum resident set size.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="write the store and workbook here instead of a temp folder")
    parser.add_argument("--existing", type=int, default=0,
                        help="records already in the store (accepted, same activity) before the upload")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="parsdesk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    store = Store.open(folder / "bench.sqlite3")
    add_activity(store)
    if args.existing:
        _prefill(store, args.existing)
    # One row in fifty has an error, as real files do: the summary lists them.
    rows = [row(n, Completion_Date="02-20-2026") if n % 50 == 0 else row(n) for n in range(1, args.rows + 1)]
    path = write_xlsx(folder / "learners.xlsx", rows)
    rss_before = _peak_rss_mb()

    start = time.perf_counter()
    batch = load_batch(path)
    read_s = time.perf_counter() - start
    with store.session() as session:
        analysis = analyse(session, batch, AS_OF)
    summary_s = time.perf_counter() - start
    with store.transaction() as session:
        result = commit(session, analysis, path.name, attested_by="bench", actor="bench")
    queued_s = time.perf_counter() - start

    # The same file again: every valid row is recognised as already reported, nothing is duplicated.
    start = time.perf_counter()
    with store.session() as session:
        again = analyse(session, load_batch(path), AS_OF)
    reupload_s = time.perf_counter() - start

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
    delete_summary_s = time.perf_counter() - start
    with store.transaction() as session:
        delete_result = commit(session, deletes, delete_path.name, attested_by="bench", actor="bench")
    delete_queued_s = time.perf_counter() - start

    stored = counts(store)
    store.close()
    print(f"rows in file:           {len(batch.records):,}")
    print(f"  read workbook:        {read_s:6.2f} s")
    print(f"drop -> summary shown:  {summary_s:6.2f} s   (target < {SUMMARY_TARGET_S} s)")
    print(f"drop -> queued:         {queued_s:6.2f} s   (target < {QUEUED_TARGET_S} s)")
    print(f"queued {result.queued:,}, errors {result.errors:,}; outbox rows {stored['outbox']:,}"
          + (f"; {args.existing:,} records were stored before" if args.existing else ""))
    print(f"same file again -> summary: {reupload_s:5.2f} s  ({again.already_reported:,} already reported, "
          f"{again.valid:,} to queue)")
    print(f"delete file -> summary:  {delete_summary_s:5.2f} s, -> queued: {delete_queued_s:5.2f} s "
          f"({delete_result.deletes:,} deletes queued, {delete_result.errors:,} rows failed)")
    print(f"peak RSS:               {_peak_rss_mb():6.0f} MB (before the import: {rss_before:.0f} MB)")
    ok = summary_s < SUMMARY_TARGET_S and queued_s < QUEUED_TARGET_S
    print("within targets" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
