"""What noticing other processes' writes costs, and how soon the window shows them.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_store_changes.py [--records 100000]

- poll: one `ctx.read(feed.poll)` as the main window runs it every second, on a store holding
  `--records` learner records (target: well under 1 ms, it is one primary-key read);
- write overhead: 500 small transactions (meta upserts) with the store_revision bump, each timed;
- refresh latency: from the end of a `parsdesk import` subprocess (5 rows) to the open window's
  Learner Summary showing them (target: about 2 s; the poll interval is 1 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PARSDESK_SETTINGS_DIR", tempfile.mkdtemp(prefix="parsdesk-bench-settings-"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.models import Store  # noqa: E402
from tests.batch_support import AS_OF, add_activity, row, write_xlsx  # noqa: E402
from tests.sync_support import queue_records  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import TAB_SUMMARY
    from tests.ui_support import make_context

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="parsdesk-bench-changes-"))
    store = Store.open(folder / "parsdesk.sqlite3")
    add_activity(store)
    from sqlalchemy import select

    from app.models.schema import ActivityRow

    with store.session() as s:
        activity = s.scalar(select(ActivityRow.id))
    for start in range(0, args.records, 10_000):
        queue_records(store, activity, min(10_000, args.records - start), label=f"b{start}")

    ctx = make_context(store)
    feed = ctx.open_change_feed()
    polls = []
    for _ in range(1_000):
        began = time.perf_counter()
        ctx.read(feed.poll)
        polls.append(time.perf_counter() - began)
    polls.sort()
    print(f"poll on {args.records:,} records: median {polls[500] * 1e3:.3f} ms, "
          f"p99 {polls[990] * 1e3:.3f} ms")

    writes = []
    for n in range(500):
        began = time.perf_counter()
        store.set_meta("bench", str(n))
        writes.append(time.perf_counter() - began)
    writes.sort()
    print(f"small write transaction incl. revision bump: median {writes[250] * 1e3:.2f} ms")

    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    window.show()
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    before = window.summary_tab.model.total
    path = write_xlsx(folder / "cron.xlsx", [row(n) for n in range(1, 6)])
    subprocess.run([sys.executable, "-m", "app", "import", str(path), "--db", str(store.path),
                    "--as-of", AS_OF.isoformat()], cwd=ROOT, check=True, capture_output=True)
    ended = time.perf_counter()
    while window.summary_tab.model.total < before + 5:
        app.processEvents()
        if time.perf_counter() - ended > 10:
            print("refresh latency: not seen within 10 s")
            return 1
    print(f"refresh latency after the import process ended: {time.perf_counter() - ended:.2f} s "
          f"(Learner Summary of {window.summary_tab.model.total:,} records)")
    window.close()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
