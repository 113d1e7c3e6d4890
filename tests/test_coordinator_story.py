"""A coordinator's whole day in the real main window, against the real PARS sandbox over HTTP.

Create an activity, add CME+MOC learners, sync (Submitted), let the board answer (Accepted / a
rejection shown as a tooltip), double-click the rejected record, fix it, resubmit, see it accepted;
delete a record; download the learners and read the workbook back; find a learner with filters.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest

from app.ui.activity_dialog import ActivityDialog
from sync_support import clock_starting_at, running_sandbox, sandbox_client
from ui_support import make_context, make_window, when_modal_opens

# The app checks records against the real today, so the activity ended two days ago. The completions
# fall in the activity's last year (at most three days before its end), so the delete at the end of the
# story is not refused as a delete of a previous year's completion (706, closed on 12/31).
TODAY = date.today()
START, END = TODAY - timedelta(days=20), TODAY - timedelta(days=2)
COMPLETED = max(END - timedelta(days=3), date(END.year, 1, 1))


@pytest.fixture
def sandbox():
    """conftest's sandbox (demo registry, 5 s board delay) living at noon of the activity's last day: its
    few hours of advance() never cross midnight into a new year, which would close the deletes (706)."""
    with running_sandbox(activities=[], board_delay=5.0,
                         clock=clock_starting_at(datetime.combine(END, time(12)))) as server:
        yield server


@pytest.fixture
def store(any_store, tmp_path, monkeypatch):
    """The whole story on SQLite and on the office's PostgreSQL database (tests/pg_support.py)."""
    monkeypatch.chdir(tmp_path)  # files a pass leaves beside a store without a path stay in tmp_path
    return any_store


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _sync(qtbot, window) -> dict:
    with qtbot.waitSignal(window.sync_finished, timeout=30_000) as finished:
        window.sync_now()  # F5 (its key binding is tested in test_main_window)
    report = finished.args[0]
    assert not report["fatal"] and report["errors"] == 0, report
    return report


def _status(tab, completion_id: int) -> str:
    model = tab.model
    return model.index(model.row_of(completion_id), model.column_of("status")).data()


def _create_activity(qtbot, window) -> int:
    failures: list[BaseException] = []

    def fill(dialog: ActivityDialog) -> None:
        qtbot.keyClicks(dialog.title_edit, "Heart Failure Masterclass")
        dialog.start_edit.setDate(_qdate(START))
        dialog.end_edit.setDate(_qdate(END))
        dialog.cme_spin.setValue(6)
        board = dialog.add_board()
        board.set_code("ABIM")
        board.points.setValue(6)
        board.set_credit_type_checked("Medical Knowledge")
        board.claim_date.setDate(_qdate(TODAY))
        assert dialog.ok_button.isEnabled(), dialog.issues
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    when_modal_opens(qtbot, fill, failures)
    QTest.mouseClick(window.activities_tab.new_button, Qt.MouseButton.LeftButton)
    assert not failures, failures
    activity_id = window.activities_tab.current_activity_id()
    assert activity_id is not None
    return activity_id


def _add_learner(qtbot, window, first: str, last: str, dob: str, state: str, license_id: str,
                 board_id: str) -> int:
    dialog = window.new_learner()  # Ctrl+N; the window owns the dialog, which closes itself after Submit
    dialog.completion_date.clear()
    qtbot.keyClicks(dialog.completion_date, COMPLETED.strftime("%m/%d/%Y"))
    for edit, text in ((dialog.first_name, first), (dialog.last_name, last), (dialog.birth_date, dob),
                       (dialog.license_id, license_id)):
        qtbot.keyClicks(edit, text)
    dialog.state_combo.setCurrentIndex(dialog.state_combo.findData(state))
    board = dialog.add_board("ABIM")
    qtbot.keyClicks(board.board_id, board_id)
    dialog.permission.setChecked(True)
    with qtbot.waitSignal(dialog.saved) as saved:
        QTest.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    completion_id, status = saved.args
    assert status == "Queued"
    return completion_id


