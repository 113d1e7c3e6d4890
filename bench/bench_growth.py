"""What grows with the store: Learner Search, the entry form's live check, Batch Upload.

    .venv/bin/python bench/bench_growth.py [SIZES ...] [--runs N] [--upload-only] [--uploaded]   # default 10k 100k 500k 1M

On each cached store (bench/store_builder.py), offscreen, with a 10 ms QTimer on the GUI thread
recording the longest gap between ticks (the longest the window froze):
- Learner Search: opening the tab (count + first page) and the slowest filter (name + status +
  board), plus a name-only and an ID filter; best of 3, each timing the one search after the
  filters are set (as bench_search.py does); "its query" is the slowest filter's count and first
  page read without the widgets (SQL and views). Goal: < 100 ms.
- the entry form's live check of one record of a learner the store holds (check_record through
  ctx.read, as the dialog runs it after a pause in typing); best of 5. Goal: < 100 ms.
- Batch Upload, through the real tab on a copy of the store: drop a 5,000-row workbook, wait for the
  summary, attest, queue; wall time drop -> queued and the longest GUI stall. Goals: < 3 s, < 50 ms.
  With --runs N (default 5) the upload is made N times, each on a fresh copy, and the medians are
  printed (with the load average); --upload-only leaves out the search and live-check columns.
  The floor: the same workbook uploaded the same way into an EMPTY store (the same five activities,
  no records), alternating with the sized runs, so the ratio store/floor shows what still grows with
  the store whatever the machine's load. With --uploaded, each copy first gets what a store whose
  records all came in through Batch Upload holds: an upload per 5,000 records and an upload line per
  record (the cached stores were built without them; the upload history counts them after every
  upload). Every copy is flushed to disk (sync) before its upload, so the copy's writeback does not
  land in the timing.
Figures are printed per size, with the goal next to each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from store_builder import SIZES, build, load_note, fresh_copy  # noqa: E402

SEARCH_GOAL_MS = 100.0
CHECK_GOAL_MS = 100.0
QUEUED_GOAL_S = 3.0
STALL_GOAL_MS = 50.0
TICK_MS = 10


class StallMeter:
    """Longest gap between 10 ms ticks of a GUI-thread timer while it runs."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.longest_ms = 0.0
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.longest_ms = max(self.longest_ms, (now - self._last) * 1000 - TICK_MS)
        self._last = now

    def start(self) -> None:
        self.longest_ms, self._last = 0.0, 0.0
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        return self.longest_ms


