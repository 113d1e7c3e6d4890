"""Taking in a learner batch file (Batch Upload tab and `parsdesk import`), in two phases.

    batch = load_batch(path)                                   # app.pars.batch; BatchFileError
    with store.session() as s:
        analysis = analyse(s, batch, as_of)                    # reads only: safe to cancel or drop
    show(analysis.summary())                                   # nothing is queued yet
    with store.transaction() as s:
        summary = commit(s, analysis, path.name, attested_by=user, actor=user)

`analyse` gives every row a verdict: an Add to queue, a Delete to queue (with the stored record it
deletes), a row already reported (skipped, so re-uploading a file never duplicates), or the PARS issues
that stop it. `commit` then stores the upload, one line per row, and stores and queues every valid row
in the caller's single transaction. Failed rows are never stored as learner records; they live on as
upload lines so the rejection workbook can be written at any time, together with records PARS or a
board rejected later.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from app.models import Store
from app.models.file_lookup import FileKeys, chunks, text_key
from app.models.bulk import insert_rows, key_pairs_join
from app.models.search_keys import id_key, name_key
from app.models.schema import (
    ActivityRow,
    CompletionBoardRow,
    CompletionRemsRow,
    CompletionRow,
    StatusEvent,
    UploadLine,
    UploadRow,
    utcnow,
)
from app.pars.batch import BatchFile
from app.pars.catalog import LOCAL_CHECK
from app.pars.catalog import error as catalog_error
from app.pars.domain import (
    F_ACTION,
    F_ACTIVITY_ID,
    F_CREDIT_ID,
    BoardPart,
    CmePart,
    Completion,
    History,
    Issue,
    Learner,
    RecordAction,
    RemsPart,
    Status,
    new_credit_id,
)
from app.pars.matching import fingerprint
from app.pars.validation import prior_from_completion, validate_batch
from app.pars.values import format_pars_date, parse_pars_date
from app.services.history import counts_in_history, known_to_pars, load_domain_activities
from app.services.records import NewRecord, delete_refusal, provider_id, request_deletes, store_completions

if TYPE_CHECKING:
    from app.pars.xml_codec import RejectedRecord

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]

# A stored record in one of these states already stands for its completion: an identical row is a re-upload.
_STANDING = frozenset({Status.DRAFT, Status.QUEUED, Status.UPLOADED, Status.SUBMITTED, Status.ACCEPTED})
# Records that never left this machine: deleting them is local and needs no PARS check.
_UNSENT = frozenset({Status.DRAFT, Status.QUEUED})
_GONE = frozenset({Status.DELETED, Status.DELETE_QUEUED, Status.DELETE_UPLOADED, Status.DELETE_SUBMITTED})
# Preference when several stored records match an Excel Delete row: the one PARS holds for sure first.
_DELETE_PREFERENCE = {Status.ACCEPTED: 0, Status.REJECTED: 1, Status.QUEUED: 2, Status.DRAFT: 3, Status.SUBMITTED: 4}


class ImportCancelled(Exception):
    """The user cancelled while the file was being analysed; nothing was changed."""


class RowKind(enum.StrEnum):
    ADD = "Add"
    DELETE = "Delete"
    ALREADY_REPORTED = "Already reported"
    # the same record PARS or a board rejected before and nobody corrected: sent again (unchanged,
    # under a new creditID) only when the coordinator asks for it
    STILL_REJECTED = "Rejected before"
    ERROR = "Error"


@dataclass(slots=True)
class RowVerdict:
    row: int  # sheet row (xlsx) or ActivityReport number (xml)
    values: list[str]  # original cells, in BatchFile.headers order
    completion: Completion
    kind: RowKind
    issues: list[Issue] = field(default_factory=list)
    # Delete: the record it deletes. Already reported: the record it repeats. Add and Rejected before: the
    # Rejected record it resubmits (a rejection workbook row coming back, an XML correction).
    target_id: int | None = None
    note: str | None = None  # the explanation shown for an already-reported or still-rejected row
    rejection_code: int | None = None  # Rejected before: the code PARS or the board gave
    source: str | None = None  # XML: the record's ActivityReport as read (kept for the rejection file)

    @property
    def first_issue(self) -> Issue | None:
        return self.issues[0] if self.issues else None


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    column: str
    code: int
    message: str


@dataclass(slots=True)
class BatchAnalysis:
    format: str
    headers: list[str]
    as_of: date
    verdicts: list[RowVerdict]

    def _count(self, kind: RowKind) -> int:
        return sum(1 for verdict in self.verdicts if verdict.kind is kind)

    @property
    def records(self) -> int:
        return len(self.verdicts)

    @property
    def adds(self) -> int:
        return self._count(RowKind.ADD)

    @property
    def deletes(self) -> int:
        return self._count(RowKind.DELETE)

    @property
    def valid(self) -> int:
        """Rows that will be queued."""
        return self.adds + self.deletes

    @property
    def with_errors(self) -> int:
        return self._count(RowKind.ERROR)

    @property
    def already_reported(self) -> int:
        return self._count(RowKind.ALREADY_REPORTED)

    @property
    def still_rejected(self) -> int:
        """Rows repeating a record that was rejected and not corrected: queued only on request."""
        return self._count(RowKind.STILL_REJECTED)

    def problems(self, limit: int | None = None) -> list[RowProblem]:
        """Row/column/code/message of the failed rows' issues, in file order."""
        found: list[RowProblem] = []
        for verdict in self.verdicts:
            if verdict.kind is not RowKind.ERROR:
                continue
            for issue in verdict.issues:
                found.append(RowProblem(verdict.row, issue.field, issue.code, issue.message))
                if limit is not None and len(found) >= limit:
                    return found
        return found

    def notes(self) -> list[tuple[int, str]]:
        """(row, explanation) of rows skipped because they were already reported."""
        return [(v.row, v.note or "") for v in self.verdicts if v.kind is RowKind.ALREADY_REPORTED]

    def rejected_before(self) -> list[tuple[int, str]]:
        """(row, explanation) of rows that repeat a still-rejected record (sent only on request)."""
        return [(v.row, v.note or "") for v in self.verdicts if v.kind is RowKind.STILL_REJECTED]

    def rejected_before_codes(self) -> dict[int, int]:
        """Row -> the code PARS or the board rejected it with, for the rows rejected before."""
        return {v.row: v.rejection_code for v in self.verdicts
                if v.kind is RowKind.STILL_REJECTED and v.rejection_code is not None}


