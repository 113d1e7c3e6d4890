"""Storing learner records and moving them through their statuses.

Every path that creates or changes a learner record (entry form, batch import, resubmission, delete,
sync) goes through these functions, so each change is one StatusEvent and queued work is one outbox
row. Functions take the session as the first argument and never commit: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.models.bulk import delete_ids, insert_rows, key_pairs_join, update_rows
from app.models.search_keys import name_key
from app.models.schema import (
    ActivityRow,
    CompletionBoardRow,
    CompletionRemsRow,
    CompletionRow,
    LearnerRow,
    Meta,
    OutboxRow,
    StatusEvent,
    utcnow,
)
from app.pars import validation
from app.pars.domain import (
    BoardPart,
    CmePart,
    Completion,
    Learner,
    RecordAction,
    RemsPart,
    Status,
    new_credit_id,
)

DEFAULT_PROVIDER_ID = "1234567"  # the sandbox's demo provider; replaced by Settings


def provider_id(session: Session) -> str:
    value = session.scalar(select(Meta.value).where(Meta.key == "provider_id"))
    return value or DEFAULT_PROVIDER_ID


def set_provider_id(session: Session, value: str) -> None:
    session.merge(Meta(key="provider_id", value=value))


# --- conversions ---------------------------------------------------------------------------------


def learner_to_domain(row: LearnerRow) -> Learner:
    """A directory entry as a Learner (for matching and pre-filling only: never what is sent)."""
    return Learner(
        first_name=row.first_name,
        last_name=row.last_name,
        birth_date=row.birth_date,
        licensing_state=row.licensing_state,
        license_id=row.license_id,
    )


def record_learner(row: CompletionRow) -> Learner:
    """The learner as this record holds it: what it was typed or read with, and what is sent."""
    return Learner(
        first_name=row.first_name,
        last_name=row.last_name,
        birth_date=row.birth_date,
        licensing_state=row.licensing_state,
        license_id=row.license_id,
    )


def snapshot_columns(learner: Learner) -> dict[str, str | None]:
    """A record's learner identity as completion column values (surrounding blanks dropped)."""
    return dict(
        first_name=(learner.first_name or "").strip(),
        last_name=(learner.last_name or "").strip(),
        birth_date=(learner.birth_date or "").strip() or None,
        licensing_state=(learner.licensing_state or "").strip() or None,
        license_id=(learner.license_id or "").strip() or None,
    )


def completion_to_domain(row: CompletionRow, *, action: RecordAction = RecordAction.ADD) -> Completion:
    """The record as PARS sees it (the ActivityReport content), from its stored row."""
    return _to_domain(row, row.activity.accme_id, row.boards, row.rems, action)


def completions_to_domain(
    session: Session, completion_ids: Iterable[int], *, action: RecordAction = RecordAction.ADD
) -> dict[int, Completion | Exception]:
    """completion_to_domain for many records at once (a sync batch), read with three plain queries:
    building hundreds of ORM objects with their boards and REMS would cost more than PARS's round
    trip. A record whose stored values no Completion can be made of maps to the exception instead,
    so that one such record does not keep the others from being built."""
    ids = list(completion_ids)
    if not ids:
        return {}
    completions, activities = CompletionRow.__table__, ActivityRow.__table__
    boards_table, rems_table = CompletionBoardRow.__table__, CompletionRemsRow.__table__
    boards: dict[int, list[Any]] = {}
    for board in session.execute(
        select(boards_table).where(boards_table.c.completion_id.in_(ids)).order_by(boards_table.c.id)
    ):
        boards.setdefault(board.completion_id, []).append(board)
    rems = {row.completion_id: row for row in session.execute(
        select(rems_table).where(rems_table.c.completion_id.in_(ids))
    )}
    found: dict[int, Completion | Exception] = {}
    # only the columns a Completion is made of (_to_domain): reading the others would convert each
    # for nothing (timestamps are parsed from text on SQLite), about a third of the query's time
    rows = session.execute(
        select(*(completions.c[name] for name in _DOMAIN_COLUMNS), activities.c.accme_id)
        .join(activities, activities.c.id == completions.c.activity_id)
        .where(completions.c.id.in_(ids))
    )
    for row in rows:
        try:
            found[row.id] = _to_domain(row, row.accme_id, boards.get(row.id, ()), rems.get(row.id), action)
        except Exception as exc:  # e.g. a credit amount that is no number (never printed: it is PII-adjacent)
            found[row.id] = exc
    return found


