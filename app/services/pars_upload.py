"""The upload-file route to PARS, for offices without web-service credentials.

    prepare_upload(run, out_dir, file_format="xlsx")   # queued records -> PARS upload files (≤ 5,000 each)
    read_results(path) + apply_results(session, ...)    # PARS's rejection workbook -> Rejected records
    mark_rest_submitted(session, file_id)               # the file's other records -> Submitted

Preparing claims the queued records (their outbox rows) and writes the file in one transaction: the
file is first written under a temporary name, the claim is committed, and only then is the file given
its real name. A crash leaves either the records still queued (and at most a `.partial` file that is
never uploaded) or the records claimed by a complete file; a record is never in two upload files. A
sync running at the same time cannot send a claimed record (its outbox row is gone) and a record the
sync has in flight is not claimed.

PARS's rejection workbook lists only the records that failed (with an error code and description);
the rest of the file passed PARS's validation. A rejected Add becomes Rejected with PARS's code and
message, exactly as the sync does with a web-service answer; a rejected Delete leaves the record as
it was before, with the reason. Whether a dropped workbook is PARS's answer (a status update) or one
the coordinator has corrected (a new batch to queue) is decided by content: every row repeating
exactly what was uploaded means PARS's answer.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload

from app.pars import catalog
from app.pars.batch import MAX_RECORDS, BatchFile
from app.pars.domain import Completion, RecordAction, Status
from app.pars.matching import fingerprint
from app.pars.validation import needs_board_processing
from app.models.schema import (
    ActivityRow,
    CompletionRow,
    OutboxRow,
    ParsFileLine,
    ParsFileRow,
    StatusEvent,
    utcnow,
)
from app.services.records import completion_to_domain, provider_id, set_status

ROUTE_WEB_SERVICES = "web-services"
ROUTE_UPLOAD_FILES = "upload-files"
ROUTES = {ROUTE_WEB_SERVICES: "Web services (sync)", ROUTE_UPLOAD_FILES: "Upload files on the PARS website"}
FORMATS = ("xlsx", "xml")
SOURCE = "upload file"  # StatusEvent.source for the route's own steps
_CLAIM_ATTEMPTS = 5
_MAX_MESSAGE = 1000
# Characters refused in text that comes from a file: controls, bidi overrides, zero-width characters.
_UNSAFE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

R = TypeVar("R")
Run = Callable[..., Any]  # runs use_case(session, *args) in one committed transaction (ctx.write / store)


class UploadRouteError(Exception):
    """The upload file cannot be prepared or the results cannot be taken in; str() is for the user."""


class _ClaimConflict(Exception):
    """Someone else (a sync, another ParsDesk) took some of the rows meanwhile: try again."""


@dataclass(frozen=True, slots=True)
class PreparedFile:
    file_id: int
    name: str
    path: Path
    records: int
    adds: int
    deletes: int


@dataclass(slots=True)
class PrepareReport:
    files: list[PreparedFile] = field(default_factory=list)
    # queued records that cannot be one row of the Excel template (several boards, > 2 credit types)
    need_xml: int = 0
    # queued records of activities PARS has not registered yet (no ACCME activity ID)
    unregistered: int = 0

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    def summary(self) -> str:
        if not self.files:
            text = "Nothing to upload: no queued records."
        else:
            names = ", ".join(f.name for f in self.files)
            text = (f"{self.records} record{'s' if self.records != 1 else ''} in {len(self.files)} upload "
                    f"file{'s' if len(self.files) != 1 else ''}: {names}. Upload "
                    f"{'it' if len(self.files) == 1 else 'them'} on the PARS website (Learners > Batch Upload).")
        if self.need_xml:
            text += (f" {self.need_xml} record{'s' if self.need_xml != 1 else ''} with several boards or more than "
                     "two credit types stay queued: an Excel row holds one board; prepare them as XML.")
        if self.unregistered:
            text += (f" {self.unregistered} record{'s' if self.unregistered != 1 else ''} stay queued until "
                     "their activity has an ACCME activity ID.")
        return text


@dataclass(slots=True)
class _Pending:
    file_id: int
    temp_path: Path
    final_path: Path
    records: int
    adds: int
    deletes: int


# --------------------------------------------------------------------------------------------- prepare


_Claim = tuple[OutboxRow, CompletionRow, Completion]


def _claimable(session: Session, file_format: str) -> tuple[list[_Claim], int, int]:
    """Up to MAX_RECORDS outbox rows that can go in a file now, oldest first, with their records as they
    go in the file (a delete repeats what was sent); also how many must wait for the XML format and for
    their activity's registration."""
    from app.pars.excel import fits_one_row

    pairs = session.execute(
        select(OutboxRow, CompletionRow)
        .join(CompletionRow, CompletionRow.id == OutboxRow.completion_id)
        .where(OutboxRow.in_flight.is_(False))
        .order_by(OutboxRow.id)
        .options(selectinload(CompletionRow.activity), selectinload(CompletionRow.boards),
                 selectinload(CompletionRow.rems))
    ).all()
    taken: list[_Claim] = []  # strong references: the session's identity map holds weak ones
    need_xml = unregistered = 0
    seen: set[int] = set()
    for outbox, row in pairs:
        if row.id in seen:
            continue
        if row.activity.accme_id is None:
            unregistered += 1
            continue
        completion = completion_to_domain(row, action=RecordAction(outbox.action))
        if file_format == "xlsx" and not fits_one_row(completion):
            need_xml += 1
            continue
        if len(taken) < MAX_RECORDS:
            seen.add(row.id)
            taken.append((outbox, row, completion))
    return taken, need_xml, unregistered


