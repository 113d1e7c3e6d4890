"""The Activities tab and the activity dialog, driven through their real widgets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest

from app.models import ActivityRow
from app.pars.activities_json import write_activities
from app.pars.domain import Activity, BoardRegistration, Status
from app.services.activities_view import activity_overview
from app.ui.activities_tab import COL_BOARDS, COL_ID, COL_LEARNERS, COL_START, COL_TITLE, ActivitiesTab
from app.ui.activity_dialog import ActivityDialog
from tests.sync_support import SANDBOX_ACTIVITY, add_activity, queue_records, running_sandbox, sandbox_client
from tests.ui_support import make_context, when_modal_opens


@pytest.fixture
def tab(qtbot, store):
    ctx = make_context(store)
    widget = ActivitiesTab(ctx)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def cell(tab: ActivitiesTab, row: int, column: int, role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole):
    return tab.proxy.data(tab.proxy.index(row, column), role)


def row_of(tab: ActivitiesTab, title: str) -> int:
    for row in range(tab.proxy.rowCount()):
        if cell(tab, row, COL_TITLE) == title:
            return row
    raise AssertionError(f"{title!r} is not listed")


def test_overview_counts_learners_by_status_in_one_grouped_query(store):
    first = add_activity(store, accme_id="123456789", title="Cardiology Update")
    second = add_activity(store, title="Not yet registered")
    queue_records(store, first, 3)
    queue_records(store, first, 2, status=Status.ACCEPTED.value, outbox_action=None, label="a")
    queue_records(store, second, 1, status=Status.REJECTED.value, outbox_action=None, label="b")
    statements: list[str] = []
    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with store.session() as session:
        overview = {o.title: o for o in activity_overview(session)}
    assert overview["Cardiology Update"].counts == {"Queued": 3, "Accepted": 2}
    assert overview["Not yet registered"].counts == {"Rejected": 1}
    assert sum("GROUP BY" in s for s in statements) == 1
    assert sum("FROM completion" in s for s in statements) == 1


def test_table_shows_id_or_not_registered_boards_and_learner_counts(qtbot, store):
    registered = add_activity(store, accme_id="123456789", title="Cardiology Update", abim_points=Decimal("10"))
    add_activity(store, title="Sports Medicine Symposium")
    queue_records(store, registered, 12, status=Status.ACCEPTED.value, outbox_action=None, label="a")
    queue_records(store, registered, 2, status=Status.REJECTED.value, outbox_action=None, label="r")
    queue_records(store, registered, 3)
    widget = ActivitiesTab(make_context(store))
    qtbot.addWidget(widget)

    cardio = row_of(widget, "Cardiology Update")
    assert cell(widget, cardio, COL_ID) == "123456789"
    assert cell(widget, cardio, COL_BOARDS) == "ABIM 10"
    assert cell(widget, cardio, COL_LEARNERS) == "12 accepted · 2 rejected · 3 queued"
    sports = row_of(widget, "Sports Medicine Symposium")
    assert cell(widget, sports, COL_ID) == "not registered yet"
    assert "the next sync registers it" in cell(widget, sports, COL_ID, Qt.ItemDataRole.ToolTipRole)
    assert cell(widget, sports, COL_LEARNERS) == "none yet"


def test_record_changes_update_counts_in_place_without_a_reset(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 2)
    widget = ActivitiesTab(make_context(store))
    qtbot.addWidget(widget)
    resets: list[bool] = []
    widget.model.modelReset.connect(lambda: resets.append(True))
    from app.models import CompletionRow

    with store.transaction() as session:  # what a sync does to one record
        session.get(CompletionRow, ids[0]).status = Status.SUBMITTED.value
    with qtbot.waitSignal(widget.model.dataChanged, timeout=5_000):
        widget.ctx.notify_records_changed([ids[0]])
    assert cell(widget, 0, COL_LEARNERS) == "1 submitted · 1 queued"
    assert resets == []


def test_filter_box_narrows_the_rows_and_sorting_by_start_date(qtbot, store):
    add_activity(store, accme_id="111111111", title="Cardiology Update", start=date(2026, 1, 5))
    add_activity(store, accme_id="222222222", title="Pediatric Asthma", start=date(2026, 2, 1), end=date(2026, 2, 2))
    add_activity(store, accme_id="333333333", title="Cardiac Imaging", start=date(2025, 12, 1), end=date(2025, 12, 2))
    widget = ActivitiesTab(make_context(store))
    qtbot.addWidget(widget)
    widget.show()

    widget.table.sortByColumn(COL_START, Qt.SortOrder.AscendingOrder)
    assert [cell(widget, r, COL_TITLE) for r in range(3)] == ["Cardiac Imaging", "Cardiology Update", "Pediatric Asthma"]
    qtbot.keyClicks(widget.filter_edit, "cardi")
    assert widget.proxy.rowCount() == 2
    assert widget.count_label.text() == "2 of 3 activities"
    widget.filter_edit.clear()
    qtbot.keyClicks(widget.filter_edit, "222222")
    assert widget.proxy.rowCount() == 1 and cell(widget, 0, COL_TITLE) == "Pediatric Asthma"


def test_new_activity_dialog_flags_end_before_start_and_saves_once_fixed(qtbot, tab):
    failures: list[BaseException] = []

    def fill(dialog: ActivityDialog) -> None:
        qtbot.keyClicks(dialog.title_edit, "Stroke Care Update")
        dialog.start_edit.setDate(QDate(2026, 3, 10))
        dialog.end_edit.setDate(QDate(2026, 3, 9))
        end_error = dialog.field_errors["End Date"]
        assert end_error.isVisible()
        assert "End date 03-09-2026 is before the start date 03-10-2026" in end_error.text()
        assert not dialog.ok_button.isEnabled()
        row = dialog.add_board()
        row.set_code("ABIM")
        row.points.setValue(6.1)
        problems = [dialog.problems_list.item(i).text() for i in range(dialog.problems_list.count())]
        assert any("not in steps of 0.25 (675)" in p for p in problems)
        assert any("needs at least one credit type" in p for p in problems)
        dialog.end_edit.setDate(QDate(2026, 3, 11))
        row.points.setValue(6)
        row.set_credit_type_checked("Medical Knowledge")
        dialog.cme_spin.setValue(6.25)
        assert dialog.ok_button.isEnabled(), dialog.issues
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    when_modal_opens(qtbot, fill, failures)
    QTest.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    assert not failures, failures

    row = row_of(tab, "Stroke Care Update")
    assert cell(tab, row, COL_ID) == "not registered yet"
    assert cell(tab, row, COL_BOARDS) == "ABIM 6"
    assert tab.current_activity_id() is not None
    with tab.ctx.store.session() as session:
        saved = {o.title: o for o in activity_overview(session)}["Stroke Care Update"]
    assert saved.cme_credits == Decimal("6.25") and saved.start_date == date(2026, 3, 10)


def test_edit_dialog_loads_the_activity_and_saves_changes(qtbot, store):
    row_id = add_activity(store, accme_id="123456789", title="Cardiology Update", abim_points=Decimal("8"))
    ctx = make_context(store)
    dialog = ActivityDialog(ctx, activity_row_id=row_id)
    qtbot.addWidget(dialog)
    assert dialog.title_edit.text() == "Cardiology Update"
    assert dialog.id_label.text() == "123456789"
    [board] = dialog.board_rows()
    assert board.code() == "ABIM" and board.checked_credit_types() == ("Medical Knowledge",)
    dialog.title_edit.setText("Cardiology Update 2026")
    with qtbot.waitSignal(ctx.activities_changed, timeout=2_000):
        dialog.accept()
    with store.session() as session:
        [saved] = activity_overview(session)
    assert saved.title == "Cardiology Update 2026" and saved.accme_id == "123456789"
    assert saved.pars_outdated  # PARS still has the old title: the next sync sends the change


def test_an_edited_registered_activity_says_its_changes_wait_for_the_sync(qtbot, tab, store):
    from app.services.activities import activity_to_domain
    from app.services.activities_view import save_activity_by_id

    row_id = add_activity(store, accme_id="123456789", title="Cardiology Update")
    with store.transaction() as session:
        edited = activity_to_domain(session.get(ActivityRow, row_id))
        save_activity_by_id(session, replace(edited, cme_credits=Decimal("7")), row_id)
    tab.ctx.activities_changed.emit()
    row = row_of(tab, "Cardiology Update")
    assert cell(tab, row, COL_ID) == "123456789 · changes to send"
    tooltip = cell(tab, row, COL_ID, Qt.ItemDataRole.ToolTipRole)
    assert "next sync sends them to PARS" in tooltip


def test_import_json_adds_the_activities(qtbot, tab, tmp_path):
    path = tmp_path / "activities.json"
    write_activities(path, [
        SANDBOX_ACTIVITY,
        Activity("987654321", "Pathology Summit", "Course", date(2026, 2, 1), date(2026, 2, 2), Decimal("9.5"),
                 (BoardRegistration("ABPATH", Decimal("9.5"), ("Lifelong Learning",)),)),
    ])
    assert tab.import_json_file(path) == 2
    assert cell(tab, row_of(tab, "Pathology Summit"), COL_BOARDS) == "ABPATH 9.5"
    assert cell(tab, row_of(tab, "Cardiology Update"), COL_ID) == "123456789"


def test_fetch_from_pars_stores_the_activity_off_the_gui_thread(qtbot, store):
    with running_sandbox() as sandbox:
        ctx = make_context(store, sandbox=sandbox)  # the app's own client for "local": the running sandbox
        widget = ActivitiesTab(ctx)
        qtbot.addWidget(widget)
        with qtbot.waitSignal(widget.fetch_finished, timeout=10_000) as done:
            widget.fetch_from_pars("123456789")
    assert done.args[0] is True, done.args
    row = row_of(widget, "Cardiology Update")
    assert cell(widget, row, COL_ID) == "123456789"
    assert cell(widget, row, COL_BOARDS) == "ABIM 8"
    assert widget.current_activity_id() is not None


def test_fetch_of_an_unknown_activity_says_so(qtbot, store):
    with running_sandbox() as sandbox:
        ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
        widget = ActivitiesTab(ctx)
        qtbot.addWidget(widget)
        with qtbot.waitSignal(widget.fetch_finished, timeout=10_000) as done:
            widget.fetch_from_pars("555555555")
    ok, message = done.args
    assert not ok and "555555555" in message
    assert widget.proxy.rowCount() == 0