@dataclass(frozen=True, slots=True)
class UploadSummary:
    upload_id: int
    file_name: str
    records: int
    queued: int
    errors: int
    adds: int
    deletes: int
    already_reported: int
    completion_ids: tuple[int, ...]  # records created or changed (for views to refresh)
    still_rejected: int = 0  # rows repeating a still-rejected record, left alone (not resent)
    resent: int = 0  # of the queued adds: still-rejected records resent unchanged on request


# --- reading the store -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One attempt of a record (the record or a resubmission of it), as the notes name it."""

    id: int
    credit_id: str
    status: Status
    code: int | None = None
    rejected_on: date | None = None  # when PARS or the board rejected it (Rejected attempts)


@dataclass(slots=True)
class _Stored:
    """A stored record, reduced to what matching needs."""

    id: int
    credit_id: str
    status: Status
    completion: Completion
    code: int | None = None
    rejected_on: date | None = None
    newest: _Attempt | None = None  # a Rejected record that was resubmitted: the newest attempt since

    def attempt(self) -> _Attempt:
        return _Attempt(self.id, self.credit_id, self.status, self.code, self.rejected_on)

    def latest(self) -> _Attempt:
        """The attempt that stands for this completion now (the newest resubmission, else itself)."""
        return self.newest or self.attempt()


def _name_key(completion: Completion) -> tuple[object, ...]:
    """Activity, learner name and completion date: what a correction of a rejected record keeps."""
    return (
        text_key(completion.activity_id), text_key(completion.learner.last_name),
        text_key(completion.learner.first_name), parse_pars_date(completion.completion_date),
    )


@dataclass(slots=True)
class _StoreView:
    """What analysis needs from the store, read with a few column queries (no ORM objects)."""

    history: History
    by_credit_id: dict[str, _Stored]
    by_key: dict[tuple[object, ...], list[_Stored]]
    by_name: dict[tuple[object, ...], list[_Stored]] = field(default_factory=lambda: defaultdict(list))
    linked: set[int] = field(default_factory=set)  # rejected attempts a row of this file resubmits




def _candidate_ids(
    session: Session, activity_row_ids: list[int], completions: list[Completion], credit_ids: set[str]
) -> set[int]:
    """Ids of the stored records of these activities that may concern the file's learners: the same
    folded name, a board ID of the file, or a creditID the file names. Index lookups only, so the
    cost follows the file, not the store; the caller then compares exactly.

    The activity is checked on the rows found, not in the queries: given both conditions, SQLite's
    planner (which has no statistics here) walks every record of the activity, a fifth of a
    million-record store, and looks each one up in the file's keys instead of the other way round."""
    wanted_activities = set(activity_row_ids)
    names = {(name_key(c.learner.last_name), name_key(c.learner.first_name)) for c in completions}
    board_keys = sorted({id_key(b.board_id) for c in completions for b in c.boards if b.board_id} - {""})
    found: set[int] = set()

    def keep(rows: Iterable[tuple[int, int]]) -> None:
        found.update(record_id for record_id, activity_id in rows if activity_id in wanted_activities)

    keep(session.execute(key_pairs_join(
        session, select(CompletionRow.id, CompletionRow.activity_id), CompletionRow.last_key, CompletionRow.first_key,
        names)))
    for chunk in chunks(board_keys):
        keep(session.execute(
            select(CompletionBoardRow.completion_id, CompletionRow.activity_id)
            .join(CompletionRow, CompletionBoardRow.completion_id == CompletionRow.id)
            .where(CompletionBoardRow.board_id_key.in_(chunk))))
    for chunk in chunks(sorted(credit_ids)):
        keep(session.execute(select(CompletionRow.id, CompletionRow.activity_id).where(CompletionRow.credit_id.in_(chunk))))
    return found


def history_for_batch(session: Session, batch: BatchFile) -> History:
    """The History a check of this file needs from the store (what import analyses it against)."""
    return _load_store_view(session, batch).history


