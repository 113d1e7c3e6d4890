"""Taking back a delete that has not reached PARS yet (Edit → Undo delete, Ctrl+Z).

A delete either removed a record that never left the machine (Draft, Queued and not sent, or refused
by PARS), or queued a PARS Delete in the outbox. Until that Delete is sent, both can be taken back:
the queued Delete leaves the outbox, the record gets back the status it had before, with its code and
message, a Queued record gets its Add back in the outbox, and the history gains a "Delete undone"
step. A Delete that is being sent or was sent can no longer be taken back here.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.schema import CompletionRow, OutboxRow, StatusEvent, utcnow
from app.pars.domain import RecordAction, Status

UNDONE_MESSAGE = "Delete undone"
# What a delete that never involved PARS writes in the history (see records.request_delete(s))
_LOCAL_DELETE_MESSAGES = ("Deleted before it was sent", "Removed locally (never stored by PARS)")


def undo_delete_refusal(session: Session, row: CompletionRow) -> str | None:
    """Why this record's delete cannot be taken back (None if it can)."""
    status = row.status
    if status in (Status.DELETE_QUEUED.value, Status.DELETED.value) and len(_events(session, row.id, 2)) < 2:
        return "Its status before the delete is not in its history."
    if status == Status.DELETE_QUEUED.value:
        pending = _pending_delete(session, row.id)
        if pending is None:
            return "Its delete is no longer waiting to be sent."
        if pending.in_flight:
            return "Its delete is being sent to PARS right now."
        return None
    if status == Status.DELETED.value:
        last = _events(session, row.id, 1)
        if last and last[0].source == "user" and last[0].message in _LOCAL_DELETE_MESSAGES:
            return None
        return "PARS has deleted it."
    if status == Status.DELETE_SUBMITTED.value:
        return "Its delete was already sent to PARS."
    return "It is not deleted."


def undo_deletes(session: Session, ids: Iterable[int], actor: str | None) -> list[tuple[int, str]]:
    """Take back these records' deletes; returns (id, reason) for those that cannot be, in order."""
    refused: list[tuple[int, str]] = []
    for completion_id in dict.fromkeys(ids):
        row = session.get(CompletionRow, completion_id)
        if row is None:
            refused.append((completion_id, "It no longer exists."))
            continue
        reason = undo_delete_refusal(session, row)
        if reason is not None:
            refused.append((completion_id, reason))
            continue
        _restore(session, row, actor)
    session.flush()
    return refused


def _restore(session: Session, row: CompletionRow, actor: str | None) -> None:
    _delete_event, before = _events(session, row.id, 2)
    if row.status == Status.DELETE_QUEUED.value:
        pending = _pending_delete(session, row.id)
        assert pending is not None and not pending.in_flight  # checked by undo_delete_refusal
        session.delete(pending)
    elif before.status == Status.QUEUED.value:
        # it was removed before it was ever sent: it waits to be sent again
        session.add(OutboxRow(completion_id=row.id, action=RecordAction.ADD.value, credit_id=row.credit_id))
    row.status, row.status_code, row.status_message = before.status, before.code, before.message
    row.status_source = before.source
    row.updated_at = utcnow()
    session.add(StatusEvent(completion_id=row.id, status=before.status, source="user", actor=actor,
                            code=before.code, message=UNDONE_MESSAGE))


def _pending_delete(session: Session, completion_id: int) -> OutboxRow | None:
    return session.scalars(
        select(OutboxRow).where(OutboxRow.completion_id == completion_id, OutboxRow.action == RecordAction.DELETE.value)
    ).first()


def _events(session: Session, completion_id: int, count: int) -> list[StatusEvent]:
    """The record's last `count` history steps, newest first."""
    return list(session.scalars(
        select(StatusEvent).where(StatusEvent.completion_id == completion_id)
        .order_by(StatusEvent.id.desc()).limit(count)
    ))


def still_undoable(session: Session, ids: Iterable[int]) -> list[int]:
    """Which of these records' deletes can still be taken back (e.g. after a sync sent some)."""
    rows = session.scalars(select(CompletionRow).where(CompletionRow.id.in_(list(ids)))).all()
    return [row.id for row in rows if undo_delete_refusal(session, row) is None]