def _file_name(session: Session, out_dir: Path, file_format: str, now: datetime) -> str:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    for number in range(1, 10_000):
        name = f"pars-upload-{stamp}-{number:02d}.{file_format}"
        exists = session.scalar(select(func.count()).select_from(ParsFileRow).where(ParsFileRow.file_name == name))
        if not exists and not (out_dir / name).exists():
            return name
    raise UploadRouteError(f"{out_dir}: too many upload files named pars-upload-{stamp}-*")


def claim_next_file(
    session: Session, out_dir: Path, file_format: str, environment: str, now: datetime, actor: str | None
) -> tuple[_Pending | None, int, int]:
    """In the caller's transaction: claim the next ≤ 5,000 queued records and write them to a temporary
    file beside the final one. Commit, then `publish` it; on any error, `discard` it."""
    if file_format not in FORMATS:
        raise UploadRouteError(f"unknown upload file format {file_format!r}; use xlsx or xml")
    taken, need_xml, unregistered = _claimable(session, file_format)
    if not taken:
        return None, need_xml, unregistered
    name = _file_name(session, out_dir, file_format, now)
    outbox_rows = [outbox for outbox, _, _ in taken]
    records = [row for _, row, _ in taken]
    actions = [RecordAction(outbox.action) for outbox in outbox_rows]
    completions = [completion for _, _, completion in taken]

    handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=out_dir)  # owner-only
    os.close(handle)
    temp_path = Path(temp_name)
    try:
        values = _write_file(temp_path, file_format, completions, session, now)
        # The claim: exactly these rows, none of them taken by a sync or another ParsDesk meanwhile.
        ids = [outbox.id for outbox in outbox_rows]
        deleted = session.execute(
            delete(OutboxRow).where(OutboxRow.id.in_(ids), OutboxRow.in_flight.is_(False))
            .execution_options(synchronize_session=False)
        ).rowcount
        if deleted != len(ids):
            raise _ClaimConflict()
        pars_file = ParsFileRow(file_name=name, file_format=file_format, environment=environment,
                                records=len(records), at=now.replace(tzinfo=None))
        session.add(pars_file)
        session.flush()
        first_row = 3 if file_format == "xlsx" else 1
        lines, events, changes = [], [], []
        stamp = utcnow()
        for index, (row, action, cells) in enumerate(zip(records, actions, values)):
            number = first_row + index
            lines.append(dict(file_id=pars_file.id, row_number=number, completion_id=row.id,
                              action=action.value, credit_id=row.credit_id, values=cells, outcome=None))
            status = Status.UPLOADED if action is RecordAction.ADD else Status.DELETE_UPLOADED
            where = f"row {number}" if file_format == "xlsx" else f"record {number}"
            verb = "Delete" if action is RecordAction.DELETE else "Add"
            message = f"{verb} in upload file {name}, {where}"
            # what records.set_status writes, in three statements for thousands of records
            events.append(dict(completion_id=row.id, at=stamp, status=status.value, source=SOURCE, actor=actor,
                               code=None, message=message))
            changes.append(dict(row_id=row.id, status=status.value, message=message))
        session.execute(insert(ParsFileLine), lines)
        session.execute(insert(StatusEvent), events)
        session.connection().execute(
            update(CompletionRow.__table__).where(CompletionRow.__table__.c.id == bindparam("row_id"))
            .values(status=bindparam("status"), status_code=None, status_message=bindparam("message"),
                    status_source=SOURCE, updated_at=stamp),
            changes,
        )
        for row in records:  # the session's copies are stale now
            session.expire(row)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    adds = sum(1 for action in actions if action is RecordAction.ADD)
    pending = _Pending(pars_file.id, temp_path, out_dir / name, len(records), adds, len(records) - adds)
    return pending, need_xml, unregistered