def _load_store_view(session: Session, batch: BatchFile) -> _StoreView:
    """The validation History and the stored records that the file's rows may repeat or delete.

    Only records of the file's activities can matter; of those, priors are kept for learners whose
    name or board ID appears in the file (a learner is recognised by one or the other), and full
    records for those that share a learner name and completion date with a row or carry a
    creditID the file names. Candidates are found through indexes (_candidate_ids), so a 5,000-row
    upload reads about as much from a store of a million records as from one of a thousand.
    """
    keys = FileKeys.of(batch)
    completions = keys.completions

    history = History()
    # PARS never reuses a creditID; only the file's own can collide (new rows get fresh ones).
    for chunk in chunks(sorted(keys.credit_ids)):
        history.used_credit_ids.update(session.scalars(select(CompletionRow.credit_id).where(CompletionRow.credit_id.in_(chunk))))
    view = _StoreView(history, {}, defaultdict(list))
    if not keys.activity_ids:
        return view
    activity_row_ids = list(session.scalars(select(ActivityRow.id).where(ActivityRow.accme_id.in_(keys.activity_ids))))
    candidate_ids = sorted(_candidate_ids(session, activity_row_ids, completions, set(keys.credit_ids)))
    boards: dict[int, list[BoardPart]] = defaultdict(list)
    for chunk in chunks(candidate_ids):
        for completion_id, board, board_id, points, credit_types in session.execute(
            select(
                CompletionBoardRow.completion_id,
                CompletionBoardRow.board,
                CompletionBoardRow.board_id,
                CompletionBoardRow.points,
                CompletionBoardRow.credit_types,
            )
            .where(CompletionBoardRow.completion_id.in_(chunk))
            .order_by(CompletionBoardRow.id)
        ):
            boards[completion_id].append(
                BoardPart(board, board_id, points, {k: Decimal(v) for k, v in (credit_types or {}).items()})
            )
    rows = (row for chunk in chunks(candidate_ids) for row in session.execute(
        select(
            CompletionRow.id,
            CompletionRow.credit_id,
            CompletionRow.status,
            CompletionRow.status_code,
            CompletionRow.completion_date,
            CompletionRow.report_cme,
            CompletionRow.cme_credits,
            ActivityRow.accme_id,
            CompletionRow.first_name,
            CompletionRow.last_name,
            CompletionRow.birth_date,
            CompletionRow.licensing_state,
            CompletionRow.license_id,
            CompletionRemsRow.profession,
            CompletionRemsRow.state_of_practice,
            CompletionRemsRow.dea_registration,
            CompletionRemsRow.practice_area,
            CompletionRemsRow.performs_surgery,
            CompletionRemsRow.time_in_practice,
        )
        .join(ActivityRow, CompletionRow.activity_id == ActivityRow.id)
        .outerjoin(CompletionRemsRow, CompletionRemsRow.completion_id == CompletionRow.id)
        .where(CompletionRow.id.in_(chunk))
    ))
    for r in rows:
        parts = boards.get(r.id, ())
        candidate = keys.is_candidate(r.credit_id, r.accme_id, r.last_name, r.first_name, r.completion_date)
        if not keys.bears_on_file(candidate, r.last_name, r.first_name, (b.board_id for b in parts)):
            continue  # another learner: cannot bear on this file
        completion = Completion(
            activity_id=r.accme_id,
            credit_id=r.credit_id,
            learner=Learner(r.first_name, r.last_name, r.birth_date, r.licensing_state, r.license_id),
            completion_date=r.completion_date,
            cme=CmePart(r.cme_credits) if r.report_cme else None,
            boards=list(parts),
            rems=RemsPart(r.profession, r.state_of_practice, r.dea_registration, r.practice_area,
                          r.performs_surgery, r.time_in_practice) if r.profession is not None else None,
        )
        history.add_prior(prior_from_completion(completion, counts=counts_in_history(r.status)))
        if known_to_pars(r.status):
            history.sent[r.credit_id] = completion
        if candidate:
            stored = _Stored(r.id, r.credit_id, Status(r.status), completion, r.status_code)
            view.by_credit_id[r.credit_id] = stored
            view.by_key[fingerprint(completion)].append(stored)
            view.by_name[_name_key(completion)].append(stored)
    _add_rejection_history(session, [s for s in view.by_credit_id.values() if s.status is Status.REJECTED])
    return view


def _add_rejection_history(session: Session, rejected: list[_Stored]) -> None:
    """For rejected records a file may repeat or correct: when they were rejected, and the newest
    attempt since (a resubmission, corrected or not), following replaces_id links a level at a time."""
    if not rejected:
        return
    newest: dict[int, tuple[int, str, str, int | None]] = {}
    frontier = dict((stored.id, stored.id) for stored in rejected)  # attempt id -> original record id
    for _ in range(100):  # a chain longer than this is not a coordinator's doing; stop following it
        if not frontier:
            break
        found: dict[int, int] = {}
        ids = sorted(frontier)
        for start in range(0, len(ids), 500):
            for attempt_id, replaces_id, credit_id, status, code in session.execute(
                select(CompletionRow.id, CompletionRow.replaces_id, CompletionRow.credit_id, CompletionRow.status,
                       CompletionRow.status_code)
                .where(CompletionRow.replaces_id.in_(ids[start:start + 500]))
                .order_by(CompletionRow.id)
            ):
                origin = frontier[replaces_id]
                found[attempt_id] = origin
                newest[origin] = (attempt_id, credit_id, status, code)
        frontier = found
    rejected_ids = [stored.id for stored in rejected] + [attempt[0] for attempt in newest.values()]
    rejected_at: dict[int, datetime] = {}
    for start in range(0, len(rejected_ids), 500):
        rejected_at.update(session.execute(
            select(StatusEvent.completion_id, func.max(StatusEvent.at))
            .where(StatusEvent.completion_id.in_(rejected_ids[start:start + 500]),
                   StatusEvent.status == Status.REJECTED.value,
                   # PARS's or the board's verdict, not the "Resubmitted as ..." notes added later
                   StatusEvent.source.in_(("PARS", "board")))
            .group_by(StatusEvent.completion_id)
        ).all())
    for stored in rejected:
        when = rejected_at.get(stored.id)
        stored.rejected_on = when.date() if when else None
        if stored.id in newest:
            attempt_id, credit_id, status, code = newest[stored.id]
            when = rejected_at.get(attempt_id) if status == Status.REJECTED.value else None
            stored.newest = _Attempt(attempt_id, credit_id, Status(status), code, when.date() if when else None)