def test_a_coordinators_day_from_new_activity_to_accepted_resubmission(qtbot, store, sandbox, tmp_path,
                                                                       monkeypatch):
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    window = make_window(qtbot, ctx)

    activity = _create_activity(qtbot, window)
    window.show_activity(activity)
    summary = window.summary_tab
    avery = _add_learner(qtbot, window, "Avery", "Morgan", "03/14", "MD", "D0048213", "100001")
    # the board knows ABIM 100002 as Jordan *Patel*
    jordan = _add_learner(qtbot, window, "Jordan", "Patell", "07/22", "NC", "2009-01187", "100002")
    qtbot.waitUntil(lambda: window.queued_label.text() == "2 queued", timeout=3_000)

    report = _sync(qtbot, window)  # registers the activity, then sends both records
    assert report["sent"] == 2
    assert "not registered yet" not in window.activities_tab.table.model().index(0, 0).data()
    assert _status(summary, avery) == _status(summary, jordan) == "Submitted"

    sandbox.advance(3600)  # a day later the board has answered
    _sync(qtbot, window)
    assert _status(summary, avery) == "Accepted"
    assert _status(summary, jordan) == "Rejected 665"
    tooltip = summary.model.index(summary.model.row_of(jordan), summary.model.column_of("status")).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert tooltip.startswith("665 — ") and "name" in tooltip

    # double-click the rejected record, correct the name, resubmit
    rect = summary.table.visualRect(summary.model.index(summary.model.row_of(jordan), 1))
    QTest.mouseClick(summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = summary.last_dialog
    assert dialog.resubmit_id == jordan and "665" in dialog.banner.text()
    dialog.last_name.clear()
    qtbot.keyClicks(dialog.last_name, "Patel")
    dialog.permission.setChecked(True)
    with qtbot.waitSignal(dialog.saved) as saved:
        QTest.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    corrected = saved.args[0]
    assert corrected != jordan
    qtbot.waitUntil(lambda: summary.model.row_of(corrected) is not None)

    _sync(qtbot, window)
    sandbox.advance(3600)
    _sync(qtbot, window)
    assert _status(summary, corrected) == "Accepted"
    assert _status(summary, jordan) == "Rejected 665 (resubmitted)"
    received = {r["credit_id"]: r["received"] for r in sandbox.records()}
    assert sorted(received.values()) == [1, 1, 1]  # three creditIDs, each sent once

    # delete the first accepted record: ticked, Del, confirmed; the board processes the delete
    monkeypatch.setattr(summary, "confirm_delete", lambda count: count == 1)
    summary.model.setData(summary.model.index(summary.model.row_of(avery), 0), Qt.CheckState.Checked.value,
                          Qt.ItemDataRole.CheckStateRole)
    summary.delete_selected()
    assert _status(summary, avery) == "Delete Queued"
    _sync(qtbot, window)
    sandbox.advance(3600)
    _sync(qtbot, window)
    assert summary.model.row_of(avery) is None or _status(summary, avery) == "Deleted"

    # download the activity's learners and read the workbook back
    target = tmp_path / "heart-failure-learners.xlsx"
    monkeypatch.setattr(summary, "choose_save_path", lambda suggested: str(target))
    with qtbot.waitSignal(summary.exported):
        QTest.mouseClick(summary.download_button, Qt.MouseButton.LeftButton)
    sheet = load_workbook(target).active
    headers = [cell.value for cell in sheet[1]]
    rows = {row[headers.index("Last Name")]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["Patel"][headers.index("Status")] == "Accepted"
    assert rows["Patell"][headers.index("Status Code")] == 665
    assert rows["Patel"][headers.index("Completion Date")] == datetime.combine(COMPLETED, datetime.min.time())

    # Ctrl+F: find the corrected record by name and status
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    search = window.search_tab
    qtbot.keyClicks(search.name_edit, "Patel")
    search.status_combo.setCurrentIndex(search.status_combo.findText("Accepted"))
    qtbot.waitUntil(lambda: search.model.rowCount() == 1, timeout=3_000)
    assert search.model.record(0).completion_id == corrected
