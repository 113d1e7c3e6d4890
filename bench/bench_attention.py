"""How long does the attention list take on a large store?

    .venv/bin/python bench/bench_attention.py [--records 100000]

Builds a store of N records over 20 activities (a mix of Accepted, Submitted, Rejected and Queued, as
tests/learner_support.bulk_load makes them, completed in January 2026), then times, pinned to
03-25-2027 (the 2026 reporting year about to close, so most rules have records): the whole attention
list, the per-activity markers, the list with every creditID (what `parsdesk status --format json`
reads), and a Learner Search page filtered by the largest item. Target: the list and the markers
under 1 s each (the window reads them after each burst of record changes)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2027, 3, 25)


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000, result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    from app.models import Store
    from app.services import attention
    from app.services.learners import SearchFilters, search_records
    from tests.learner_support import add_activity, bulk_load

    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "bench.sqlite3")
        activities = [add_activity(store, accme_id=f"{100000000 + n}", title=f"Activity {n}") for n in range(20)]
        started = time.perf_counter()
        bulk_load(store, activities, args.records)
        print(f"store: {args.records:,} records over {len(activities)} activities "
              f"(loaded in {time.perf_counter() - started:.1f} s)")
        with store.session() as s:
            list_ms, items = _timed(lambda: attention.attention_list(s, AS_OF))
            markers_ms, markers = _timed(lambda: attention.activity_markers(s, AS_OF))
            ids_ms, with_ids = _timed(lambda: attention.attention_list(s, AS_OF, with_ids=True), repeat=1)
            biggest = max(items, key=lambda i: i.count)
            page_ms, page = _timed(lambda: search_records(s, SearchFilters(attention=biggest.rule), limit=200))
        for item in items:
            print(f"  {item.rule}: {item.count:,} records, {item.overdue:,} overdue")
        print(f"attention list: {list_ms:.0f} ms; per-activity markers: {markers_ms:.0f} ms "
              f"({len(markers)} activities); with every creditID: {ids_ms:.0f} ms "
              f"({sum(len(i.credit_ids) for i in with_ids):,} IDs); "
              f"Learner Search page filtered by '{biggest.rule}': {page_ms:.0f} ms ({len(page)} rows)")
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
