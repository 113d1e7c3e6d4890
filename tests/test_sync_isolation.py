"""One bad record never blocks the outbox.

A record ParsDesk cannot write as PARS XML (a control character stored before validation refused
them) or one whose request PARS refuses as a whole is *parked*: it leaves the outbox with its reason
as the record's status message and a history event, the records queued behind it are sent, and it
is not tried again by itself. Nothing about it is lost: the coordinator sees why and corrects it."""

from __future__ import annotations

from sqlalchemy import select

from app.models import CompletionRow, StatusEvent
from app.pars.domain import RecordAction, Status
from app.sandbox.server import MAX_TEXT_CHARS
from app.services import records
from app.sync.engine import SyncEngine
from tests.sync_support import (
    RecordSpec,
    ScriptedPars,
    add_activity,
    outbox_rows,
    queue_records,
    running_sandbox,
    sandbox_client,
    sandbox_records,
    statuses,
)

CONTROL_NAME = ("Ava\x01", "Stone", "03/14", "NY", "A7700001")  # stored before validation refused it
OVERLONG_NAME = ("B" * (MAX_TEXT_CHARS + 10), "Long", "03/14", "NY", "A7700002")  # PARS refuses the request


def _history(store, completion_id: int) -> list[tuple[str, str, int | None, str | None]]:
    with store.session() as s:
        return [
            (e.status, e.source, e.code, e.message)
            for e in s.scalars(
                select(StatusEvent).where(StatusEvent.completion_id == completion_id).order_by(StatusEvent.id)
            )
        ]


def _row(store, completion_id: int) -> CompletionRow:
    with store.session() as s:
        return s.get(CompletionRow, completion_id)


def test_unrenderable_and_refused_records_are_parked_and_the_records_behind_them_are_sent(store):
    activity = add_activity(store, accme_id="123456789")
    # the bad records come first, so every batch after theirs depends on them not blocking
    [unrenderable] = queue_records(store, activity, 1, spec=RecordSpec(learner=CONTROL_NAME), label="ctl")
    [refused] = queue_records(store, activity, 1, spec=RecordSpec(learner=OVERLONG_NAME), label="long")
    valid = queue_records(store, activity, 45, label="ok")

    with running_sandbox() as sandbox:
        with sandbox_client(sandbox.url) as client:
            first = SyncEngine(store, client, batch_size=10).run()
            again = SyncEngine(store, client, batch_size=10).run()
        seen = sandbox_records(sandbox)

    now = statuses(store)
    assert [now[i] for i in valid] == [Status.ACCEPTED.value] * 45
    assert first.sent == 45 and first.parked == 2 and first.errors == 2
    assert any("set aside" in problem for problem in first.problems)
    # every valid record reached PARS once; the bad ones never were stored there
    assert sorted(entry["received"] for entry in seen.values() if entry["status"] == "Accepted") == [1] * 45
    assert not [entry for entry in seen.values() if entry["status"] not in ("Accepted", "NotFound")]

    # parked: out of the outbox, not retried by the next pass, not lost (status, reason, history)
    assert outbox_rows(store) == []
    assert again.sent == 0 and again.parked == 0 and again.errors == 0

    stuck = _row(store, unrenderable)
    assert stuck.status == Status.DRAFT.value and stuck.status_source == "sync"
    assert "control character U+0001" in stuck.status_message and "first name" in stuck.status_message
    assert "Ava" not in stuck.status_message  # the reason names the field, never the learner's data
    assert _history(store, unrenderable)[-1][:2] == (Status.DRAFT.value, "sync")

    refused_row = _row(store, refused)
    assert (refused_row.status, refused_row.status_code, refused_row.status_source) == (
        Status.REJECTED.value, 999, "PARS"
    )
    assert "as a whole" in refused_row.status_message
    assert _history(store, refused)[-1][:3] == (Status.REJECTED.value, "PARS", 999)