def _delete_issue(field_name: str, detail: str) -> Issue:
    """A 605 issue whose message says exactly why this row has no record to delete."""
    return Issue(605, field_name, f"{catalog_error(605).message} {detail}".strip())


def _already_reported_note(stored: _Stored) -> str:
    return (
        f"Already reported as {stored.credit_id} ({stored.status.value}); "
        "the row was skipped so the record is not duplicated (603)."
    )


# --- phase 1: analysis ------------------------------------------------------------------------------


def analyse(
    session: Session,
    batch: BatchFile,
    as_of: date,
    *,
    should_stop: StopCheck | None = None,
    on_progress: ProgressCallback | None = None,
) -> BatchAnalysis:
    """Judge every row of the file against PARS's rules and the store. Reads only; raises
    ImportCancelled when `should_stop()` turns true."""
    stop = should_stop or (lambda: False)
    total = len(batch.records)
    report = on_progress or (lambda done, total: None)

    def checkpoint(done: int) -> None:
        if stop():
            raise ImportCancelled("The upload was cancelled; nothing was queued.")
        report(done, total)

    checkpoint(0)
    provider = provider_id(session)
    activities = load_domain_activities(session)
    view = _load_store_view(session, batch)
    history, by_credit_id, by_fingerprint = view.history, view.by_credit_id, view.by_key
    checkpoint(0)

    is_excel = batch.format == "xlsx"
    verdicts: list[RowVerdict] = []
    to_validate: list[int] = []  # indexes into verdicts of the rows that need PARS's rules
    delete_targets_taken: set[int] = set()
    for index, record in enumerate(batch.records):
        completion = record.completion
        verdict = RowVerdict(record.row, list(record.values), completion, RowKind.ADD, source=record.source)
        verdicts.append(verdict)
        action = completion.action
        if action == RecordAction.DELETE:
            verdict.kind = RowKind.DELETE
            _resolve_delete(verdict, by_credit_id, by_fingerprint, delete_targets_taken, is_excel)
            # Deletes of records that never left this machine are local: PARS has nothing to check.
            if verdict.kind is RowKind.DELETE and not _is_unsent_target(verdict, by_credit_id):
                to_validate.append(index)
        elif action == RecordAction.ADD:
            _resolve_add(verdict, view)
            if verdict.kind in (RowKind.ADD, RowKind.STILL_REJECTED):
                if not (completion.credit_id or "").strip():
                    # Excel rows carry no creditID (and a resend or correction needs a new one):
                    # ParsDesk assigns it now, so validation and the stored record see the same one.
                    completion.credit_id = new_credit_id(provider)
                to_validate.append(index)
        else:
            to_validate.append(index)  # missing/unknown action: validation names it (601/602)
        if index % 250 == 249:
            checkpoint(index + 1)

    checkpoint(total)
    issues_by_row = validate_batch(
        [verdicts[i].completion for i in to_validate], activities, history, as_of
    )
    for index, issues in zip(to_validate, issues_by_row, strict=True):
        if issues:
            verdicts[index].kind = RowKind.ERROR
            verdicts[index].issues = list(issues)
            verdicts[index].target_id = None
    checkpoint(total)
    return BatchAnalysis(batch.format, list(batch.headers), as_of, verdicts)


def _is_unsent_target(verdict: RowVerdict, by_credit_id: dict[str, _Stored]) -> bool:
    credit_id = verdict.completion.credit_id
    stored = by_credit_id.get(credit_id) if credit_id else None
    return stored is not None and stored.id == verdict.target_id and stored.status in _UNSENT


def _resolve_add(verdict: RowVerdict, view: _StoreView) -> None:
    """Recognise an Add row that repeats, resends or corrects a stored record.

    - the same record standing (Draft..Accepted): already reported, skipped;
    - the same record as one PARS or a board rejected: skipped when a resubmission since stands for it
      ("corrected"), else Rejected before (resent unchanged only on request);
    - a changed row carrying a rejected record's creditID (a rejection workbook, an XML correction),
      or without a creditID but with its activity, learner name and completion date: a correction,
      linked to the rejected attempt it replaces. PARS never reuses a creditID: it gets a new one.
    """
    completion = verdict.completion
    key = fingerprint(completion)
    credit_id = (completion.credit_id or "").strip() or None
    stored = view.by_credit_id.get(credit_id) if credit_id is not None else None
    if stored is not None:
        unchanged = fingerprint(stored.completion) == key
        if stored.status in _STANDING and unchanged:
            _skip(verdict, stored.attempt(), _already_reported_note(stored))
            return
        if stored.status is Status.REJECTED:
            completion.credit_id = None  # a resend or a correction goes under a new creditID
            _follow_rejection(verdict, stored, view, unchanged=unchanged, by_credit_id=True)
        # Otherwise the reused creditID is validation's 603 to report.
        return
    if credit_id is None:
        for stored in view.by_key.get(key, ()):
            if stored.status in _STANDING:
                _skip(verdict, stored.attempt(), _already_reported_note(stored))
                return
    for stored in view.by_key.get(key, ()):
        if stored.status is Status.REJECTED and _follow_rejection(verdict, stored, view, unchanged=True):
            return
    for stored in view.by_name.get(_name_key(completion), ()):
        if stored.status is Status.REJECTED and _follow_rejection(verdict, stored, view, unchanged=False):
            return


