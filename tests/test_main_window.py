"""The main window: tabs, routing, F5 sync against the real sandbox, remembered state, clean close."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sqlalchemy import select, update

from app.models import CompletionRow, OutboxRow
from app.pars.domain import Status
from app.services import records
from app.ui.activities_tab import COL_TITLE
from app.ui.main_window import DEMO_BANNER, TAB_ACTIVITIES, TAB_SEARCH, TAB_SUMMARY, MainWindow
from tests.sync_support import add_activity, queue_records, running_sandbox, sandbox_client, sandbox_records, statuses
from tests.ui_support import make_context, make_window


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PARSDESK_SETTINGS_DIR", str(tmp_path / "settings"))


@pytest.fixture
def sandbox():
    """conftest's sandbox (demo registry, 5 s board delay), but with its calendar pinned to the January
    2026 records these tests queue: it validates with its clock's today (705 deadlines, future dates)."""
    with running_sandbox(activities=[], board_delay=5.0) as server:
        yield server


def test_tabs_in_order_and_status_bar_names_the_environment(qtbot, store):
    window = make_window(qtbot, make_context(store, environment="accme-sandbox"))
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Activities", "Learner Summary", "Batch Upload", "Learner Search"]
    assert window.environment_label.text() == "PARS: ACCME Sandbox"
    assert window.queued_label.text() == "Nothing queued"
    assert window.last_sync_label.text() == "Never synced"
    assert not window.banner.isVisible()


def test_demo_store_says_so_in_a_banner(qtbot, store):
    window = make_window(qtbot, make_context(store, demo=True))
    assert window.banner.isVisible()
    assert DEMO_BANNER in window.banner.text()


def test_double_click_on_an_activity_opens_its_learners(qtbot, store):
    add_activity(store, accme_id="123456789", title="Cardiology Update")
    row_id = add_activity(store, accme_id="987654321", title="Pathology Summit", start=date(2026, 2, 1),
                          end=date(2026, 2, 2))
    window = make_window(qtbot, make_context(store))
    tab = window.activities_tab
    row = next(r for r in range(tab.proxy.rowCount())
               if tab.proxy.data(tab.proxy.index(r, COL_TITLE)) == "Pathology Summit")
    rect = tab.table.visualRect(tab.proxy.index(row, COL_TITLE))
    shown: list[int] = []
    window.ctx.open_activity_requested.connect(shown.append)
    QTest.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert shown == [row_id]
    assert window.tabs.currentIndex() == TAB_SUMMARY
    summary = window.summary_tab
    if hasattr(summary, "current_activity_id"):
        assert summary.current_activity_id() == row_id


def test_ctrl_f_goes_to_learner_search_with_the_cursor_in_its_search_box(qtbot, store):
    window = make_window(qtbot, make_context(store))
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == TAB_SEARCH
    assert QApplication.focusWidget() is window.search_tab.name_edit


def test_ctrl_n_on_activities_opens_the_entry_form_for_the_selected_activity(qtbot, store):
    add_activity(store, accme_id="123456789", title="Cardiology Update")
    row_id = add_activity(store, accme_id="987654321", title="Pathology Summit", start=date(2026, 2, 1),
                          end=date(2026, 2, 2))
    window = make_window(qtbot, make_context(store))
    assert window.activities_tab.select_activity(row_id)
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is not None, timeout=3_000)
    dialog = QApplication.activeModalWidget()
    assert dialog.current_option().row_id == row_id
    dialog.reject()


def test_f5_syncs_with_the_sandbox_and_updates_the_status_bar(qtbot, store, sandbox):
    activity = add_activity(store, title="Cardiology Update")  # not registered: the sync registers it first
    ids = queue_records(store, activity, 5)
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    window = make_window(qtbot, ctx)
    assert window.queued_label.text() == "5 queued"
    changed: list[list[int]] = []
    ctx.records_changed.connect(changed.append)

    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
        QTest.keyClick(window, Qt.Key.Key_F5)
        assert window.sync_running
        assert window.sync_progress.isVisible()
    report = finished.args[0]
    assert report["sent"] == 5 and not report["fatal"], report
    assert window.queued_label.text() == "Nothing queued"
    assert window.last_sync_label.text().startswith("Last sync: ")
    assert window.sync_state_label.text() == "Synced"
    assert not window.sync_progress.isVisible()
    # the worker's per-record changes reached the views in batches, every record once at least
    assert set(ids) <= {cid for batch in changed for cid in batch}
    assert set(statuses(store).values()) <= {Status.SUBMITTED.value, Status.ACCEPTED.value}
    assert "not registered yet" not in window.activities_tab.table.model().data(
        window.activities_tab.table.model().index(0, 0))


