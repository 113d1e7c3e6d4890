"""The Learner Summary tab: an activity's records, tooltips, resubmission, delete, history, download."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from sqlalchemy import select

from app.models import ActivityRow, CompletionRow, OutboxRow
from app.pars.domain import BoardPart, Status
from app.services import learners, records
from app.ui.learner_dialog import LearnerDialog
from app.ui.learner_summary import LearnerSummaryTab
from app.ui.record_details import RecordDetailsDialog
from app.ui.record_model import RecordIdRole

from learner_support import completion, recent_activity, store_record
from ui_support import make_context

RECENT = date.today() - timedelta(days=3)


def _tab(qtbot, store) -> LearnerSummaryTab:
    tab = LearnerSummaryTab(make_context(store))
    qtbot.addWidget(tab)
    tab.resize(1100, 500)
    tab.show()
    return tab


def _rows(tab) -> dict[str, int]:
    model = tab.model
    return {model.record(r).last_name: r for r in range(model.rowCount())}


def _status_index(tab, row: int):
    return tab.model.index(row, tab.model.column_of("status"))


def _board(board_id: str, points: str = "8") -> list[BoardPart]:
    return [BoardPart("ABIM", board_id, Decimal(points), {"Medical Knowledge": None})]


def _rejected_hopper(store, activity) -> int:
    return store_record(
        store, activity,
        completion("Grace", "Hoper", license_id="G2", completed=RECENT, boards=_board("654321")),
        status=Status.REJECTED, code=665, message="Diplomate name does not match Board record",
    )


def test_shows_the_activitys_records_with_status_counts(qtbot, store):
    activity = recent_activity(store)
    other = recent_activity(store, accme_id="987654321", title="Other activity")
    store_record(store, activity, completion("Ada", "Lovelace", completed=RECENT), status=Status.ACCEPTED)
    _rejected_hopper(store, activity)
    store_record(store, other, completion("Alan", "Turing", license_id="T3", completed=RECENT))
    tab = _tab(qtbot, store)
    assert tab.show_activity(activity)
    assert set(_rows(tab)) == {"Lovelace", "Hoper"}
    assert tab.count_label.text() == "2 records: 1 Accepted, 1 Rejected"
    assert tab.show_activity(other)
    assert set(_rows(tab)) == {"Turing"}


def test_rejected_record_tooltip_gives_code_message_and_fix(qtbot, store):
    activity = recent_activity(store)
    _rejected_hopper(store, activity)
    tab = _tab(qtbot, store)
    index = _status_index(tab, 0)
    assert index.data() == "Rejected 665"
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("665 — Diplomate name does not match Board record")
    assert "Rejected by the certifying board" in tooltip
    assert "Fix: Use the name exactly as the board has it" in tooltip
    assert not index.data(Qt.ItemDataRole.DecorationRole).isNull()


def test_status_change_updates_just_that_row_without_a_reset(qtbot, store):
    activity = recent_activity(store)
    ada = store_record(store, activity, completion("Ada", "Lovelace", completed=RECENT), status=Status.SUBMITTED)
    store_record(store, activity, completion("Grace", "Hopper", license_id="G2", completed=RECENT, boards=_board("2")))
    tab = _tab(qtbot, store)
    row = tab.model.row_of(ada)
    assert _status_index(tab, row).data() == "Submitted"  # worked out once and kept for painting
    with store.transaction() as s:
        records.set_status(s, s.get(CompletionRow, ada), Status.ACCEPTED, source="board")
    with qtbot.assertNotEmitted(tab.model.modelReset):
        with qtbot.waitSignal(tab.model.dataChanged) as changed:
            tab.ctx.records_changed.emit([ada])
    top_left, bottom_right = changed.args[:2]
    assert top_left.row() == bottom_right.row() == row
    assert _status_index(tab, row).data() == "Accepted"


def test_double_click_on_a_rejected_row_corrects_and_resubmits_with_a_new_credit_id(qtbot, store):
    activity = recent_activity(store)
    rejected = _rejected_hopper(store, activity)
    tab = _tab(qtbot, store)
    row = tab.model.row_of(rejected)
    rect = tab.table.visualRect(tab.model.index(row, 1))
    QTest.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    dialog = tab.last_dialog
    assert isinstance(dialog, LearnerDialog) and dialog.resubmit_id == rejected
    assert "665" in dialog.banner.text() and "Diplomate name" in dialog.banner.text()
    # the fields the board's 665 points at are marked
    assert dialog.first_name.property("error") is True and dialog.last_name.property("error") is True
    assert dialog.board_editors[0].board_id.property("error") is True
    assert dialog.last_name.text() == "Hoper"

    assert "665" in dialog.field_errors["Last Name"].text()
    dialog.last_name.clear()
    qtbot.keyClicks(dialog.last_name, "Hopper")
    assert dialog.first_name.property("error") is False  # the coordinator acted on it
    dialog.permission.setChecked(True)
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    new_id, status = saved.args
    assert status == Status.QUEUED.value

    with store.session() as s:
        old_row = s.get(CompletionRow, rejected)
        new_row = s.get(CompletionRow, new_id)
        assert new_row.replaces_id == rejected and new_row.credit_id != old_row.credit_id
        assert old_row.status == Status.REJECTED.value  # the original stays, with the board's verdict
        history = learners.status_history(s, new_id)
    assert [h.status for h in history] == ["Queued", "Rejected", "Rejected", "Queued"]
    assert history[2].message == f"Resubmitted as {new_row.credit_id}"
    # both rows are in the table; the old one says it was resubmitted
    qtbot.waitUntil(lambda: tab.model.row_of(new_id) is not None)
    assert _status_index(tab, tab.model.row_of(rejected)).data() == "Rejected 665 (resubmitted)"
    assert "resubmission" in tab.note_label.text()


def test_double_click_on_an_accepted_row_shows_details_and_history(qtbot, store):
    activity = recent_activity(store)
    ada = store_record(store, activity, completion("Ada", "Lovelace", completed=RECENT), status=Status.ACCEPTED)
    tab = _tab(qtbot, store)
    tab.open_row(tab.model.row_of(ada))
    dialog = tab.last_dialog
    assert isinstance(dialog, RecordDetailsDialog)
    assert [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())] == ["Queued", "Accepted"]
    dialog.close()


def test_history_button_is_one_click_away(qtbot, store):
    activity = recent_activity(store)
    rejected = _rejected_hopper(store, activity)
    tab = _tab(qtbot, store)
    tab.table.selectRow(tab.model.row_of(rejected))
    assert tab.history_button.isEnabled()
    qtbot.mouseClick(tab.history_button, Qt.MouseButton.LeftButton)
    dialog = tab.last_dialog
    assert isinstance(dialog, RecordDetailsDialog)
    table = dialog.table
    last = table.rowCount() - 1
    assert (table.item(last, 1).text(), table.item(last, 3).text()) == ("Rejected", "665")
    assert "Diplomate name" in dialog.findChild(QLabel, "rejectionLabel").text()
    dialog.close()


def test_delete_selected_refuses_submitted_records_and_deletes_the_rest(qtbot, store, monkeypatch):
    activity = recent_activity(store)
    submitted = store_record(store, activity, completion("Ada", "Lovelace", completed=RECENT), status=Status.SUBMITTED)
    accepted = store_record(store, activity, completion("Grace", "Hopper", license_id="G2", completed=RECENT, boards=_board("2")), status=Status.ACCEPTED)
    queued = store_record(store, activity, completion("Alan", "Turing", license_id="T3", completed=RECENT, boards=_board("3")))
    tab = _tab(qtbot, store)
    monkeypatch.setattr(tab, "confirm_delete", lambda count: count == 3)
    for completion_id in (submitted, accepted, queued):
        index = tab.model.index(tab.model.row_of(completion_id), 0)
        assert tab.model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert tab.delete_button.isEnabled()

    tab.activateWindow()  # shortcuts go to the active window
    qtbot.waitUntil(tab.isActiveWindow, timeout=2_000)
    tab.table.setFocus()
    QTest.keyClick(tab.table, Qt.Key.Key_Delete)

    box = tab.last_dialog
    assert box is not None and box.isVisible()
    assert "1 of 3 records cannot be deleted" in box.text()
    assert "Lovelace, Ada" in box.informativeText() and "Submitted" in box.informativeText()
    box.close()
    with store.session() as s:
        got = dict(s.execute(select(CompletionRow.id, CompletionRow.status)).all())
        outbox = [(o.completion_id, o.action) for o in s.scalars(select(OutboxRow))]
    assert got == {submitted: "Submitted", accepted: "Delete Queued", queued: "Deleted"}
    assert outbox == [(accepted, "Delete")]
    # the deleted one left the list; the delete-queued one shows its new status
    assert tab.model.row_of(queued) is None
    assert _status_index(tab, tab.model.row_of(accepted)).data() == "Delete Queued"
    assert set(tab.model.checked_ids()) == {submitted, accepted}


def test_download_learners_writes_a_clean_workbook(qtbot, store, tmp_path, monkeypatch):
    activity = recent_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", completed=RECENT), status=Status.ACCEPTED)
    _rejected_hopper(store, activity)
    tab = _tab(qtbot, store)
    target = tmp_path / "out" / "learners"
    target.parent.mkdir()  # the save dialog only offers folders that exist
    suggested: list[str] = []
    monkeypatch.setattr(tab, "choose_save_path", lambda s: suggested.append(s) or str(target))

    with qtbot.waitSignal(tab.exported) as exported:
        qtbot.mouseClick(tab.download_button, Qt.MouseButton.LeftButton)
    path, count = exported.args
    assert path.endswith("learners.xlsx") and count == 2
    assert "123456789" in suggested[0] and suggested[0].endswith(".xlsx")
    sheet = load_workbook(path).active
    assert sheet.freeze_panes == "A2"
    headers = [c.value for c in sheet[1]]
    rows = {r[headers.index("Last Name")]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["Hoper"][headers.index("Status Code")] == 665
    assert rows["Lovelace"][headers.index("Completion Date")] == datetime.combine(RECENT, datetime.min.time())


def test_paging_fetches_more_rows_as_the_view_scrolls(qtbot, store):
    from learner_support import bulk_load

    activity = recent_activity(store)
    bulk_load(store, [activity], 1200)
    tab = _tab(qtbot, store)
    assert tab.model.total == 1200
    assert tab.model.rowCount() < 1200
    tab.table.scrollToBottom()
    qtbot.waitUntil(lambda: tab.model.rowCount() > 200)
    tab.model.fetch_all()
    ids = [tab.model.data(tab.model.index(r, 0), RecordIdRole) for r in range(tab.model.rowCount())]
    assert len(ids) == len(set(ids)) == 1200


def test_end_to_end_add_sync_board_decision_and_tooltip(qtbot, store, sandbox):
    """Add two learners through the dialog, sync with the PARS sandbox, let the boards answer:
    the one with the board's name is Accepted, the misspelt one Rejected with 665 in its tooltip."""
    from app.sync.engine import SyncEngine
    from sync_support import sandbox_client

    activity = recent_activity(store, accme_id=None, title="Cardiology Grand Rounds",
                               boards=(("ABIM", Decimal("8"), ("Medical Knowledge",)),))
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    tab = LearnerSummaryTab(ctx)
    qtbot.addWidget(tab)
    tab.show_activity(activity)

    def add(first: str, last: str, dob: str, state: str, license_id: str, board_id: str) -> int:
        dialog = LearnerDialog(ctx, tab, activity, online_match=False)
        qtbot.addWidget(dialog)
        for edit, text in ((dialog.first_name, first), (dialog.last_name, last), (dialog.birth_date, dob),
                           (dialog.license_id, license_id)):
            qtbot.keyClicks(edit, text)
        dialog.state_combo.setCurrentIndex(dialog.state_combo.findData(state))
        board = dialog.add_board("ABIM")
        qtbot.keyClicks(board.board_id, board_id)
        dialog.permission.setChecked(True)
        result = dialog.submit()
        assert result is not None and result.saved, dialog.issues
        return result.completion_id

    avery = add("Avery", "Morgan", "03/14", "MD", "D0048213", "100001")
    jordan = add("Jordan", "Patell", "07/22", "NC", "2009-01187", "100002")  # the board spells it Patel
    assert {tab.model.record(r).status for r in range(tab.model.rowCount())} == {"Queued"}

    def sync() -> None:
        changed: list[int] = []
        engine = SyncEngine(store, sandbox_client(sandbox.url))
        try:
            report = engine.run(on_change=lambda completion_id, _status: changed.append(completion_id))
        finally:
            engine.close()
        assert not report.fatal, report
        ctx.notify_records_changed(changed)

    sync()
    assert _status_index(tab, tab.model.row_of(avery)).data() == "Submitted"
    sandbox.advance(3600)  # the board answers
    sync()
    assert _status_index(tab, tab.model.row_of(avery)).data() == "Accepted"
    rejected = _status_index(tab, tab.model.row_of(jordan))
    assert rejected.data() == "Rejected 665"
    assert rejected.data(Qt.ItemDataRole.ToolTipRole).startswith("665 — ")
    assert "Rejected by the certifying board" in rejected.data(Qt.ItemDataRole.ToolTipRole)