def _follow_rejection(
    verdict: RowVerdict, stored: _Stored, view: _StoreView, *, unchanged: bool, by_credit_id: bool = False
) -> bool:
    """Judge a row that repeats (`unchanged`) or corrects a rejected record; False when the row is not
    about it after all (its newest attempt was deleted, or another row of the file already took it)."""
    latest = stored.latest()
    if latest.status in _STANDING and latest.id != stored.id:
        if unchanged or by_credit_id:
            _skip(verdict, latest, (
                f"{_rejection_words(stored.attempt())} as {stored.credit_id}; since corrected as "
                f"{latest.credit_id} ({latest.status.value}): the row was skipped so it is not sent again."
            ))
            return True
        return False  # a different record for the same day: validation judges it
    if latest.status is not Status.REJECTED or latest.id in view.linked:
        return False
    view.linked.add(latest.id)
    verdict.target_id = latest.id
    if unchanged:
        verdict.kind = RowKind.STILL_REJECTED
        verdict.rejection_code = latest.code
        verdict.note = (
            f"{_rejection_words(latest)}: will be sent unchanged only if you ask to resend rejected rows "
            f"({latest.credit_id})."
        )
    return True


def _rejection_words(attempt: _Attempt) -> str:
    """'rejected 664 on 11-20-2026' (without the parts the store does not know)."""
    words = "rejected" + (f" {attempt.code}" if attempt.code else "")
    return words + (f" on {format_pars_date(attempt.rejected_on)}" if attempt.rejected_on else "")


def _skip(verdict: RowVerdict, attempt: _Attempt, note: str) -> None:
    verdict.kind = RowKind.ALREADY_REPORTED
    verdict.target_id = attempt.id
    verdict.note = note


def _resolve_delete(
    verdict: RowVerdict,
    by_credit_id: dict[str, _Stored],
    by_fingerprint: dict[tuple[object, ...], list[_Stored]],
    taken: set[int],
    is_excel: bool,
) -> None:
    """Find the stored record a Delete row deletes, or turn the row into a 605 error."""
    completion = verdict.completion
    key = fingerprint(completion)
    credit_id = (completion.credit_id or "").strip() or None
    if credit_id is not None:
        # XML (or an Excel file with a Credit ID column): the creditID AND all fields must match.
        stored = by_credit_id.get(credit_id)
        if stored is None:
            _fail(verdict, _delete_issue(F_CREDIT_ID, f"No record with creditID {credit_id} was reported from here."))
            return
        # For a record PARS has, validation compares the fields (and names those that differ);
        # one that never left this machine is compared here.
        if not known_to_pars(stored.status) and fingerprint(stored.completion) != key:
            _fail(verdict, _delete_issue(
                F_CREDIT_ID,
                f"The fields of this Delete differ from record {credit_id} as it was stored; "
                "a Delete must repeat the original record exactly.",
            ))
            return
        candidates = [stored]
    elif is_excel:
        candidates = sorted(
            by_fingerprint.get(key, ()), key=lambda s: (_DELETE_PREFERENCE.get(s.status, 9), -s.id)
        )
        if not candidates:
            _fail(verdict, _delete_issue(
                F_ACTION,
                "No reported record has this activity, learner, completion date and credits; "
                "a Delete row must repeat the row as it was originally uploaded.",
            ))
            return
    else:
        _fail(verdict, _delete_issue(F_CREDIT_ID, "An XML Delete must carry the creditID of the record it deletes."))
        return

    live = [s for s in candidates if s.status not in _GONE and s.id not in taken]
    if not live:
        gone = candidates[0]
        _fail(verdict, _delete_issue(F_ACTION, f"Record {gone.credit_id} is already {gone.status.value}."))
        return
    target = live[0]
    refusal = _refusal_for(target)
    if refusal is not None:
        _fail(verdict, Issue(LOCAL_CHECK, F_ACTION, f"Record {target.credit_id} cannot be deleted now: {refusal}"))
        return
    taken.add(target.id)
    completion.credit_id = target.credit_id
    verdict.target_id = target.id


class _StatusOnly:
    """Just enough of a CompletionRow for records.delete_refusal, which looks only at the status."""

    def __init__(self, status: Status) -> None:
        self.status = status.value


def _refusal_for(stored: _Stored) -> str | None:
    return delete_refusal(_StatusOnly(stored.status))  # type: ignore[arg-type]


def _fail(verdict: RowVerdict, issue: Issue) -> None:
    verdict.kind = RowKind.ERROR
    verdict.issues = [issue]
    verdict.target_id = None


# --- phase 2: commit --------------------------------------------------------------------------------