def test_the_window_sends_as_many_batches_at_once_as_its_environment_says(qtbot, store, sandbox, tmp_path,
                                                                         monkeypatch):
    """`in_flight` in environments.toml counts in the desktop app as in `parsdesk sync` (it was ignored:
    the window always used the default), read again at each pass; a bad value is said, nothing sent."""
    from app.sync import engine as engine_module

    user_file = tmp_path / "environments.toml"
    user_file.write_text("[environments.local]\nin_flight = 2\n")
    monkeypatch.setenv("PARSDESK_ENVIRONMENTS", str(user_file))
    built: list[int] = []
    real_init = engine_module.SyncEngine.__init__

    def recording_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        built.append(self.in_flight)

    monkeypatch.setattr(engine_module.SyncEngine, "__init__", recording_init)
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 3)
    window = make_window(qtbot, make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url)))
    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
        assert window.sync_now()
    assert built == [2]
    assert finished.args[0]["sent"] == 3 and not finished.args[0]["fatal"], finished.args[0]

    user_file.write_text("[environments.local]\nin_flight = 1\n")
    with qtbot.waitSignal(window.sync_finished, timeout=20_000):
        assert window.sync_now()
    assert built == [2, 1]

    user_file.write_text("[environments.local]\nin_flight = 99\n")
    queue_records(store, activity, 1, label="later")
    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
        assert window.sync_now()
    assert built == [2, 1]
    assert "in_flight must be a whole number from 1 to 8" in finished.args[0]["fatal"]
    assert window.sync_state_label.text() == "Sync problem"
    assert window.queued_label.text() == "1 queued"


def test_sync_problem_is_shown_in_the_status_bar(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 1)

    def unreachable():  # a port nothing listens on
        return sandbox_client("http://127.0.0.1:9")

    window = make_window(qtbot, make_context(store, client_factory=unreachable))
    with qtbot.waitSignal(window.sync_finished, timeout=20_000):
        window.sync_now()
    assert window.sync_state_label.text() == "Sync problem"
    assert window.sync_state_label.toolTip()
    assert window.queued_label.text() == "1 queued"


def test_geometry_tab_and_column_widths_are_remembered(qtbot, store):
    add_activity(store, accme_id="123456789")
    first = make_window(qtbot, make_context(store))
    # the offscreen screen is 800x600 and restoreGeometry keeps windows on screen, so only the height
    # is free to vary here
    first.resize(first.width(), 533)
    first.tabs.setCurrentIndex(TAB_SEARCH)
    first.activities_tab.table.horizontalHeader().resizeSection(COL_TITLE, 411)
    first.close()

    second = make_window(qtbot, make_context(store))
    assert second.tabs.currentIndex() == TAB_SEARCH
    assert second.activities_tab.table.horizontalHeader().sectionSize(COL_TITLE) == 411
    assert second.height() == 533
    second.tabs.setCurrentIndex(TAB_ACTIVITIES)


def test_closing_during_a_sync_stops_it_and_loses_nothing(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 5000)  # ten batches of 500, a few at PARS at once
    with running_sandbox(latency_ms=300) as sandbox:
        ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url, timeout=30))
        window = make_window(qtbot, ctx)
        with qtbot.waitSignal(ctx.sync.records_changed, timeout=30_000):
            assert window.sync_now()
        window.close()
        assert not window.sync_running
        received = sandbox_records(sandbox)

    with store.session() as session:
        outbox = {row.completion_id: row for row in session.scalars(select(OutboxRow))}
        credit_ids = dict(session.execute(select(CompletionRow.id, CompletionRow.credit_id)).all())
    final = statuses(store)
    assert 0 < len(received) < len(ids)  # it stopped part way
    for completion_id in ids:
        credit_id = credit_ids[completion_id]
        if final[completion_id] == Status.QUEUED.value:
            # still queued for the next sync; if PARS got it, the outbox row is marked in flight so the
            # next sync asks PARS by creditID before sending again
            assert completion_id in outbox
            assert credit_id not in received or outbox[completion_id].in_flight
        else:
            assert final[completion_id] in (Status.SUBMITTED.value, Status.ACCEPTED.value)
            assert completion_id not in outbox
            assert credit_id in received  # marked sent only what PARS has