def test_changes_re_read_loaded_rows_only_and_keep_the_total_right(qtbot, store):
    """A sync reports every record; rows not fetched yet are not read (nor appended out of order):
    they show their new state when their page is fetched. A new match still counts."""
    from app.ui.record_model import SUMMARY_COLUMNS, LearnerRecordModel

    activity = recent_activity(store)
    ids = [store_record(store, activity, completion("Learner", f"N{n:02d}", license_id=f"L{n}", completed=RECENT))
           for n in range(12)]
    model = LearnerRecordModel(make_context(store).read, SUMMARY_COLUMNS, page_size=5)
    model.set_filters(learners.SearchFilters(activity_row_id=activity))
    assert (model.rowCount(), model.total) == (5, 12)
    with store.transaction() as s:
        for completion_id in ids:
            records.set_status(s, s.get(CompletionRow, completion_id), Status.ACCEPTED, source="PARS")
    model.update_rows(ids)
    assert (model.rowCount(), model.total) == (5, 12)
    assert {model.record(r).status for r in range(5)} == {"Accepted"}
    model.fetchMore()
    assert model.rowCount() == 10 and {model.record(r).status for r in range(10)} == {"Accepted"}

    newcomer = store_record(store, activity, completion("Learner", "N99", license_id="L99", completed=RECENT))
    with qtbot.waitSignal(model.total_changed) as total:
        model.update_rows([newcomer])
    assert total.args == [13] and model.rowCount() == 10 and model.row_of(newcomer) is None


