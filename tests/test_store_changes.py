"""Views follow the store when another process changes it (a cron `parsdesk import` or `sync`
while the app is open): the revision counter, the change feed, and the real window refreshing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel

from app.models import Meta, Store
from app.models.changes import current_revision, revision_feed
from app.ui.main_window import TAB_SUMMARY
from tests.batch_support import AS_OF, add_activity, row, write_xlsx
from tests.ui_support import make_context, make_window

ROOT = Path(__file__).resolve().parent.parent


def _in_another_process(db: Path, code: str) -> None:
    script = f"from app.models import Store\nstore = Store.open({str(db)!r})\n{code}\nstore.close()\n"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)


def _revision(store: Store) -> int:
    with store.session() as s:
        return current_revision(s)


def test_every_writing_transaction_bumps_the_revision_and_a_rolled_back_one_does_not(store):
    before = _revision(store)
    store.set_meta("provider_id", "7654321")
    assert _revision(store) == before + 1
    with store.session() as s:
        s.get(Meta, "provider_id")  # a read-only unit of work
    assert _revision(store) == before + 1
    try:
        with store.transaction() as s:
            s.merge(Meta(key="provider_id", value="1111111"))
            s.flush()
            raise RuntimeError("the user's action failed")
    except RuntimeError:
        pass
    assert _revision(store) == before + 1


def test_the_feed_reports_another_processs_write_and_not_this_ones(store):
    with store.session() as s:
        feed = revision_feed(s)
    store.set_meta("provider_id", "7654321")  # this process: its views already know
    with store.session() as s:
        assert feed.poll(s) is False
    _in_another_process(store.path, "store.set_meta('provider_id', '1111111')")
    with store.session() as s:
        assert feed.poll(s) is True
        assert feed.poll(s) is False  # reported once


def test_a_cron_import_shows_up_in_the_open_window_and_keeps_the_selection(qtbot, any_store, tmp_path):
    """On SQLite through the revision counter, on the office database through LISTEN/NOTIFY."""
    store = any_store
    add_activity(store)
    first = write_xlsx(tmp_path / "monday.xlsx", [row(1), row(2)])
    subprocess.run([sys.executable, "-m", "app", "import", str(first), "--db", store.location,
                    "--as-of", AS_OF.isoformat()], cwd=ROOT, check=True, timeout=60, capture_output=True)
    window = make_window(qtbot, make_context(store))
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    summary = window.summary_tab
    qtbot.waitUntil(lambda: summary.model.total == 2)
    assert window.queued_label.text() == "2 queued"
    chosen = summary.model.record(1).completion_id
    summary.table.selectionModel().setCurrentIndex(
        summary.model.index(1, 2),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )

    later = write_xlsx(tmp_path / "tuesday.xlsx", [row(3), row(4), row(5)])
    done = subprocess.run([sys.executable, "-m", "app", "import", str(later), "--db", store.location,
                           "--as-of", AS_OF.isoformat()], cwd=ROOT, timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    qtbot.waitUntil(lambda: summary.model.total == 5, timeout=5_000)
    qtbot.waitUntil(lambda: window.queued_label.text() == "5 queued", timeout=5_000)
    qtbot.waitUntil(lambda: summary.count_label.text().startswith("5 records"), timeout=5_000)
    qtbot.waitUntil(lambda: window.activities_tab.model_counts() == {"Queued": 5}, timeout=5_000)
    selected = [summary.model.record(i.row()).completion_id for i in summary.table.selectionModel().selectedRows()]
    assert selected == [chosen]
    assert summary.model.record(summary.table.currentIndex().row()).completion_id == chosen
    window.grab().save(str(tmp_path / "after-cron-import.png"))


def test_a_cron_sync_in_another_process_updates_statuses_counts_and_last_sync(qtbot, store):
    from app.pars.domain import Status
    from tests.sync_support import add_activity as add_registered_activity
    from tests.sync_support import queue_records, running_sandbox

    activity = add_registered_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 3)
    window = make_window(qtbot, make_context(store))
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    summary = window.summary_tab
    qtbot.waitUntil(lambda: summary.model.total == 3)
    assert window.queued_label.text() == "3 queued" and window.last_sync_label.text() == "Never synced"

    with running_sandbox() as sandbox:
        done = subprocess.run([sys.executable, "-m", "app", "sync", "--once", "--db", str(store.path),
                               "--url", sandbox.url], cwd=ROOT, timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    status_column = summary.model.column_of("status")

    def shown_statuses() -> set[str]:
        return {summary.model.index(summary.model.row_of(i), status_column).data() for i in ids}

    qtbot.waitUntil(lambda: shown_statuses() == {Status.ACCEPTED.value}, timeout=5_000)
    qtbot.waitUntil(lambda: window.queued_label.text() == "Nothing queued", timeout=5_000)
    assert window.last_sync_label.text().startswith("Last sync: ")
    # the counts are read in the background (a pass over every record)
    qtbot.waitUntil(lambda: window.activities_tab.model_counts() == {Status.ACCEPTED.value: 3}, timeout=5_000)


def test_a_tab_that_was_hidden_during_the_change_catches_up_keeping_its_selection(qtbot, store, tmp_path):
    from app.ui.main_window import TAB_ACTIVITIES

    add_activity(store)
    first = write_xlsx(tmp_path / "monday.xlsx", [row(1), row(2)])
    subprocess.run([sys.executable, "-m", "app", "import", str(first), "--db", str(store.path),
                    "--as-of", AS_OF.isoformat()], cwd=ROOT, check=True, timeout=60, capture_output=True)
    window = make_window(qtbot, make_context(store))
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    summary = window.summary_tab
    qtbot.waitUntil(lambda: summary.model.total == 2)
    chosen = summary.model.record(1).completion_id
    summary.table.selectRow(1)
    window.tabs.setCurrentIndex(TAB_ACTIVITIES)

    later = write_xlsx(tmp_path / "tuesday.xlsx", [row(3)])
    subprocess.run([sys.executable, "-m", "app", "import", str(later), "--db", str(store.path),
                    "--as-of", AS_OF.isoformat()], cwd=ROOT, check=True, timeout=60, capture_output=True)
    qtbot.waitUntil(lambda: window.activities_tab.model_counts() == {"Queued": 3}, timeout=5_000)
    assert summary.model.total == 2  # hidden: it only noted the change

    window.tabs.setCurrentIndex(TAB_SUMMARY)
    qtbot.waitUntil(lambda: summary.model.total == 3)
    selected = [summary.model.record(i.row()).completion_id for i in summary.table.selectionModel().selectedRows()]
    assert selected == [chosen]