_DOMAIN_COLUMNS = (
    "id", "credit_id", "first_name", "last_name", "birth_date", "licensing_state", "license_id",
    "completion_date", "report_cme", "cme_credits", "permission_given",
)


def _to_domain(row: Any, accme_id: str | None, boards: Iterable[Any], rems: Any, action: RecordAction) -> Completion:
    """A Completion from a completion row and its board and REMS rows (ORM objects or plain rows:
    the same column names)."""
    return Completion(
        action=action,
        activity_id=accme_id,
        credit_id=row.credit_id,
        learner=record_learner(row),
        completion_date=row.completion_date,
        cme=CmePart(row.cme_credits) if row.report_cme else None,
        boards=[
            BoardPart(
                board=b.board,
                board_id=b.board_id,
                points=b.points,
                credit_types={name: Decimal(amount) for name, amount in (b.credit_types or {}).items()},
            )
            for b in boards
        ],
        rems=(
            RemsPart(
                profession=rems.profession,
                state_of_practice=rems.state_of_practice,
                dea_registration=rems.dea_registration,
                practice_area=rems.practice_area,
                performs_surgery=rems.performs_surgery,
                time_in_practice=rems.time_in_practice,
            )
            if rems is not None
            else None
        ),
        permission=row.permission_given,
    )


# --- learners ------------------------------------------------------------------------------------


def find_or_create_learner(session: Session, learner: Learner, board_ids: dict[str, str]) -> LearnerRow:
    """The directory entry with the same identity (license ID, else name + DOB), or a new one.

    The directory learns from every new record: what the record says (birth date, licensing state,
    board IDs) replaces what was stored, so pre-fill offers the latest values. Records never take
    their identity from here: each keeps its own snapshot (see CompletionRow)."""
    first = (learner.first_name or "").strip()
    last = (learner.last_name or "").strip()
    # candidates through the indexed folded keys; the names themselves must agree but for case
    candidates = select(LearnerRow).where(LearnerRow.last_key == name_key(last), LearnerRow.first_key == name_key(first))
    query = candidates.where(
        func.lower(LearnerRow.first_name) == first.lower(), func.lower(LearnerRow.last_name) == last.lower()
    )
    if learner.license_id:
        query = query.where(LearnerRow.license_id == learner.license_id.strip())
    elif learner.birth_date:
        query = query.where(LearnerRow.birth_date == learner.birth_date)
    row = session.scalars(query.order_by(LearnerRow.id).limit(1)).first()
    if row is None:
        row = LearnerRow(
            first_name=first,
            last_name=last,
            birth_date=learner.birth_date,
            licensing_state=learner.licensing_state,
            license_id=(learner.license_id or "").strip() or None,
            board_ids={},
        )
        session.add(row)
    else:
        _learn(row, learner)
    if board_ids:
        row.board_ids = {**(row.board_ids or {}), **{k: v for k, v in board_ids.items() if v}}
    return row


def _learn(row: LearnerRow, learner: Learner) -> None:
    """Take the latest values a record gives for a directory entry (a blank never erases one)."""
    snapshot = snapshot_columns(learner)
    for column in ("birth_date", "licensing_state", "license_id"):
        if snapshot[column]:
            setattr(row, column, snapshot[column])


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedRecord:
    completion_id: int
    credit_id: str
    status: str