def test_status_counts_under_the_table_follow_status_changes(qtbot, store):
    activity = recent_activity(store)
    ada = store_record(store, activity, completion("Ada", "Lovelace", completed=RECENT))
    store_record(store, activity, completion("Grace", "Hopper", license_id="G2", completed=RECENT))
    tab = _tab(qtbot, store)
    assert tab.count_label.text() == "2 records: 2 Queued"
    with store.transaction() as s:
        records.set_status(s, s.get(CompletionRow, ada), Status.ACCEPTED, source="PARS")
    tab.ctx.notify_records_changed([ada])
    qtbot.waitUntil(lambda: "1 Accepted" in tab.count_label.text(), timeout=2_000)
    assert tab.count_label.text().startswith("2 records: ")


# --- several rejected records at once ----------------------------------------------------------------


def _rejected_661(store, activity, first: str, last: str, license_id: str) -> int:
    return store_record(
        store, activity, completion(first, last, license_id=license_id, completed=RECENT, boards=_board("7" + license_id)),
        status=Status.REJECTED, code=661, message="Diplomate ID not found in Board records",
    )


def _tick(tab, *ids: int) -> None:
    for completion_id in ids:
        tab.model.setData(tab.model.index(tab.model.row_of(completion_id), 0), Qt.CheckState.Checked.value,
                          Qt.ItemDataRole.CheckStateRole)