def commit(
    session: Session,
    analysis: BatchAnalysis,
    file_name: str,
    *,
    attested_by: str,
    actor: str | None = None,
    resend_rejected: bool = False,
) -> UploadSummary:
    """Store the upload and queue its valid rows, inside the caller's transaction.

    `attested_by` is who confirmed that these learners gave permission to report their completions;
    without that nothing may be queued. Rows that repeat a still-rejected record unchanged are queued
    (under a new creditID, linked to the rejected attempt) only with `resend_rejected`."""
    if not attested_by or not attested_by.strip():
        raise ValueError("Queueing a batch needs the uploader's attestation that the learners gave permission.")
    now = utcnow()
    upload = UploadRow(
        at=now,
        file_name=file_name,
        file_format=analysis.format,
        records=analysis.records,
        headers=list(analysis.headers),
        attested_by=attested_by.strip(),
        attested_at=now,
    )
    session.add(upload)
    session.flush()

    queued_kinds = (RowKind.ADD, RowKind.STILL_REJECTED) if resend_rejected else (RowKind.ADD,)
    activity_ids = {
        str(v.completion.activity_id).strip() for v in analysis.verdicts if v.kind in queued_kinds
    }
    # A rejected attempt resubmitted since the analysis (from the entry form, say) is not resubmitted twice.
    resubmit_targets = sorted({v.target_id for v in analysis.verdicts if v.kind in queued_kinds and v.target_id})
    taken_since: set[int] = set()
    for start in range(0, len(resubmit_targets), 500):
        taken_since.update(session.scalars(
            select(CompletionRow.replaces_id).where(CompletionRow.replaces_id.in_(resubmit_targets[start:start + 500]))
        ))
    activity_rows = {
        row.accme_id: row
        for row in session.scalars(select(ActivityRow).where(ActivityRow.accme_id.in_(sorted(activity_ids))))
    } if activity_ids else {}
    linked_ids = {v.target_id for v in analysis.verdicts if v.target_id is not None and v.kind is RowKind.DELETE}
    # what request_deletes needs of the records the deletes name (read in this transaction: the
    # version makes its bulk update fail if someone changes one of them before the commit)
    linked = {
        row.id: row
        for chunk in chunks(sorted(linked_ids))
        for row in session.execute(select(CompletionRow.id, CompletionRow.credit_id, CompletionRow.status,
                                          CompletionRow.status_source, CompletionRow.version)
                                   .where(CompletionRow.id.in_(chunk)))
    }

    lines: list[dict[str, object]] = []
    new_records: list[NewRecord] = []
    new_record_lines: list[dict[str, object]] = []
    delete_targets: list[Row] = []
    delete_lines: list[tuple[dict[str, object], RowVerdict]] = []
    changed: list[int] = []
    deletes = errors = already = still_rejected = resent = 0
    resubmitted: list[tuple[int, RowVerdict]] = []  # (rejected attempt, row) for its history
    for verdict in analysis.verdicts:
        line: dict[str, object] = {
            "upload_id": upload.id, "row_number": verdict.row, "values": verdict.values,
            "completion_id": None, "error_code": None, "error_message": None, "source_xml": None,
        }
        lines.append(line)
        issues = verdict.issues
        if verdict.kind is RowKind.STILL_REJECTED and (not resend_rejected or verdict.target_id in taken_since):
            line["error_message"] = verdict.note
            still_rejected += 1
            continue
        if verdict.kind in queued_kinds:
            activity = activity_rows.get(str(verdict.completion.activity_id).strip())
            if activity is None:  # removed between analysis and commit
                issues = [Issue(690, F_ACTIVITY_ID, catalog_error(690).message)]
            else:
                target = verdict.target_id if verdict.target_id not in taken_since else None
                # queued with the uploader's attestation of the learners' permission
                new_records.append(NewRecord(verdict.completion, activity.id, verdict.row, target, attested=True))
                new_record_lines.append(line)
                if target is not None:
                    resubmitted.append((target, verdict))
                resent += verdict.kind is RowKind.STILL_REJECTED
                continue
        elif verdict.kind is RowKind.DELETE:
            target = linked.get(verdict.target_id) if verdict.target_id is not None else None
            if target is not None:
                delete_targets.append(target)
                delete_lines.append((line, verdict))
                continue
            issues = [Issue(LOCAL_CHECK, F_ACTION, f"Record {verdict.completion.credit_id} cannot be deleted now: "
                                                   "it is no longer in the store.")]
        elif verdict.kind is RowKind.ALREADY_REPORTED:
            line["error_message"] = verdict.note
            already += 1
            continue
        line["error_code"] = issues[0].code
        line["error_message"] = _issues_text(issues)
        line["source_xml"] = verdict.source
        errors += 1
    refusals = request_deletes(session, delete_targets, source="import", actor=actor)
    for (line, verdict), target in zip(delete_lines, delete_targets, strict=True):
        refusal = refusals.get(target.id)
        if refusal is None:
            line["completion_id"] = target.id
            changed.append(target.id)
            deletes += 1
        else:  # its status changed since the analysis (a sync ran in between)
            line["error_code"] = LOCAL_CHECK
            line["error_message"] = f"{F_ACTION}: Record {target.credit_id} cannot be deleted now: {refusal}"
            line["source_xml"] = verdict.source
            errors += 1
    # One bulk insert per table for the adds: thousands of rows in well under a second.
    stored_ids = store_completions(
        session, new_records, source="import", actor=actor, upload_id=upload.id, as_of=analysis.as_of
    )
    for line, completion_id in zip(new_record_lines, stored_ids, strict=True):
        line["completion_id"] = completion_id
    changed.extend(stored_ids)
    if resubmitted:
        # as a resubmission from the entry form: the rejected attempt's history names its successor
        insert_rows(session, StatusEvent, [
            dict(completion_id=target, at=now, status=Status.REJECTED.value, source="import", actor=actor,
                 code=None, message=f"Resubmitted as {verdict.completion.credit_id} ({file_name}, row {verdict.row})")
            for target, verdict in resubmitted
        ])
        changed.extend(target for target, _ in resubmitted)
    insert_rows(session, UploadLine, lines)
    adds = len(stored_ids)
    upload.adds, upload.deletes, upload.errors = adds, deletes, errors
    upload.queued = adds + deletes
    return UploadSummary(
        upload.id, file_name, analysis.records, adds + deletes, errors, adds, deletes, already, tuple(changed),
        still_rejected=still_rejected, resent=resent,
    )