def _wait(app, condition, timeout_s: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up waiting")
        app.processEvents()
        time.sleep(0.001)


def _best_ms(action, runs: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        action()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def _best_cpu_ms(action, runs: int) -> float:  # noqa: ANN001
    """CPU time of this process for the action (best of `runs`): on a loaded shared machine, close to
    what the wall time would be on an idle one (the work here is all in-process: Python and SQLite)."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        action()
        best = min(best, (time.process_time() - started) * 1000)
    return best


def measure_search(app, ctx) -> dict[str, float]:  # noqa: ANN001
    from app.ui.learner_search import LearnerSearchTab

    tabs = []

    def open_tab() -> None:
        tab = LearnerSearchTab(ctx)
        tab.resize(1280, 700)
        tab.show()
        app.processEvents()
        tabs.append(tab)

    results = {"open_ms": _best_ms(open_tab, 3)}
    tab = tabs[-1]
    widgets = (tab.name_edit, tab.id_edit, tab.status_combo, tab.board_combo)

    def apply(name: str = "", learner_id: str = "", status: str | None = None, board: str | None = None) -> float:
        # set every filter quietly, then search once: the figure is that one search (as after a pause
        # in typing), not the clearing of the previous filters (a search of the whole store)
        tab.clear_filters()
        for widget in widgets:
            widget.blockSignals(True)
        tab.name_edit.setText(name)
        tab.id_edit.setText(learner_id)
        if status:
            tab.status_combo.setCurrentIndex(tab.status_combo.findData(status))
        if board:
            tab.board_combo.setCurrentIndex(tab.board_combo.findData(board))
        for widget in widgets:
            widget.blockSignals(False)
        started = time.perf_counter()
        tab.search()
        app.processEvents()
        return (time.perf_counter() - started) * 1000

    results["filter_ms"] = min(apply("hopper", status="Rejected", board="ABIM") for _ in range(3))
    # the same search without the widgets: the count and first page the tab reads (SQL and views)
    from app.services.learners import SearchFilters, SortKey, first_page

    slowest = SearchFilters(name="hopper", status="Rejected", board="ABIM")
    def read_slowest() -> None:
        ctx.read(first_page, slowest, limit=200, sort=SortKey.NAME, descending=False)

    results["filter_query_ms"] = _best_ms(read_slowest, 3)
    results["filter_query_cpu_ms"] = _best_cpu_ms(read_slowest, 3)
    results["name_ms"] = min(apply("hopper") for _ in range(3))
    results["id_ms"] = min(apply(learner_id="150000") for _ in range(3))
    for opened in tabs:
        opened.close()
        opened.deleteLater()
    app.processEvents()
    return results


def measure_live_check(ctx) -> float:  # noqa: ANN001
    from sqlalchemy import select

    from app.models.schema import CompletionRow
    from app.services.learners import check_record, completion_for_edit

    def known_record(session):  # noqa: ANN001, ANN202
        row_id = session.scalar(select(CompletionRow.id).order_by(CompletionRow.id.desc()).limit(1))
        activity_id = session.scalar(select(CompletionRow.activity_id).where(CompletionRow.id == row_id))
        return completion_for_edit(session, row_id), activity_id

    record, activity_id = ctx.read(known_record)
    record.credit_id = None  # a new record for a learner the store knows
    def check() -> None:
        ctx.read(check_record, record, activity_id, date(2026, 2, 15))

    return _best_ms(check, 5), _best_cpu_ms(check, 5)


def empty_store(folder: Path) -> Path:
    """A store with the cached stores' five activities and no records: the upload's floor."""
    from app.models import Store
    from batch_support import add_activity as add_upload_activity
    from learner_support import add_activity

    path = folder / "empty-template.sqlite3"
    if not path.exists():
        store = Store.open(path)
        add_upload_activity(store)
        for i in range(4):
            add_activity(store, accme_id=f"20000000{i}", title=f"Grand Rounds {i}")
        store.close()
    return path


def fresh_empty(folder: Path) -> Path:
    import shutil

    copy = folder / "copy-empty.sqlite3"
    shutil.copyfile(empty_store(folder), copy)
    return copy


def measure_upload(app, copy: Path, workbook: Path) -> dict[str, float]:  # noqa: ANN001
    """Batch Upload of `workbook` into the store at `copy` (deleted afterwards), through the real tab."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from app.models import Store
    from app.ui.batch_upload import BatchUploadTab
    from ui_support import make_context

    store = Store.open(copy)
    ctx = make_context(store)
    tab = BatchUploadTab(ctx)
    tab.as_of = date(2026, 2, 15)
    tab.resize(1100, 760)
    tab.show()
    app.processEvents()
    meter = StallMeter()
    analysed, committed = [], []
    tab.analysis_ready.connect(lambda: analysed.append(time.perf_counter()))
    tab.upload_committed.connect(lambda upload_id: committed.append(time.perf_counter()))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(workbook))])
    meter.start()
    started = time.perf_counter()
    tab.drop_zone.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                       Qt.KeyboardModifier.NoModifier))
    _wait(app, lambda: analysed and not tab.is_busy)
    tab.attest_checkbox.setChecked(True)
    tab.queue_button.click()
    _wait(app, lambda: committed and not tab.is_busy)
    stall = meter.stop()
    results = {"summary_s": analysed[0] - started, "queued_s": committed[0] - started, "upload_stall_ms": stall}
    tab.shutdown()
    tab.close()
    tab.deleteLater()
    app.processEvents()
    store.close()
    for leftover in copy.parent.glob(copy.name + "*"):
        leftover.unlink()
    return results


def add_upload_lines(copy: Path) -> None:
    """The copy as if every record had come in through Batch Upload: an upload per 5,000 records (the
    PARS maximum per file), each record that upload's add, with its upload line."""
    import sqlite3

    connection = sqlite3.connect(copy)
    try:
        first = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM upload").fetchone()[0]
        connection.execute(
            "INSERT INTO upload (id, at, file_name, file_format, records, queued, errors, adds, deletes, headers) "
            "SELECT ? + n / 5000, '2026-01-02 09:00:00.000000', 'learners-' || (n / 5000) || '.xlsx', 'xlsx', "
            "count(*), count(*), 0, count(*), 0, '[]' FROM (SELECT id - 1 AS n FROM completion) GROUP BY n / 5000",
            (first,))
        connection.execute("UPDATE completion SET upload_id = ? + (id - 1) / 5000, upload_row = (id - 1) % 5000 + 2",
                           (first,))
        connection.execute('INSERT INTO upload_line (upload_id, row_number, "values", completion_id) '
                           "SELECT upload_id, upload_row, '[]', id FROM completion ORDER BY id")
        connection.commit()
    finally:
        connection.close()