def test_resubmit_as_is_queues_each_ticked_rejected_record_again_unchanged(qtbot, store, monkeypatch):
    activity = recent_activity(store)
    ada = _rejected_661(store, activity, "Ada", "Lovelace", "A1")
    alan = _rejected_661(store, activity, "Alan", "Turing", "T3")
    accepted = store_record(store, activity, completion("Grace", "Hopper", license_id="G2", completed=RECENT),
                            status=Status.ACCEPTED)
    tab = _tab(qtbot, store)
    assert not tab.resubmit_button.isEnabled()
    _tick(tab, ada, alan, accepted)
    assert tab.resubmit_button.isEnabled()
    asked: list[int] = []
    monkeypatch.setattr(tab, "confirm_resubmit", lambda count: asked.append(count) or True)

    QTest.mouseClick(tab.resubmit_button, Qt.MouseButton.LeftButton)
    assert asked == [2]  # only the rejected ones
    assert tab.last_dialog.text() == "2 of 2 rejected records were queued again unchanged (sent at the next sync)."
    with store.session() as s:
        for rejected in (ada, alan):
            new = s.scalars(select(CompletionRow).where(CompletionRow.replaces_id == rejected)).one()
            old = s.get(CompletionRow, rejected)
            assert new.status == Status.QUEUED.value and new.credit_id != old.credit_id
            assert records.completion_to_domain(new).learner == records.completion_to_domain(old).learner
            assert [b.board_id for b in new.boards] == [b.board_id for b in old.boards]
            assert learners.pending_outbox_ids(s, [new.id]) == {new.id}
        assert s.get(CompletionRow, accepted).status == Status.ACCEPTED.value
    qtbot.waitUntil(lambda: _status_index(tab, tab.model.row_of(ada)).data() == "Rejected 661 (resubmitted)")
    assert not tab.resubmit_button.isEnabled()  # resubmitted ones cannot be resubmitted twice