# --- the same two phases for a worker thread, which owns its own Session ---------------------------


def analyse_file(
    store: Store,
    batch: BatchFile,
    as_of: date,
    *,
    should_stop: StopCheck | None = None,
    on_progress: ProgressCallback | None = None,
) -> BatchAnalysis:
    """`analyse` in a read-only Session of its own (for the thread that calls it)."""
    with store.session() as session:
        return analyse(session, batch, as_of, should_stop=should_stop, on_progress=on_progress)


def commit_upload(
    store: Store, analysis: BatchAnalysis, file_name: str, *, attested_by: str, actor: str | None = None,
    resend_rejected: bool = False,
) -> UploadSummary:
    """`commit` in one transaction of its own (for the thread that calls it); rolled back if it raises."""
    with store.transaction() as session:
        return commit(session, analysis, file_name, attested_by=attested_by, actor=actor,
                      resend_rejected=resend_rejected)


def _issues_text(issues: list[Issue]) -> str:
    """The Error Message cell: the first issue (its code is in Error Code), then any others with theirs."""
    first, *others = issues
    parts = [f"{first.field}: {first.message}" if first.field else first.message]
    parts += [f"{i.code} {i.field}: {i.message}" if i.field else f"{i.code} {i.message}" for i in others]
    return "; ".join(parts)


# --- history and rejections -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadHistoryView:
    upload_id: int
    at: datetime
    file_name: str
    file_format: str
    records: int
    queued: int
    errors: int
    accepted: int  # adds accepted, deletes done
    rejected: int  # by PARS or a board, after queueing
    pending: int  # queued or submitted, no final answer yet
    submitted: int  # of the pending: with PARS/the board now (Submitted, Delete Submitted)
    attested_by: str | None


_PENDING_ADD = {Status.DRAFT, Status.QUEUED, Status.UPLOADED, Status.SUBMITTED}
_PENDING_DELETE = {Status.DELETE_QUEUED, Status.DELETE_UPLOADED, Status.DELETE_SUBMITTED}


def _line_outcome(is_add: bool, status: Status) -> str | None:
    """How a queued line stands now: accepted / rejected / pending (None: no longer this upload's concern)."""
    if is_add:
        if status is Status.ACCEPTED:
            return "accepted"
        if status is Status.REJECTED:
            return "rejected"
        if status in _PENDING_ADD:
            return "pending"
        return None  # deleted later by someone: neither an acceptance nor a rejection of this upload
    if status is Status.DELETED:
        return "accepted"
    if status in _PENDING_DELETE:
        return "pending"
    return "rejected"  # the delete came back refused and the record stands


def upload_history(session: Session) -> list[UploadHistoryView]:
    """All uploads, newest first, with what has become of their records since.

    Counted without reading every upload line (a store of a million uploaded records has a million):
    an upload's adds are the records it created, counted by status from ix_completion_upload_status
    alone; its deletes are its lines naming a record created elsewhere, read only for the uploads
    that queued deletes."""
    outcomes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    submitted = {Status.SUBMITTED, Status.DELETE_SUBMITTED}

    def tally(upload_id: int, is_add: bool, status: str, count: int) -> None:
        outcome = _line_outcome(is_add, Status(status))
        if outcome is not None:
            outcomes[upload_id][outcome] += count
        if outcome == "pending" and Status(status) in submitted:
            outcomes[upload_id]["submitted"] += count

    for upload_id, status, count in session.execute(
        select(CompletionRow.upload_id, CompletionRow.status, func.count())
        .where(CompletionRow.upload_id.is_not(None))
        .group_by(CompletionRow.upload_id, CompletionRow.status)
    ):
        tally(upload_id, True, status, count)
    with_deletes = select(UploadRow.id).where(UploadRow.deletes > 0).scalar_subquery()
    for upload_id, status, count in session.execute(
        select(UploadLine.upload_id, CompletionRow.status, func.count())
        .join(CompletionRow, UploadLine.completion_id == CompletionRow.id)
        .where(UploadLine.upload_id.in_(with_deletes),
               or_(CompletionRow.upload_id.is_(None), CompletionRow.upload_id != UploadLine.upload_id))
        .group_by(UploadLine.upload_id, CompletionRow.status)
    ):
        tally(upload_id, False, status, count)
    views = []
    for upload in session.scalars(select(UploadRow).order_by(UploadRow.at.desc(), UploadRow.id.desc())):
        counts = outcomes.get(upload.id, {})
        views.append(
            UploadHistoryView(
                upload.id, upload.at, upload.file_name, upload.file_format, upload.records, upload.queued,
                upload.errors, counts.get("accepted", 0), counts.get("rejected", 0), counts.get("pending", 0),
                counts.get("submitted", 0), upload.attested_by,
            )
        )
    return views


RejectionRow = tuple[list[str], int, str]