def _write_file(path: Path, file_format: str, completions: list[Completion], session: Session,
                now: datetime) -> list[list[str]]:
    from app.pars.excel import completion_to_values, write_upload_workbook
    from app.pars.files import private_output
    from app.pars.xml_codec import render_document

    if file_format == "xlsx":
        return write_upload_workbook(path, completions)
    titles = dict(session.execute(select(ActivityRow.accme_id, ActivityRow.title)
                                  .where(ActivityRow.accme_id.is_not(None))).all())
    document = render_document(completions, provider_id(session), now, titles=titles)
    with private_output(path) as handle:  # owner-only: the file holds learners' identities
        handle.write(document)
    return [completion_to_values(completion) for completion in completions]


def publish(pending: _Pending) -> PreparedFile:
    """After the claim is committed: give the file its real name (atomic on one file system)."""
    os.replace(pending.temp_path, pending.final_path)
    return PreparedFile(pending.file_id, pending.final_path.name, pending.final_path, pending.records,
                        pending.adds, pending.deletes)


def discard(pending: _Pending | None) -> None:
    if pending is not None:
        pending.temp_path.unlink(missing_ok=True)


def prepare_upload(
    run: Run, out_dir: Path | str, *, file_format: str = "xlsx", environment: str = "local",
    actor: str | None = None, now: datetime | None = None,
) -> PrepareReport:
    """Gather every queued record into PARS upload files in `out_dir` (at most 5,000 records each).

    `run(use_case, *args)` runs `use_case(session, *args)` in one transaction and commits it (the GUI's
    ctx.write, or a Store transaction for the command line)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise UploadRouteError(f"{out_dir} is not a folder")
    now = now or datetime.now(timezone.utc)
    report = PrepareReport()
    conflicts = 0
    while True:
        pending = None
        try:
            pending, report.need_xml, report.unregistered = run(
                claim_next_file, out_dir, file_format, environment, now, actor
            )
        except (_ClaimConflict, OperationalError):  # a row taken meanwhile, or the store busy with a writer
            conflicts += 1
            if conflicts >= _CLAIM_ATTEMPTS:
                raise UploadRouteError("Records kept changing while the upload file was prepared (is a sync "
                                       "running?); nothing was claimed. Try again.") from None
            continue
        except OSError as exc:
            raise UploadRouteError(f"Cannot write the upload file in {out_dir}: {exc.strerror or exc}") from None
        except BaseException:
            discard(pending)
            raise
        if pending is None:
            return report
        report.files.append(publish(pending))


def waiting_for_upload(session: Session) -> int:
    """Queued records (adds and deletes) that the next "Prepare upload for PARS" would consider."""
    return session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.in_flight.is_(False))) or 0


# -------------------------------------------------------------------------------------------- results


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", _UNSAFE.sub("", text)).strip()
    return text[:_MAX_MESSAGE]


def _code(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d{3})(?:\.0+)?\s*", text)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class RowMatch:
    row: int  # sheet row of the workbook
    line_id: int | None  # the uploaded line it names, if any
    unchanged: bool  # the row repeats exactly what was uploaded
    code: int | None
    message: str


@dataclass(slots=True)
class ResultsCheck:
    """What a dropped workbook is. kind: "results" (PARS's answer, unchanged: a status update),
    "corrected" (rows of an uploaded file, edited: a new batch to queue), "batch" (anything else)."""

    kind: str
    matches: list[RowMatch]
    file_names: list[str]

    def describe(self) -> str:
        files = ", ".join(self.file_names) or "no upload file"
        if self.kind == "results":
            return (f"PARS's rejection workbook for {files}, unchanged: {len(self.matches)} rejected "
                    f"record{'s' if len(self.matches) != 1 else ''} will be marked Rejected with PARS's codes.")
        if self.kind == "corrected":
            changed = sum(1 for m in self.matches if not m.unchanged)
            return (f"A corrected rejection workbook for {files}: {changed} row{'s' if changed != 1 else ''} "
                    "changed since upload. It is taken in as a new batch; the corrected rows are resubmissions.")
        return "A learner batch file."


def _line_completion(line: ParsFileLine) -> Completion:
    from app.pars.excel import HEADERS, row_to_completion

    cells = {header: ("" if value is None else str(value)) for header, value in zip(HEADERS, line.values or [])}
    return row_to_completion(cells)


def check_results(session: Session, batch: BatchFile, errors: dict[int, tuple[str, str]]) -> ResultsCheck:
    """Match a workbook's rows to uploaded lines (by Credit ID, else by content) and say what it is."""
    if batch.format != "xlsx" or not errors:
        return ResultsCheck("batch", [], [])
    lines = session.scalars(
        select(ParsFileLine).where(ParsFileLine.outcome.is_(None) | (ParsFileLine.outcome == "rejected"))
        .order_by(ParsFileLine.id.desc())
    ).all()
    by_credit: dict[str, ParsFileLine] = {}
    for line in lines:
        by_credit.setdefault(line.credit_id, line)
    # Content keys of the lines are computed only when a row has no Credit ID to go by (PARS dropped
    # ParsDesk's extension column): the history of uploaded lines can be long.
    by_content: dict[tuple[object, ...], list[ParsFileLine]] | None = None
    keys: dict[int, tuple[object, ...]] = {}

    def line_key(line: ParsFileLine) -> tuple[object, ...]:
        if line.id not in keys:
            keys[line.id] = (fingerprint(_line_completion(line)), line.action)
        return keys[line.id]

    matches: list[RowMatch] = []
    used: set[int] = set()
    for record in batch.records:
        completion = record.completion
        action = completion.action.value if isinstance(completion.action, RecordAction) else str(completion.action)
        key = (fingerprint(completion), action)
        code_text, message = errors.get(record.row, ("", ""))
        line = by_credit.get((completion.credit_id or "").strip())
        if line is None:
            if by_content is None:
                by_content = {}
                for candidate in lines:
                    by_content.setdefault(line_key(candidate), []).append(candidate)
            line = next((c for c in by_content.get(key, ()) if c.id not in used), None)
        unchanged = line is not None and key == line_key(line)
        if line is not None:
            used.add(line.id)
        matches.append(RowMatch(record.row, line.id if line else None, unchanged, _code(code_text), _clean(message)))
    matched = [m for m in matches if m.line_id is not None]
    if not matched:
        return ResultsCheck("batch", matches, [])
    file_ids = {session.get(ParsFileLine, m.line_id).file_id for m in matched}  # type: ignore[union-attr]
    names = sorted(session.get(ParsFileRow, file_id).file_name for file_id in file_ids)  # type: ignore[union-attr]
    kind = "results" if len(matched) == len(matches) and all(m.unchanged for m in matches) else "corrected"
    return ResultsCheck(kind, matches, names)


@dataclass(frozen=True, slots=True)
class ResultsApplied:
    rejected: int  # records newly marked Rejected (adds) or back to their status (refused deletes)
    already: int  # rows already taken in before (the same workbook dropped again)
    file_names: list[str]
    record_ids: list[int]

    def summary(self) -> str:
        files = ", ".join(self.file_names)
        text = f"PARS's results for {files}: {self.rejected} record{'s' if self.rejected != 1 else ''} rejected"
        if self.already:
            text += f" ({self.already} already taken in earlier)"
        return text + ". Mark the file's other records Submitted once every rejection is in."


def _status_before_delete(session: Session, completion_id: int) -> str:
    rows = session.scalars(
        select(StatusEvent.status)
        .where(StatusEvent.completion_id == completion_id,
               StatusEvent.status.in_((Status.ACCEPTED.value, Status.REJECTED.value, Status.SUBMITTED.value)))
        .order_by(StatusEvent.id)
    ).all()
    return rows[-1] if rows else Status.ACCEPTED.value


def apply_results(
    session: Session, check: ResultsCheck, *, results_file: str, actor: str | None = None
) -> ResultsApplied:
    """Mark the rejected records as the sync would (code, message, history): a rejected Add becomes
    Rejected, a refused Delete returns the record to its status before the delete, with the reason."""
    rejected = already = 0
    changed: list[int] = []
    files: set[int] = set()
    for match in check.matches:
        if match.line_id is None:
            continue
        line = session.get(ParsFileLine, match.line_id)
        if line is None:
            continue
        files.add(line.file_id)
        if line.outcome == "rejected":
            already += 1
            continue
        row = session.get(CompletionRow, line.completion_id)
        if row is None:
            continue
        code = match.code
        message = match.message or (catalog.describe(code) if code is not None else "Rejected by PARS (no reason given)")
        if line.action == RecordAction.ADD.value:
            if row.status not in (Status.UPLOADED.value, Status.SUBMITTED.value):
                already += 1
                line.outcome = "rejected"
                continue
            set_status(session, row, Status.REJECTED, source="PARS", actor=actor, code=code, message=message)
        else:
            if row.status not in (Status.DELETE_UPLOADED.value, Status.DELETE_SUBMITTED.value):
                already += 1
                line.outcome = "rejected"
                continue
            previous = _status_before_delete(session, row.id)
            set_status(session, row, previous, source="PARS", actor=actor, code=code,
                       message=f"Delete refused by PARS: {message}")
        line.outcome = "rejected"
        rejected += 1
        changed.append(row.id)
    now = utcnow()
    names = []
    for file_id in sorted(files):
        pars_file = session.get(ParsFileRow, file_id)
        if pars_file is not None:
            pars_file.results_file = _clean(results_file)[:500]
            pars_file.results_at = now
            names.append(pars_file.file_name)
    return ResultsApplied(rejected, already, names, changed)


def take_in_results(session: Session, path: Path | str, *, actor: str | None = None) -> tuple[ResultsCheck, ResultsApplied | None]:
    """Read a dropped workbook; when it is PARS's unchanged answer, apply it. When it is a corrected
    one, apply the rejections it still tells (rows naming an uploaded record by Credit ID) and leave the
    batch to the ordinary import. Returns what it was and what was applied."""
    from app.pars.excel import read_error_columns, read_workbook

    path = Path(path)
    # the error columns first: a learner file has none, and is then a batch whose records the import
    # reads (every Batch Upload drop comes through here: its rows are not read twice)
    errors = read_error_columns(path)
    if not errors:
        return ResultsCheck("batch", [], []), None
    batch = read_workbook(path)
    check = check_results(session, batch, errors)
    if check.kind == "batch":
        return check, None
    applied = apply_results(session, check, results_file=path.name, actor=actor)
    return check, applied


def take_in_results_in_store(
    store: Any, path: Path | str, *, actor: str | None = None
) -> tuple[ResultsCheck, ResultsApplied | None]:
    """take_in_results in its own transaction (worker threads, which own their store connection)."""
    with store.transaction() as session:
        return take_in_results(session, path, actor=actor)


@dataclass(frozen=True, slots=True)
class ParsFileView:
    file_id: int
    at: datetime
    file_name: str
    file_format: str
    environment: str
    records: int
    rejected: int
    submitted: int
    waiting: int  # no result yet
    results_file: str | None


def upload_files(session: Session) -> list[ParsFileView]:
    """Every upload file prepared, newest first, with what PARS made of its records so far."""
    counts: dict[int, dict[str | None, int]] = {}
    for file_id, outcome, number in session.execute(
        select(ParsFileLine.file_id, ParsFileLine.outcome, func.count()).group_by(ParsFileLine.file_id, ParsFileLine.outcome)
    ):
        counts.setdefault(file_id, {})[outcome] = number
    views = []
    for row in session.scalars(select(ParsFileRow).order_by(ParsFileRow.at.desc(), ParsFileRow.id.desc())):
        c = counts.get(row.id, {})
        views.append(ParsFileView(row.id, row.at, row.file_name, row.file_format, row.environment, row.records,
                                  c.get("rejected", 0), c.get("submitted", 0), c.get(None, 0), row.results_file))
    return views


def mark_rest_submitted(session: Session, file_id: int, *, actor: str | None = None) -> int:
    """The file's records PARS did not reject passed its validation: an Add becomes Submitted when a
    board processes it (the board answers later, on the PARS website) and Accepted otherwise; a Delete
    becomes Delete Submitted or Deleted likewise. Returns how many records changed."""
    pars_file = session.get(ParsFileRow, file_id)
    if pars_file is None:
        raise UploadRouteError(f"There is no upload file {file_id}.")
    changed = 0
    for line in session.scalars(select(ParsFileLine).where(ParsFileLine.file_id == file_id,
                                                           ParsFileLine.outcome.is_(None))):
        row = session.get(CompletionRow, line.completion_id)
        line.outcome = "submitted"
        if row is None:
            continue
        wanted = Status.UPLOADED if line.action == RecordAction.ADD.value else Status.DELETE_UPLOADED
        if row.status != wanted.value:
            continue
        with_board = needs_board_processing(completion_to_domain(row))
        if wanted is Status.UPLOADED:
            status = Status.SUBMITTED if with_board else Status.ACCEPTED
        else:
            status = Status.DELETE_SUBMITTED if with_board else Status.DELETED
        set_status(session, row, status, source="PARS", actor=actor,
                   message=f"Not rejected in PARS's results for upload file {pars_file.file_name}")
        changed += 1
    return changed


def file_ids_named(session: Session, names: Sequence[str]) -> list[int]:
    return list(session.scalars(select(ParsFileRow.id).where(ParsFileRow.file_name.in_(list(names)))))


def file_record_ids(session: Session, file_id: int) -> list[int]:
    return list(session.scalars(select(ParsFileLine.completion_id).where(ParsFileLine.file_id == file_id)))


def store_runner(store: Any) -> Run:
    """`run` for prepare_upload over a Store (command line): one committed transaction per call."""

    def run(use_case: Callable[..., R], *args: Any) -> R:
        with store.transaction() as session:
            return use_case(session, *args)

    return run


__all__: Sequence[str] = (
    "ROUTES", "ROUTE_UPLOAD_FILES", "ROUTE_WEB_SERVICES", "PrepareReport", "PreparedFile", "ResultsCheck",
    "UploadRouteError", "apply_results", "check_results", "mark_rest_submitted", "prepare_upload",
    "take_in_results", "upload_files", "waiting_for_upload",
)