def set_status(
    session: Session,
    row: CompletionRow,
    status: Status | str,
    *,
    source: str,
    actor: str | None = None,
    code: int | None = None,
    message: str | None = None,
) -> None:
    """Change a record's status and append the matching history event."""
    row.status = str(status)
    row.status_code = code
    row.status_message = message
    row.status_source = source
    row.updated_at = utcnow()
    session.add(
        StatusEvent(completion=row, status=str(status), source=source, actor=actor, code=code, message=message)
    )


def board_columns(part: BoardPart) -> dict[str, object]:
    """A board part as completion_board column values; each credit type defaults to the total points."""
    points = _amount(part.points) or Decimal(0)
    return dict(
        board=part.board.upper(),
        board_id=(part.board_id or "").strip() or None,
        points=points,
        credit_types={
            name: str(_amount(amount) if amount not in (None, "") else points)
            for name, amount in part.credit_types.items()
        },
    )


def rems_columns(rems: RemsPart) -> dict[str, object]:
    """A REMS part as completion_rems column values."""
    return dict(
        profession=rems.profession or "",
        state_of_practice=rems.state_of_practice,
        dea_registration=rems.dea_registration,
        practice_area=rems.practice_area,
        performs_surgery=rems.performs_surgery,
        time_in_practice=rems.time_in_practice,
    )


def store_completion(
    session: Session,
    completion: Completion,
    activity: ActivityRow,
    *,
    source: str,
    actor: str | None = None,
    queue: bool = True,
    upload_id: int | None = None,
    upload_row: int | None = None,
    replaces: CompletionRow | None = None,
    as_of: date | None = None,
) -> CompletionRow:
    """Store a validated Add record. Queued (with an outbox row) when `queue` and permission given,
    else Draft. A creditID is assigned here when the record has none."""
    assert isinstance(completion.completion_date, date), "store only validated records"
    board_ids = {b.board: b.board_id for b in completion.boards if b.board_id}
    learner = find_or_create_learner(session, completion.learner, board_ids)
    credit_id = completion.credit_id or new_credit_id(provider_id(session))
    row = CompletionRow(
        credit_id=credit_id,
        activity=activity,
        learner=learner,
        **snapshot_columns(completion.learner),
        completion_date=completion.completion_date,
        report_cme=completion.cme is not None,
        cme_credits=_amount(completion.cme.credits) if completion.cme else None,
        permission_given=completion.permission,
        permission_date=(as_of or date.today()) if completion.permission else None,
        replaces_id=replaces.id if replaces is not None else None,
        upload_id=upload_id,
        upload_row=upload_row,
    )
    row.boards = [CompletionBoardRow(**board_columns(part)) for part in completion.boards]
    if completion.rems is not None:
        row.rems = CompletionRemsRow(**rems_columns(completion.rems))
    session.add(row)
    session.flush()  # assigns row.id for the outbox and the caller
    if queue and completion.permission:
        set_status(session, row, Status.QUEUED, source=source, actor=actor)
        session.add(OutboxRow(completion_id=row.id, action=RecordAction.ADD.value, credit_id=credit_id))
    else:
        reason = None if completion.permission else "Kept locally: the learner's permission to report is not recorded"
        set_status(session, row, Status.DRAFT, source=source, actor=actor, message=reason)
    return row


def queue_draft(session: Session, row: CompletionRow, *, actor: str | None = None, as_of: date | None = None) -> None:
    """Queue a Draft once the learner's permission is recorded."""
    if row.status != Status.DRAFT:
        raise ValueError(f"only Draft records can be queued; this one is {row.status}")
    row.permission_given = True
    row.permission_date = row.permission_date or as_of or date.today()
    set_status(session, row, Status.QUEUED, source="user", actor=actor)
    session.add(OutboxRow(completion_id=row.id, action=RecordAction.ADD.value, credit_id=row.credit_id))


def delete_refusal(row: CompletionRow) -> str | None:
    """Why this record cannot be deleted now, or None if it can."""
    status = Status(row.status)
    pars_rule = validation.delete_refusal(status.value)
    if pars_rule is not None:
        return pars_rule
    if status in (Status.DELETE_QUEUED, Status.DELETE_UPLOADED, Status.DELETE_SUBMITTED, Status.DELETED):
        return f"It is already {status.value}."
    return None