def rejection_rows(session: Session, upload_id: int) -> tuple[list[str], list[RejectionRow]]:
    """The upload's headers and its failed rows: local validation failures plus records that PARS or a
    board rejected since (with their code and message), in file order."""
    upload = session.get(UploadRow, upload_id)
    if upload is None:
        raise LookupError(f"There is no upload {upload_id}.")
    rows: list[RejectionRow] = []
    query = (
        select(
            UploadLine.row_number, UploadLine.values, UploadLine.error_code, UploadLine.error_message,
            CompletionRow.upload_id, CompletionRow.status, CompletionRow.status_code, CompletionRow.status_message,
            CompletionRow.credit_id,
        )
        .outerjoin(CompletionRow, UploadLine.completion_id == CompletionRow.id)
        .where(UploadLine.upload_id == upload_id)
        .order_by(UploadLine.row_number, UploadLine.id)
    )
    from app.pars.excel import canonical_header

    headers = list(upload.headers or [])
    # A row PARS or a board rejected carries that record's creditID, so that the corrected row dropped
    # back in is recognised as its correction (and an unchanged one as a resend of it).
    credit_column = next((i for i, h in enumerate(headers) if canonical_header(h) == F_CREDIT_ID), None)
    if credit_column is None:
        credit_column = len(headers)
        headers.append(F_CREDIT_ID)
    for line in session.execute(query):
        values = [("" if v is None else str(v)) for v in line.values or []]
        values = (values + [""] * len(headers))[: len(headers)]
        if line.status is None:
            if line.error_code is not None:
                rows.append((values, line.error_code, line.error_message or ""))
            continue
        if _line_outcome(line.upload_id == upload_id, Status(line.status)) == "rejected":
            code = line.status_code or 999
            message = line.status_message or f"Record {line.credit_id} was rejected ({line.status})."
            if line.upload_id == upload_id:  # an add of this upload (a delete row repeats its own record)
                values[credit_column] = line.credit_id
            rows.append((values, code, message))
    return headers, rows


def rejected_records(session: Session, upload_id: int) -> list[RejectedRecord]:
    """An XML upload's failed records for its rejection file, in file order: each record that failed
    ParsDesk's checks as it was read, and each record PARS or a board rejected since as it was sent
    (with its creditID, so that the corrected record dropped back is taken as its correction)."""
    from app.pars.excel import canonical_header, row_to_completion
    from app.pars.xml_codec import RejectedRecord, rejected_as_read
    from app.services.records import completion_to_domain

    upload = session.get(UploadRow, upload_id)
    if upload is None:
        raise LookupError(f"There is no upload {upload_id}.")
    headers = [canonical_header(h) or h for h in upload.headers or []]
    query = (
        select(
            UploadLine.row_number, UploadLine.values, UploadLine.error_code, UploadLine.error_message,
            UploadLine.source_xml, CompletionRow.id, CompletionRow.upload_id, CompletionRow.status,
            CompletionRow.status_code, CompletionRow.status_message, CompletionRow.credit_id,
        )
        .outerjoin(CompletionRow, UploadLine.completion_id == CompletionRow.id)
        .where(UploadLine.upload_id == upload_id)
        .order_by(UploadLine.row_number, UploadLine.id)
    )
    found: list[RejectedRecord] = []
    for line in session.execute(query).all():
        origin = f"record {line.row_number} of {upload.file_name}"
        if line.status is None:
            if line.error_code is None:
                continue  # skipped as already reported, or held back as rejected before
            if line.source_xml:
                found.append(rejected_as_read(line.source_xml, line.error_code, line.error_message or "", origin))
            else:  # an upload from before the records were kept as read: its cells
                values = [("" if v is None else str(v)) for v in line.values or []]
                completion = row_to_completion(dict(zip(headers, values)))
                found.append(RejectedRecord(completion, line.error_code, line.error_message or "", origin=origin))
            continue
        own_add = line.upload_id == upload_id
        if _line_outcome(own_add, Status(line.status)) != "rejected":
            continue
        row = session.get(CompletionRow, line.id)
        completion = completion_to_domain(row, action=RecordAction.ADD if own_add else RecordAction.DELETE)
        message = line.status_message or f"Record {line.credit_id} was rejected ({line.status})."
        found.append(RejectedRecord(completion, line.status_code or 999, message, None, row.activity.title, origin))
    return found


def write_upload_rejections(session: Session, upload_id: int, path: Path | str) -> int:
    """Write the upload's rejections where `path` says; returns how many records or rows it holds.

    `.xml`: a PARS learner XML file of the rejected records (for an XML upload, docs/xml-format.md);
    anything else: the rejection workbook. An XML file with nothing rejected is not written (the schema
    needs at least one record). Either file is readable by its owner only."""
    target = Path(path)
    if target.suffix.lower() == ".xml":
        from app.pars.files import private_output
        from app.pars.xml_codec import render_rejections

        records = rejected_records(session, upload_id)
        if records:
            document = render_rejections(records, utcnow(), provider_id=provider_id(session))
            with private_output(target) as handle:  # owner-only, all or nothing
                handle.write(document)
        return len(records)
    from app.pars.excel import write_rejections

    headers, rows = rejection_rows(session, upload_id)
    write_rejections(target, headers, rows)
    return len(rows)


def rejections_suffix(session: Session, upload_id: int) -> str:
    """The rejection file's natural type for an upload: `.xml` for an XML upload, else `.xlsx`."""
    upload = session.get(UploadRow, upload_id)
    return ".xml" if upload is not None and upload.file_format == "xml" else ".xlsx"