def measure_uploads(app, size: int, folder: Path, runs: int, uploaded: bool = False) -> tuple[list[dict], list[dict]]:  # noqa: ANN001, E501
    """`runs` uploads of one 5,000-row workbook into fresh copies of the sized store, each right after
    one into a fresh empty store (the floor): the same file, the same tab, the load of the moment."""
    from bench_check_db import make_workbook

    workbook = folder / "upload.xlsx"
    make_workbook(workbook, build(size), 5000)
    sized, floor = [], []
    for _ in range(max(1, runs)):
        empty = fresh_empty(folder)
        os.sync()
        floor.append(measure_upload(app, empty, workbook))
        copy = fresh_copy(size, folder)
        if uploaded:
            add_upload_lines(copy)
        os.sync()
        sized.append(measure_upload(app, copy, workbook))
    return sized, floor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--runs", type=int, default=5, help="uploads per size (medians are printed)")
    parser.add_argument("--upload-only", action="store_true", help="measure Batch Upload only")
    parser.add_argument("--uploaded", action="store_true",
                        help="give each store copy an upload line per record first (as if all came by Batch Upload)")
    parser.add_argument("--no-upload", action="store_true",
                        help="search and live check only (the upload works on a copy of the store)")
    args = parser.parse_args(argv)
    print(f"before: {load_note()}")

    from PySide6.QtWidgets import QApplication

    from app.models import Store
    from ui_support import make_context

    app = QApplication.instance() or QApplication([sys.argv[0]])
    print(f"{'records':>10}  {'search open':>11}  {'slowest filter':>14}  {'its query':>9}  {'name only':>9}  {'ID filter':>9}  "
          f"{'live check':>10}  {'drop→summary':>12}  {'drop→queued':>11}  {'upload stall':>12}  load")
    print(f"{'goal':>10}  {'< 100 ms':>11}  {'< 100 ms':>14}  {'':>9}  {'':>9}  {'< 100 ms':>9}  {'< 100 ms':>10}  "
          f"{'':>12}  {'< 3 s':>11}  {'< 50 ms':>12}")
    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-growth-") as scratch:
        os.environ["PARSDESK_SETTINGS_DIR"] = str(Path(scratch) / "settings")
        for size in args.sizes:
            nan = float("nan")
            search = {"open_ms": nan, "filter_ms": nan, "filter_query_ms": nan, "filter_query_cpu_ms": nan,
                      "name_ms": nan, "id_ms": nan}
            live = live_cpu = nan
            if not args.upload_only:
                # the cached store itself, read only: never migrated here (the copies for uploads are)
                store = Store.open(build(size), migrate_schema=False)
                ctx = make_context(store)
                search = measure_search(app, ctx)
                live, live_cpu = measure_live_check(ctx)
                store.close()
            load_before = os.getloadavg()[0]
            nothing = [{"summary_s": nan, "queued_s": nan, "upload_stall_ms": nan}]
            uploads, floors = ((nothing, nothing) if args.no_upload
                               else measure_uploads(app, size, Path(scratch), args.runs, args.uploaded))
            upload = {key: statistics.median(u[key] for u in uploads) for key in uploads[0]}
            floor = {key: statistics.median(u[key] for u in floors) for key in floors[0]}
            print(f"{size:>10,}  {search['open_ms']:>8.0f} ms  {search['filter_ms']:>11.0f} ms  "
                  f"{search['filter_query_ms']:>6.0f} ms  {search['name_ms']:>6.0f} ms  {search['id_ms']:>6.0f} ms  "
                  f"{live:>7.0f} ms  {upload['summary_s']:>10.2f} s  {upload['queued_s']:>9.2f} s  "
                  f"{upload['upload_stall_ms']:>9.0f} ms  {load_before:.1f}-{os.getloadavg()[0]:.1f}", flush=True)
            if not args.upload_only:
                print(f"{'':>10}  CPU time of the slowest filter's query: {search['filter_query_cpu_ms']:.0f} ms; "
                      f"of the live check: {live_cpu:.0f} ms (close to idle-machine wall time)", flush=True)
            if not args.no_upload:
                print(f"{'floor':>10}  {'(the same upload into an empty store, alternating)':>71}  "
                      f"{floor['summary_s']:>10.2f} s  {floor['queued_s']:>9.2f} s  {floor['upload_stall_ms']:>9.0f} ms",
                      flush=True)
                print(f"{'ratio':>10}  {'(store / empty store, medians)':>71}  "
                      f"{upload['summary_s'] / floor['summary_s']:>10.2f} ×  "
                      f"{upload['queued_s'] / floor['queued_s']:>9.2f} ×", flush=True)
            if len(uploads) > 1:
                print(f"{'':>10}  each upload, drop→queued (s): " + ", ".join(f"{u['queued_s']:.2f}" for u in uploads)
                      + f"  (median of {len(uploads)}); into the empty store: "
                      + ", ".join(f"{u['queued_s']:.2f}" for u in floors), flush=True)
    print(f"after: {load_note()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