def request_delete(session: Session, row: CompletionRow, *, actor: str | None = None) -> str | None:
    """Delete a record: locally if it never left the machine, else queue a PARS delete.
    Returns the refusal reason when it cannot be deleted now (and changes nothing)."""
    refusal = delete_refusal(row)
    if refusal is not None:
        return refusal
    status = Status(row.status)
    pending_add = session.scalars(
        select(OutboxRow).where(OutboxRow.completion_id == row.id, OutboxRow.action == RecordAction.ADD.value)
    ).first()
    if status == Status.DRAFT or (status == Status.QUEUED and pending_add is not None and not pending_add.in_flight):
        if pending_add is not None:
            session.delete(pending_add)
        set_status(session, row, Status.DELETED, source="user", actor=actor, message="Deleted before it was sent")
        return None
    if status == Status.QUEUED:
        return "It is being sent right now; delete it after the sync finishes."
    if status == Status.REJECTED and row.status_source == "PARS":
        # PARS stored nothing for a record it refused: nothing to delete there
        set_status(session, row, Status.DELETED, source="user", actor=actor, message="Removed locally (never stored by PARS)")
        return None
    set_status(session, row, Status.DELETE_QUEUED, source="user", actor=actor)
    session.add(OutboxRow(completion_id=row.id, action=RecordAction.DELETE.value, credit_id=row.credit_id))
    return None


def queued_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxRow)) or 0


