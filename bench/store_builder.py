"""Stores of 10,000 to 1,000,000 learner records for the growth benchmarks, built once and cached.

    .venv/bin/python bench/store_builder.py 1000000      # build (or reuse) and print the path

Records are spread over five activities; the first is the Batch Upload test activity (ACCME ID
123456789, 8 ABIM points), so a 5,000-row upload or check lands on an activity that holds a fifth of
the store. Built in chunks of 50,000 with Core executemany (about a minute per million records on a
2-core machine), then cached in $PARSDESK_BENCH_CACHE (default: /tmp/parsdesk-bench-stores).
A benchmark that writes to the store works on a copy (`fresh_copy`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SIZES = (10_000, 100_000, 500_000, 1_000_000)
CHUNK = 50_000


def cache_dir() -> Path:
    return Path(os.environ.get("PARSDESK_BENCH_CACHE", "/tmp/parsdesk-bench-stores"))


def store_path(records: int) -> Path:
    return cache_dir() / f"records-{records}.sqlite3"


def build(records: int) -> Path:
    """The cached store of `records` records (built when missing; a half-built one is never reused)."""
    from sqlalchemy import select

    from app.models import Store
    from app.models.schema import ActivityRow
    from batch_support import add_activity as add_upload_activity
    from learner_support import add_activity, bulk_load

    target = store_path(records)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".building")
    for leftover in partial.parent.glob(partial.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    store = Store.open(partial)
    add_upload_activity(store)
    with store.session() as s:
        activities = [s.scalar(select(ActivityRow.id))]
    activities += [add_activity(store, accme_id=f"20000000{i}", title=f"Grand Rounds {i}") for i in range(4)]
    for first in range(0, records, CHUNK):
        bulk_load(store, activities, min(CHUNK, records - first), first=first, seed=first)
    store.close()
    partial.replace(target)
    print(f"built {target} ({records:,} records) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return target


def fresh_copy(records: int, folder: Path) -> Path:
    """A private copy of the cached store, for benchmarks that change it. Through SQLite's backup API:
    a plain file copy would miss what still sits in the cached store's -wal file."""
    import sqlite3

    copy = folder / f"copy-{records}.sqlite3"
    copy.unlink(missing_ok=True)
    source, target = sqlite3.connect(build(records)), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy


def load_note() -> str:
    """The machine's load averages (1, 5, 15 min), to print next to figures measured on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min, {os.cpu_count()} cores)"


def sizes_from(argv: list[str]) -> list[int]:
    return [int(a.replace(",", "").replace("_", "")) for a in argv] or list(SIZES)


if __name__ == "__main__":
    for size in sizes_from(sys.argv[1:]):
        print(build(size))