def test_window_class_exposes_sync_finished_for_tests():
    assert hasattr(MainWindow, "sync_finished")


def test_screenshots_command_writes_the_six_pngs_headless(tmp_path):
    import os
    import subprocess
    import sys

    from PySide6.QtGui import QImage

    from app.commands.screenshots import ALL_FILES, WINDOW_SIZE

    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "shots"
    result = subprocess.run([sys.executable, "-m", "app", "screenshots", str(out)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ALL_FILES:
        image = QImage(str(out / name))
        assert not image.isNull(), name
    for name in ("activities.png", "learner-summary.png", "batch-upload.png", "learner-search.png",
                 "rejection-tooltip.png"):
        assert (QImage(str(out / name)).width(), QImage(str(out / name)).height()) == WINDOW_SIZE, name
    assert sorted(p.name for p in out.iterdir()) == sorted(ALL_FILES)


def test_first_start_opens_the_demo_store_and_syncs_with_the_built_in_sandbox(qtbot, tmp_path):
    from app.commands.gui import open_session
    from app.ui.settings import AppSettings

    session = open_session(tmp_path / "first.sqlite3", "local", AppSettings(board_delay_s=0.0, sync_interval_s=0))
    try:
        assert session.ctx.demo and session.sandbox is not None
        # the demo went through the sandbox's own process (as a remote PARS), which kept it
        assert session.sandbox.pid not in (None, os.getpid())
        assert len(session.sandbox.records()) > 0
        window = make_window(qtbot, session.ctx)
        assert window.banner.isVisible() and DEMO_BANNER in window.banner.text()
        assert window.environment_label.text() == "PARS: Local sandbox"
        queued_before = window.queued_count
        assert queued_before > 0  # the demo leaves some records for the first sync
        with qtbot.waitSignal(window.sync_finished, timeout=30_000) as finished:
            QTest.keyClick(window, Qt.Key.Key_F5)
        assert not finished.args[0]["fatal"] and finished.args[0]["errors"] == 0, finished.args[0]
        assert window.queued_count == 0
        assert window.queued_label.text() == "Nothing queued"
        window.close()
    finally:
        session.close()

    # the second start keeps the store and the sandbox's memory of what it was sent
    again = open_session(tmp_path / "first.sqlite3", "local", AppSettings(board_delay_s=0.0, sync_interval_s=0))
    try:
        assert again.ctx.demo
        window = make_window(qtbot, again.ctx)
        with qtbot.waitSignal(window.sync_finished, timeout=30_000) as finished:
            window.sync_now()
        assert not finished.args[0]["fatal"] and finished.args[0]["errors"] == 0, finished.args[0]
        window.close()
    finally:
        again.close()


def test_cancel_sync_stops_part_way_and_keeps_the_rest_queued(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 5000)  # ten batches of 500, a few at PARS at once
    with running_sandbox(latency_ms=300) as sandbox:
        ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url, timeout=30))
        window = make_window(qtbot, ctx)
        with qtbot.waitSignal(ctx.sync.records_changed, timeout=30_000):
            window.sync_now()
        assert window.cancel_sync_action.isEnabled()
        with qtbot.waitSignal(window.sync_finished, timeout=30_000) as finished:
            window.cancel_sync_action.trigger()
    assert finished.args[0]["stopped"]
    assert window.sync_state_label.text() == "Sync cancelled"
    assert not window.cancel_sync_action.isEnabled() and window.sync_action.isEnabled()
    still_queued = [i for i, status in statuses(store).items() if status == Status.QUEUED.value]
    assert 0 < len(still_queued) < len(ids)
    assert window.queued_label.text() == f"{window.queued_count} queued"