def last_sync_at(session: Session) -> datetime | None:
    value = session.scalar(select(Meta.value).where(Meta.key == "last_sync_at"))
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar shows: records waiting in the outbox and when the last sync ended."""

    queued: int
    last_sync_at: datetime | None


def sync_status(session: Session) -> SyncStatus:
    return SyncStatus(queued=queued_count(session), last_sync_at=last_sync_at(session))


def _amount(value: Decimal | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


# --- many records at once (batch upload) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRecord:
    """One validated Add for `store_completions`."""

    completion: Completion
    activity_row_id: int
    upload_row: int | None = None
    replaces_id: int | None = None
    attested: bool = False  # the permission attested for the whole file (Batch Upload), whatever the record says


def _learner_keys(first: str, last: str, license_id: str | None, birth_date: str | None) -> tuple[str, ...]:
    """The identity find_or_create_learner matches on: license ID when given, else DOB, else the name."""
    name = (first.strip().casefold(), last.strip().casefold())
    if license_id:
        return ("license", *name, license_id.strip())
    if birth_date:
        return ("birth", *name, birth_date)
    return ("name", *name)


def store_completions(
    session: Session,
    records: list[NewRecord],
    *,
    source: str,
    actor: str | None = None,
    upload_id: int | None = None,
    as_of: date | None = None,
) -> list[int]:
    """Store and queue many validated Add records with permission, as `store_completion` does one by
    one (same learners, Queued status event, outbox row), in one bulk write per table
    (app/models/bulk.py). Returns their ids in order. Used by batch upload, where 5,000 rows must be
    queued in about a second on either engine."""
    if not records:
        return []
    for record in records:
        assert isinstance(record.completion.completion_date, date), "store only validated records"
        assert record.attested or record.completion.permission, "bulk storing is for records with permission (queued)"
    now = utcnow()
    permission_date = as_of or date.today()
    provider = provider_id(session)

    # Learners: the directory entries with the file's folded names (an index seek per name), then one
    # write for the new ones. _learner_keys then compares the names themselves; the oldest entry wins,
    # as in find_or_create_learner.
    names = {(name_key(r.completion.learner.last_name), name_key(r.completion.learner.first_name)) for r in records}
    known: dict[tuple[str, ...], LearnerRow] = {}
    name_only: dict[tuple[str, ...], LearnerRow] = {}
    directory = key_pairs_join(session, select(LearnerRow), LearnerRow.last_key, LearnerRow.first_key, names)
    for row in session.scalars(directory.order_by(LearnerRow.id)):
        if row.license_id:
            known.setdefault(_learner_keys(row.first_name, row.last_name, row.license_id, None), row)
        if row.birth_date:
            known.setdefault(_learner_keys(row.first_name, row.last_name, None, row.birth_date), row)
        name_only.setdefault(_learner_keys(row.first_name, row.last_name, None, None), row)
    learner_keys: list[tuple[str, ...]] = []
    learner_ids: list[int | None] = []
    new_learners: dict[tuple[str, ...], dict] = {}
    for record in records:
        learner = record.completion.learner
        first = (learner.first_name or "").strip()
        last = (learner.last_name or "").strip()
        license_id = (learner.license_id or "").strip() or None
        key = _learner_keys(first, last, license_id, learner.birth_date)
        learner_keys.append(key)
        board_ids = {b.board: b.board_id for b in record.completion.boards if b.board_id}
        row = known.get(key) if key[0] != "name" else name_only.get(key)
        if row is not None:
            _learn(row, learner)  # the directory learns the latest values; the record keeps its own
            if board_ids:
                row.board_ids = {**(row.board_ids or {}), **board_ids}
            learner_ids.append(row.id)
            continue
        pending = new_learners.get(key)
        if pending is None:
            pending = new_learners[key] = dict(
                first_name=first, last_name=last, birth_date=learner.birth_date,
                licensing_state=learner.licensing_state, license_id=license_id, board_ids={}, created_at=now,
            )
        else:  # a later row of the same new learner: the directory keeps its latest values
            for column, value in snapshot_columns(learner).items():
                if value and column in ("birth_date", "licensing_state"):
                    pending[column] = value
        pending["board_ids"] = {**pending["board_ids"], **board_ids}
        learner_ids.append(None)
    session.flush()  # the directory entries learnt above (ORM updates), before the bulk writes below
    new_ids = dict(zip(new_learners, insert_rows(session, LearnerRow, list(new_learners.values()), with_ids=True),
                       strict=True))
    learner_ids = [known_id if known_id is not None else new_ids[key]
                   for known_id, key in zip(learner_ids, learner_keys, strict=True)]

    # Completions, then their boards, REMS parts, status events and outbox rows.
    credit_ids = [r.completion.credit_id or new_credit_id(provider) for r in records]
    completion_ids = insert_rows(session, CompletionRow, [
        dict(
            credit_id=credit_id,
            activity_id=r.activity_row_id,
            learner_id=learner_id,
            **snapshot_columns(r.completion.learner),
            completion_date=r.completion.completion_date,
            report_cme=r.completion.cme is not None,
            cme_credits=_amount(r.completion.cme.credits) if r.completion.cme else None,
            status=Status.QUEUED.value,
            status_source=source,
            permission_given=True,
            permission_date=permission_date,
            replaces_id=r.replaces_id,
            upload_id=upload_id,
            upload_row=r.upload_row,
            created_at=now,
            updated_at=now,
        )
        for r, credit_id, learner_id in zip(records, credit_ids, learner_ids, strict=True)
    ], with_ids=True)
    boards, rems = [], []
    for record, completion_id in zip(records, completion_ids, strict=True):
        boards.extend(dict(completion_id=completion_id, **board_columns(part)) for part in record.completion.boards)
        if record.completion.rems is not None:
            rems.append(dict(completion_id=completion_id, **rems_columns(record.completion.rems)))
    insert_rows(session, CompletionBoardRow, boards)
    insert_rows(session, CompletionRemsRow, rems)
    insert_rows(session, StatusEvent, [
        dict(completion_id=cid, at=now, status=Status.QUEUED.value, source=source, actor=actor, code=None, message=None)
        for cid in completion_ids
    ])
    insert_rows(session, OutboxRow, [
        dict(completion_id=cid, action=RecordAction.ADD.value, credit_id=credit_id, in_flight=False, attempts=0,
             created_at=now)
        for cid, credit_id in zip(completion_ids, credit_ids, strict=True)
    ])
    return completion_ids


def request_deletes(
    session: Session, rows: list[Any], *, source: str = "user", actor: str | None = None
) -> dict[int, str]:
    """`request_delete` for many records at once (a delete file): the same outcome per record, in a
    few statements whatever their number (app/models/bulk.py): one query per 500 records for pending
    adds, one bulk update of the records (version-checked: a record someone changed since it was read
    fails the whole unit of work with ConcurrentChangeError), bulk inserts for events and outbox rows.
    `rows` are CompletionRow objects or rows of a query with their id, credit_id, status,
    status_source and version. Returns the refusal reason by completion id for the records that
    cannot be deleted now; the others are handled."""
    refusals: dict[int, str] = {}
    if not rows:
        return refusals
    ids = [row.id for row in rows]
    pending_adds: dict[int, tuple[int, bool]] = {}  # completion id -> (outbox id, in flight)
    for start in range(0, len(ids), 500):
        for outbox_id, completion_id, in_flight in session.execute(
            select(OutboxRow.id, OutboxRow.completion_id, OutboxRow.in_flight)
            .where(OutboxRow.completion_id.in_(ids[start:start + 500]), OutboxRow.action == RecordAction.ADD.value)
            .order_by(OutboxRow.id)
        ):
            pending_adds.setdefault(completion_id, (outbox_id, bool(in_flight)))
    now = utcnow()
    changes: list[dict[str, Any]] = []
    changed_rows: list[Any] = []
    events: list[dict] = []
    outbox: list[dict] = []
    dropped_adds: list[int] = []
    for row in rows:
        refusal = delete_refusal(row)
        if refusal is not None:
            refusals[row.id] = refusal
            continue
        status = Status(row.status)
        pending_add = pending_adds.get(row.id)
        message: str | None = None
        if status == Status.DRAFT or (status == Status.QUEUED and pending_add is not None and not pending_add[1]):
            if pending_add is not None:
                dropped_adds.append(pending_add[0])
            new_status, message = Status.DELETED, "Deleted before it was sent"
        elif status == Status.QUEUED:
            refusals[row.id] = "It is being sent right now; delete it after the sync finishes."
            continue
        elif status == Status.REJECTED and row.status_source == "PARS":
            new_status, message = Status.DELETED, "Removed locally (never stored by PARS)"
        else:
            new_status = Status.DELETE_QUEUED
            outbox.append(dict(completion_id=row.id, action=RecordAction.DELETE.value, credit_id=row.credit_id,
                               in_flight=False, attempts=0, created_at=now))
        # the same changes as set_status, written in bulk below with the history events
        changes.append(dict(id=row.id, version=row.version, status=new_status.value, status_code=None,
                            status_message=message, status_source=source, updated_at=now))
        changed_rows.append(row)
        events.append(dict(completion_id=row.id, at=now, status=new_status.value, source=source, actor=actor,
                           code=None, message=message))
    session.flush()  # whatever the caller changed before, ahead of the bulk statements
    delete_ids(session, OutboxRow, dropped_adds)
    update_rows(session, CompletionRow, changes, versioned=True)
    _mirror_in_session(session, changed_rows, changes, dropped_adds)
    insert_rows(session, StatusEvent, events)
    insert_rows(session, OutboxRow, outbox)
    return refusals


def _mirror_in_session(session: Session, rows: list[Any], changes: list[dict[str, Any]], dropped: list[int]) -> None:
    """The session's objects agree with the bulk statements, as if it had written them itself: records
    loaded as ORM objects show their new status and version (read, or changed and flushed, later in this
    unit of work, they are right), and outbox rows it deleted leave the session."""
    for row, change in zip(rows, changes, strict=True):
        if isinstance(row, CompletionRow) and row in session:
            for name, value in change.items():
                set_committed_value(row, name, value + 1 if name == "version" else value)
    if dropped:
        gone = set(dropped)
        for item in list(session.identity_map.values()):
            if isinstance(item, OutboxRow) and item.id in gone:
                session.expunge(item)
