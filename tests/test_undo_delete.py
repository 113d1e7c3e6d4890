"""An accidental delete can be taken back until it is sent: Edit → Undo delete, Ctrl+Z, or the
status bar's Undo button. The queued Delete leaves the outbox and the record gets back its status,
with a "Delete undone" step in its history."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select, update

from app.models import CompletionRow, OutboxRow, StatusEvent
from app.pars.domain import Status
from app.services import learners
from app.services.undo import undo_deletes
from app.ui.main_window import TAB_SUMMARY
from tests.sync_support import add_activity, queue_records
from tests.ui_support import make_context, make_window


def _state(store, completion_id: int) -> tuple[str, list[tuple[str, str]], list[str]]:
    with store.session() as s:
        row = s.get(CompletionRow, completion_id)
        history = [(e.status, e.message or "") for e in
                   s.scalars(select(StatusEvent).where(StatusEvent.completion_id == completion_id).order_by(StatusEvent.id))]
        outbox = list(s.scalars(select(OutboxRow.action).where(OutboxRow.completion_id == completion_id)))
        return row.status, history, outbox


def _delete(store, ids: list[int]) -> list:
    with store.transaction() as s:
        return learners.delete_records(s, ids, "coordinator")


def _undo(store, ids: list[int]) -> list[tuple[int, str]]:
    with store.transaction() as s:
        return undo_deletes(s, ids, "coordinator")


def test_undo_of_a_queued_delete_takes_it_out_of_the_outbox_and_restores_accepted(store):
    activity = add_activity(store, accme_id="123456789")
    [accepted] = queue_records(store, activity, 1, status=Status.ACCEPTED.value, outbox_action=None)
    assert _delete(store, [accepted]) == []
    assert _state(store, accepted)[0] == Status.DELETE_QUEUED.value
    assert _state(store, accepted)[2] == ["Delete"]

    assert _undo(store, [accepted]) == []
    status, history, outbox = _state(store, accepted)
    assert status == Status.ACCEPTED.value and outbox == []
    assert [h[0] for h in history] == ["Accepted", "Delete Queued", "Accepted"]
    assert history[-1][1] == "Delete undone"


def test_undo_of_a_record_deleted_before_it_was_sent_queues_it_again(store):
    activity = add_activity(store, accme_id="123456789")
    [queued] = queue_records(store, activity, 1)
    [draft] = queue_records(store, activity, 1, status=Status.DRAFT.value, outbox_action=None, label="d")
    _delete(store, [queued, draft])
    assert _state(store, queued)[:3:2] == (Status.DELETED.value, [])
    assert _undo(store, [queued, draft]) == []
    assert _state(store, queued)[0] == Status.QUEUED.value and _state(store, queued)[2] == ["Add"]
    assert _state(store, draft)[0] == Status.DRAFT.value and _state(store, draft)[2] == []


def test_a_board_rejection_comes_back_with_its_code_and_message(store):
    activity = add_activity(store, accme_id="123456789")
    [rejected] = queue_records(store, activity, 1, status=Status.REJECTED.value, outbox_action=None)
    with store.transaction() as s:
        s.execute(update(CompletionRow).where(CompletionRow.id == rejected)
                  .values(status_code=665, status_message="Diplomate name does not match", status_source="board"))
        s.execute(update(StatusEvent).where(StatusEvent.completion_id == rejected)
                  .values(code=665, message="Diplomate name does not match", source="board"))
    _delete(store, [rejected])
    assert _undo(store, [rejected]) == []
    with store.session() as s:
        row = s.get(CompletionRow, rejected)
        assert (row.status, row.status_code, row.status_message, row.status_source) == (
            "Rejected", 665, "Diplomate name does not match", "board")


def test_a_delete_being_sent_or_sent_cannot_be_undone(store):
    activity = add_activity(store, accme_id="123456789")
    in_flight, submitted = queue_records(store, activity, 2, status=Status.ACCEPTED.value, outbox_action=None)
    _delete(store, [in_flight, submitted])
    with store.transaction() as s:
        s.execute(update(OutboxRow).where(OutboxRow.completion_id == in_flight).values(in_flight=True))
        s.execute(update(CompletionRow).where(CompletionRow.id == submitted).values(status="Delete Submitted"))
        s.execute(OutboxRow.__table__.delete().where(OutboxRow.completion_id == submitted))
    refused = dict(_undo(store, [in_flight, submitted]))
    assert refused == {in_flight: "Its delete is being sent to PARS right now.",
                       submitted: "Its delete was already sent to PARS."}
    assert _state(store, in_flight)[0] == Status.DELETE_QUEUED.value


def test_ctrl_z_in_the_window_undoes_an_accidental_delete(qtbot, store, tmp_path, monkeypatch):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 3, status=Status.ACCEPTED.value, outbox_action=None)
    window = make_window(qtbot, make_context(store))
    assert not window.undo_delete_action.isEnabled()
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    summary = window.summary_tab
    qtbot.waitUntil(lambda: summary.model.total == 3)
    monkeypatch.setattr(summary, "confirm_delete", lambda count: True)
    victim = summary.model.record(1).completion_id
    summary.table.selectRow(1)
    summary.table.setFocus()
    QTest.keyClick(summary.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: _state(store, victim)[0] == Status.DELETE_QUEUED.value)

    assert window.undo_delete_action.isEnabled()
    assert window.undo_button.isVisible() and window.undo_note.text() == "Deleted 1 learner record."
    assert window.undo_delete_action.text() == "Undo delete (1 record)"
    window.grab().save(str(tmp_path / "undo-offered.png"))

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: _state(store, victim)[0] == Status.ACCEPTED.value)
    assert _state(store, victim)[2] == []  # the queued Delete is gone: nothing will be sent
    assert not window.undo_button.isVisible() and not window.undo_delete_action.isEnabled()
    assert "Delete undone: 1 learner record restored." in window.statusBar().currentMessage()
    row = summary.model.row_of(victim)
    assert summary.model.index(row, summary.model.column_of("status")).data() == "Accepted"
    assert sorted(ids) == sorted(r.completion_id for r in summary.model.records())


def test_the_status_bar_undo_button_does_the_same(qtbot, store, monkeypatch):
    activity = add_activity(store, accme_id="123456789")
    [queued] = queue_records(store, activity, 1)
    window = make_window(qtbot, make_context(store))
    window.tabs.setCurrentIndex(TAB_SUMMARY)
    summary = window.summary_tab
    qtbot.waitUntil(lambda: summary.model.total == 1)
    monkeypatch.setattr(summary, "confirm_delete", lambda count: True)
    summary.table.selectRow(0)
    summary.delete_selected()
    assert _state(store, queued)[0] == Status.DELETED.value
    qtbot.waitUntil(lambda: window.queued_label.text() == "Nothing queued")
    QTest.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
    assert _state(store, queued)[0] == Status.QUEUED.value and _state(store, queued)[2] == ["Add"]
    qtbot.waitUntil(lambda: window.queued_label.text() == "1 queued")