def test_resubmit_as_is_says_which_records_pars_rules_now_refuse(qtbot, store, monkeypatch):
    activity = recent_activity(store)
    ada = _rejected_661(store, activity, "Ada", "Lovelace", "A1")
    alan = _rejected_661(store, activity, "Alan", "Turing", "T3")
    with store.transaction() as s:  # the activity's credits were lowered since: 674 for both
        s.get(ActivityRow, activity).cme_credits = Decimal("2")
    tab = _tab(qtbot, store)
    _tick(tab, ada, alan)
    monkeypatch.setattr(tab, "confirm_resubmit", lambda count: True)
    outcomes = tab.resubmit_selected()
    assert [o.resubmitted for o in outcomes] == [False, False]
    assert tab.last_dialog.text().startswith("0 of 2")
    assert "674" in tab.last_dialog.informativeText() and "Lovelace" in tab.last_dialog.informativeText()
    with store.session() as s:
        assert s.scalar(select(CompletionRow.id).where(CompletionRow.replaces_id.is_not(None))) is None


def test_open_next_rejected_walks_through_the_rejected_records_one_by_one(qtbot, store):
    activity = recent_activity(store)
    ada = _rejected_661(store, activity, "Ada", "Lovelace", "A1")
    store_record(store, activity, completion("Grace", "Hopper", license_id="G2", completed=RECENT),
                 status=Status.ACCEPTED)
    alan = _rejected_661(store, activity, "Alan", "Turing", "T3")
    tab = _tab(qtbot, store)  # sorted by name: Hopper, Lovelace, Turing

    first = tab.open_next_rejected()
    assert isinstance(first, LearnerDialog) and first.resubmit_id == ada
    with qtbot.waitSignal(first.saved):
        qtbot.mouseClick(first.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(tab.last_dialog, "resubmit_id", None) == alan, timeout=3_000)
    second = tab.last_dialog
    second.reject()  # Cancel ends the walk: nothing else opens
    assert tab.last_dialog is second and not tab._walking

    third = tab.open_next_rejected()  # Lovelace was resubmitted: Turing is the only one left
    assert third.resubmit_id == alan
    with qtbot.waitSignal(third.saved):
        qtbot.mouseClick(third.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No rejected record" in tab.note_label.text(), timeout=3_000)


def test_right_click_on_a_rejected_row_offers_resubmit_as_is(qtbot, store, monkeypatch):
    from PySide6.QtWidgets import QMenu

    activity = recent_activity(store)
    ada = _rejected_661(store, activity, "Ada", "Lovelace", "A1")
    tab = _tab(qtbot, store)
    rect = tab.table.visualRect(tab.model.index(tab.model.row_of(ada), 1))
    tab._context_menu(rect.center())
    menu = next(m for m in tab.findChildren(QMenu) if m.isVisible())
    actions = {a.text(): a for a in menu.actions()}
    assert "Correct and resubmit…" in actions and "Resubmit as is" in actions
    monkeypatch.setattr(tab, "confirm_resubmit", lambda count: count == 1)
    actions["Resubmit as is"].trigger()
    menu.close()
    with store.session() as s:
        assert s.scalar(select(CompletionRow.id).where(CompletionRow.replaces_id == ada)) is not None