def test_a_batch_refused_as_a_whole_is_split_until_the_refused_record_is_alone(store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 16)
    pars = ScriptedPars()
    bad_credit_id = _row(store, ids[11]).credit_id
    pars.refuse_request[bad_credit_id] = (999, "General learner record processing error")

    report = SyncEngine(store, pars, batch_size=16).run(poll=False)

    now = statuses(store)
    assert now[ids[11]] == Status.REJECTED.value
    assert [now[i] for i in ids if i != ids[11]] == [Status.SUBMITTED.value] * 15
    assert report.sent == 15 and report.parked == 1 and report.left_in_outbox == 0
    # every other record was received exactly once; halving finds the record in log2(16) + 1 refusals
    assert all(count == 1 for count in pars.received.values()) and len(pars.received) == 15
    assert pars.refused_requests == 5
    assert _row(store, ids[11]).status_code == 999


def test_a_delete_refused_as_a_whole_keeps_the_records_status_with_the_reason(store):
    activity = add_activity(store, accme_id="123456789")
    [record] = queue_records(store, activity, 1)
    pars = ScriptedPars()
    SyncEngine(store, pars).run()
    pars.advance()
    SyncEngine(store, pars).run()
    with store.transaction() as s:
        assert records.request_delete(s, s.get(CompletionRow, record)) is None
    credit_id = outbox_rows(store)[0].credit_id
    pars.refuse_request[credit_id] = (999, "General learner record processing error")

    report = SyncEngine(store, pars).run()
    again = SyncEngine(store, pars).run()

    row = _row(store, record)
    assert (row.status, row.status_code) == (Status.ACCEPTED.value, 999)
    assert "delete" in row.status_message.lower() and "as a whole" in row.status_message
    assert report.parked == 1 and outbox_rows(store) == [] and again.sent == 0
    assert pars.refused_requests == 1


def test_an_unrenderable_delete_keeps_the_records_status_with_the_reason(store):
    activity = add_activity(store, accme_id="123456789")
    [record] = queue_records(
        store, activity, 1, spec=RecordSpec(learner=CONTROL_NAME), status=Status.DELETE_QUEUED.value,
        outbox_action=RecordAction.DELETE.value,
    )
    with store.transaction() as s:  # PARS took the add (before the name was damaged in the store)
        s.add(StatusEvent(completion_id=record, status=Status.ACCEPTED.value, source="board", actor="test"))
    pars = ScriptedPars()
    pars.held[_row(store, record).credit_id] = _accepted_held()

    report = SyncEngine(store, pars).run(poll=False)

    row = _row(store, record)
    assert row.status == Status.ACCEPTED.value and "control character U+0001" in row.status_message
    assert report.parked == 1 and outbox_rows(store) == []
    assert not pars.received  # the request was never made


def _accepted_held():
    from tests.sync_support import _Held

    return _Held(content=(), status=Status.ACCEPTED.value)


def test_the_coordinator_sees_why_a_record_was_set_aside_in_the_window(qtbot, store):
    """F5 in the real window: the records behind the bad one are sent, the status bar says a record
    was set aside, and the Learner Summary shows it as a Draft whose tooltip and History give the
    reason."""
    from PySide6.QtCore import Qt

    from tests.ui_support import make_context, make_window

    activity = add_activity(store, accme_id="123456789")
    [unrenderable] = queue_records(store, activity, 1, spec=RecordSpec(learner=CONTROL_NAME), label="ctl")
    valid = queue_records(store, activity, 4, label="ok")
    with running_sandbox() as sandbox:
        ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
        window = make_window(qtbot, ctx)
        window.show_activity(activity)
        with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
            window.sync_now()
    report = finished.args[0]
    assert report["sent"] == 4 and report["parked"] == 1
    assert "set aside" in window.sync_state_label.toolTip()
    assert window.queued_label.text() == "Nothing queued"

    tab = window.summary_tab
    qtbot.waitUntil(lambda: tab.model.rowCount() == 5)
    assert {tab.model.record(tab.model.row_of(i)).status for i in valid} == {Status.ACCEPTED.value}
    row = tab.model.row_of(unrenderable)
    status = tab.model.index(row, tab.model.column_of("status"))
    assert status.data() == Status.DRAFT.value
    assert "control character U+0001" in status.data(Qt.ItemDataRole.ToolTipRole)

    tab.table.selectRow(row)
    dialog = tab.show_history()
    table = dialog.table
    last = table.rowCount() - 1
    assert (table.item(last, 1).text(), table.item(last, 2).text().split()[0]) == ("Draft", "sync")
    assert "Correct the record" in table.item(last, 4).text()
    dialog.close()