def test_background_sync_runs_soon_after_start_when_records_wait(qtbot, store, sandbox, monkeypatch):
    import app.ui.main_window as main_window

    monkeypatch.setattr(main_window, "_FIRST_SYNC_DELAY_MS", 50)
    activity = add_activity(store, title="Cardiology Update")
    queue_records(store, activity, 3)
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url),
                       sync_interval_s=3600)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
        window.show()
    assert finished.args[0]["sent"] == 3


def test_learner_summary_follows_the_activity_selected_on_activities(qtbot, store):
    add_activity(store, accme_id="123456789", title="Cardiology Update")
    row_id = add_activity(store, accme_id="987654321", title="Pathology Summit", start=date(2026, 2, 1),
                          end=date(2026, 2, 2))
    window = make_window(qtbot, make_context(store))
    window.activities_tab.select_activity(row_id)
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    assert window.summary_tab.current_activity_id() == row_id


def test_periodic_sync_respects_backoff_and_f5_retries_at_once(qtbot, store, sandbox, monkeypatch):
    """A record held back after a failed send (its retry time not reached) is left alone by the
    timer's sync, so a PARS outage is not hammered on every tick; F5 sends it straight away."""
    import app.ui.main_window as main_window

    monkeypatch.setattr(main_window, "_FIRST_SYNC_DELAY_MS", 50)
    activity = add_activity(store, accme_id="123456789")
    [held] = queue_records(store, activity, 1)
    with store.transaction() as s:
        s.execute(update(OutboxRow).where(OutboxRow.completion_id == held)
                  .values(attempts=1, next_attempt_at=datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=1)))
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url),
                       sync_interval_s=3600)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as periodic:
        window.show()  # the first timer sync follows shortly
    assert periodic.args[0]["sent"] == 0
    assert statuses(store)[held] == Status.QUEUED.value
    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as manual:
        window.sync_action.trigger()
    assert manual.args[0]["sent"] == 1
    assert statuses(store)[held] != Status.QUEUED.value


def test_closing_stops_a_running_file_check(qtbot, store, tmp_path):
    from tests.batch_support import counts, row, write_xlsx

    add_activity(store, accme_id="123456789")
    path = write_xlsx(tmp_path / "big.xlsx", [row(n) for n in range(1, 1501)])
    window = make_window(qtbot, make_context(store))
    before = counts(store)
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.upload_tab))
    window.upload_tab.load_file(path)
    thread = window.upload_tab._thread  # noqa: SLF001 - the check's thread, to see it has ended
    assert thread is not None and thread.isRunning()
    window.close()
    assert thread.isFinished()  # stopped and waited for before the window closed
    assert counts(store) == before


def test_a_tab_not_on_screen_catches_up_with_record_changes_when_shown(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    [record] = queue_records(store, activity, 1)
    window = make_window(qtbot, make_context(store))
    window.show_activity(activity)
    search = window.search_tab.model
    row = search.row_of(record)
    assert search.record(row).status == Status.QUEUED.value
    with store.transaction() as s:
        records.set_status(s, s.get(CompletionRow, record), Status.ACCEPTED, source="PARS")
    window.ctx.notify_records_changed([record])
    summary = window.summary_tab.model
    assert summary.record(summary.row_of(record)).status == Status.ACCEPTED.value  # on screen: at once
    assert search.record(row).status == Status.QUEUED.value  # hidden: not re-read yet
    window.tabs.setCurrentIndex(TAB_SEARCH)
    assert search.record(search.row_of(record)).status == Status.ACCEPTED.value


def test_full_garbage_collections_wait_while_a_sync_runs(qtbot, store, sandbox):
    import gc

    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 3)
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    window = make_window(qtbot, ctx)
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    window.sync_started.connect(lambda: during.append(gc.get_threshold()))
    with qtbot.waitSignal(window.sync_finished, timeout=20_000):
        window.sync_now()
    assert during and during[0][:2] == before[:2] and during[0][2] > 100_000
    assert gc.get_threshold() == before
