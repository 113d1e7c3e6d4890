"""Learner records as the Learner Summary and Learner Search tabs see them, and the user's actions on them.

Reads return frozen plain values (`LearnerRecordView`, `HistoryEntry`) so widgets never hold ORM
objects. Lists are built with a few Core queries: one for the page of records (filtered and sorted by
SQLite over its indexes) and one for the boards of just that page, so paging through 100,000 records
stays quick. Writes (add, edit a Draft, resubmit a Rejected record, delete) validate with
`app.pars.validation` and store through `app.services.records`, so each change leaves a StatusEvent.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Float, Select, and_, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.models.search_keys import id_key, name_key, name_words, prefix_bounds
from app.models.store import ConcurrentChangeError
from app.models.schema import (
    ActivityRow,
    CompletionBoardRow,
    CompletionRemsRow,
    CompletionRow,
    LearnerRow,
    OutboxRow,
    StatusEvent,
    utcnow,
)
from app.pars.domain import (
    Activity,
    Completion,
    History,
    Issue,
    Learner,
    RecordAction,
    Status,
    new_credit_id,
)
from app.pars.values import format_amount, parse_amount
from app.services import records
from app.services.activities import activity_to_domain

# --- plain values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardPoints:
    board: str
    board_id: str | None
    points: Decimal
    credit_types: tuple[tuple[str, Decimal], ...]  # (credit type, amount)


@dataclass(frozen=True, slots=True)
class LearnerRecordView:
    """One learner record (one creditID) as the tables, tooltips and exports show it."""

    completion_id: int
    credit_id: str
    activity_row_id: int
    activity_accme_id: str | None
    activity_title: str
    first_name: str
    last_name: str
    birth_date: str | None  # MM/DD: shown in the dialog only, never in tables or logs
    licensing_state: str | None
    license_id: str | None
    completion_date: date
    cme_credits: Decimal | None  # None when the record does not report CME
    boards: tuple[BoardPoints, ...]
    status: str
    status_code: int | None
    status_message: str | None
    status_source: str | None
    permission_given: bool
    updated_at: datetime
    replaces_id: int | None = None
    replaced_by_id: int | None = None  # a corrected resubmission of this record, if any
    changed_by: str | None = None  # who made the latest step of its history (coordinator, sync, import)

    @property
    def learner_name(self) -> str:
        return f"{self.last_name}, {self.first_name}" if self.first_name else self.last_name

    @property
    def board_ids(self) -> str:
        return "; ".join(f"{b.board} {b.board_id}" for b in self.boards if b.board_id)

    @property
    def board_points(self) -> str:
        """'ABIM 8 · ABS 2.5' — each board's total points."""
        return " · ".join(f"{b.board} {format_amount(b.points)}" for b in self.boards)

    @property
    def credit_type_details(self) -> str:
        """'ABIM: Medical Knowledge 8, Patient Safety 4' per board, for tooltips and exports."""
        return "; ".join(
            f"{b.board}: " + ", ".join(f"{name} {format_amount(amount)}" for name, amount in b.credit_types)
            for b in self.boards
            if b.credit_types
        )

    @property
    def is_rejected(self) -> bool:
        return self.status == Status.REJECTED.value


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    status: str
    source: str
    actor: str | None
    code: int | None
    message: str | None
    credit_id: str  # the attempt this step belongs to (a resubmission has its own creditID)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What Learner Search filters on; empty fields do not filter."""

    name: str = ""  # words matched against the start of first or last name
    learner_id: str = ""  # license number, NPI or certifying-board ID
    activity: str = ""  # ACCME activity ID (or its start) or words of the title
    activity_row_id: int | None = None  # exactly this activity (Learner Summary)
    board: str = ""  # board code, e.g. "ABIM"
    status: str = ""  # a Status value
    date_from: date | None = None
    date_to: date | None = None
    include_deleted: bool = True
    ids: tuple[int, ...] | None = None  # only these records (a view re-checking changed rows)
    attention: str = ""  # only the records of this attention-list rule (deadlines.toml), as of today


# Bounds of a search: a name is a few words, an ID or a title fragment a few dozen characters. Beyond
# them a filter is refused with a message before any SQL is built (1,200 words would otherwise make
# an expression tree SQLite refuses, and 50,000 bytes a query nobody meant).
MAX_FILTER_CHARS = 200
MAX_NAME_WORDS = 12


class FilterError(ValueError):
    """A search filter that cannot be run as given; str() is one sentence for the user."""


def filter_problem(filters: SearchFilters) -> str | None:
    """Why these filters cannot be run (too long, an unknown board, dates the wrong way round), or None."""
    from app.pars import catalog

    for label, text in (("name", filters.name), ("ID", filters.learner_id), ("activity", filters.activity)):
        if len(text) > MAX_FILTER_CHARS:
            return f"The {label} filter is too long ({len(text):,} characters; at most {MAX_FILTER_CHARS})."
    words = len(name_words(filters.name))
    if words > MAX_NAME_WORDS:
        return f"The name filter has {words:,} words; search with at most {MAX_NAME_WORDS}."
    board = filters.board.strip()
    if board and catalog.board_code(board) is None:
        return f"Unknown board {board[:20]!r}; use one of: {', '.join(catalog.board_codes())}."
    if filters.date_from is not None and filters.date_to is not None and filters.date_from > filters.date_to:
        return (f"The completion date range is reversed: {filters.date_from:%m/%d/%Y} (from) is after "
                f"{filters.date_to:%m/%d/%Y} (to).")
    return None


class SortKey:
    """Columns the lists can be sorted by (SQL-side)."""

    NAME = "name"
    LICENSE = "license"
    DATE = "date"
    CME = "cme"
    STATUS = "status"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What saving a learner record did: the issues that stopped it, or the stored record."""

    issues: tuple[Issue, ...] = ()
    completion_id: int | None = None
    credit_id: str | None = None
    status: str | None = None

    @property
    def saved(self) -> bool:
        return self.completion_id is not None


@dataclass(frozen=True, slots=True)
class LearnerMatch:
    """A stored learner a partial identity points to, with the board IDs seen for them."""

    learner: Learner
    board_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActivityOption:
    """An activity the entry form and the activity pickers offer."""

    row_id: int
    activity: Activity

    @property
    def label(self) -> str:
        accme = self.activity.activity_id or "not registered"
        return f"{self.activity.title} ({accme})"


# --- activities -----------------------------------------------------------------------------------


def activity_options(session: Session) -> list[ActivityOption]:
    """Every activity, newest start first, as plain values for pickers and the entry form."""
    rows = session.scalars(
        select(ActivityRow)
        .options(selectinload(ActivityRow.boards))
        .order_by(ActivityRow.start_date.desc(), ActivityRow.id.desc())
    ).all()
    return [ActivityOption(row.id, activity_to_domain(row)) for row in rows]


def activity_option(session: Session, activity_row_id: int) -> ActivityOption | None:
    row = session.get(ActivityRow, activity_row_id)
    return None if row is None else ActivityOption(row.id, activity_to_domain(row))


# --- reading records ------------------------------------------------------------------------------

_C = CompletionRow.__table__.c
_L = LearnerRow.__table__.c
_A = ActivityRow.__table__.c

_LIKE_ESCAPE = "\\"


def _like_prefix(text: str) -> str:
    escaped = re.sub(r"([\\%_])", r"\\\1", text)
    return f"{escaped}%"


def _like_contains(text: str) -> str:
    return "%" + _like_prefix(text)


def _conditions(filters: SearchFilters) -> list[ColumnElement[bool]]:
    """WHERE terms for the filters; each narrows through an indexed column or a small subquery.
    Raises FilterError for filters that cannot be run (see filter_problem)."""
    problem = filter_problem(filters)
    if problem:
        raise FilterError(problem)
    terms: list[ColumnElement[bool]] = []
    if filters.ids is not None:
        terms.append(CompletionRow.id.in_(filters.ids))
    if filters.activity_row_id is not None:
        terms.append(CompletionRow.activity_id == filters.activity_row_id)
    if filters.attention:
        from app.services.attention import record_condition

        terms.append(record_condition(filters.attention))
    if filters.status:
        terms.append(CompletionRow.status == filters.status)
    elif not filters.include_deleted:
        terms.append(CompletionRow.status != Status.DELETED.value)
    if filters.date_from is not None:
        terms.append(CompletionRow.completion_date >= filters.date_from)
    if filters.date_to is not None:
        terms.append(CompletionRow.completion_date <= filters.date_to)
    # each word typed is the start of the first or last name, folded as the stored keys are
    for word in name_words(filters.name):
        low, high = prefix_bounds(word)
        terms.append(
            or_(
                and_(CompletionRow.first_key >= low, CompletionRow.first_key < high),
                and_(CompletionRow.last_key >= low, CompletionRow.last_key < high),
            )
        )
    learner_id = id_key(filters.learner_id)
    if learner_id:
        terms.append(
            or_(
                CompletionRow.license_key == learner_id,
                CompletionRow.id.in_(
                    select(CompletionBoardRow.completion_id).where(CompletionBoardRow.board_id_key == learner_id)
                ),
            )
        )
    activity = filters.activity.strip()
    if activity:
        # a number may be the start of an ACCME ID or part of a title ("2026 Update"): either matches
        activity_match = ActivityRow.title.ilike(_like_contains(activity), escape=_LIKE_ESCAPE)
        if activity.isdigit():
            activity_match = or_(activity_match, ActivityRow.accme_id.like(_like_prefix(activity), escape=_LIKE_ESCAPE))
        terms.append(CompletionRow.activity_id.in_(select(ActivityRow.id).where(activity_match)))
    board = _filter_board(filters.board)
    if board:
        # EXISTS per candidate row (index on completion_id) beats building the set of every record
        # of a common board when other filters have already narrowed the candidates
        terms.append(
            select(CompletionBoardRow.id)
            .where(CompletionBoardRow.completion_id == CompletionRow.id, CompletionBoardRow.board == board)
            .exists()
        )
    return terms


def _filter_board(text: str) -> str:
    from app.pars import catalog

    return catalog.board_code(text.strip()) or "" if text.strip() else ""


def _ordering(sort: str, descending: bool) -> list[ColumnElement]:
    columns: dict[str, list] = {
        SortKey.NAME: [CompletionRow.last_name, CompletionRow.first_name],
        SortKey.LICENSE: [CompletionRow.license_id],
        SortKey.DATE: [CompletionRow.completion_date],
        SortKey.CME: [cast(CompletionRow.cme_credits, Float)],  # stored as exact text; sort by value
        SortKey.STATUS: [CompletionRow.status],
        SortKey.UPDATED: [CompletionRow.updated_at],
    }
    chosen = columns.get(sort, columns[SortKey.DATE]) + [CompletionRow.id]
    return [c.desc() if descending else c.asc() for c in chosen]


def _page_query(filters: SearchFilters) -> Select:
    query = (
        select(
            CompletionRow.id,
            CompletionRow.credit_id,
            CompletionRow.activity_id,
            ActivityRow.accme_id,
            ActivityRow.title,
            CompletionRow.first_name,
            CompletionRow.last_name,
            CompletionRow.birth_date,
            CompletionRow.licensing_state,
            CompletionRow.license_id,
            CompletionRow.completion_date,
            CompletionRow.report_cme,
            CompletionRow.cme_credits,
            CompletionRow.status,
            CompletionRow.status_code,
            CompletionRow.status_message,
            CompletionRow.status_source,
            CompletionRow.permission_given,
            CompletionRow.updated_at,
            CompletionRow.replaces_id,
        )
        .join(ActivityRow, ActivityRow.id == CompletionRow.activity_id)
    )
    terms = _conditions(filters)
    return query.where(*terms) if terms else query


def _credit_type_amounts(credit_types: dict[str, str] | None, parsed: dict[tuple, tuple]) -> tuple[tuple[str, Decimal], ...]:
    """A board's {credit type: amount text} as ((type, amount), ...); boards mostly repeat a few
    combinations, so each distinct one is parsed once per batch of views (`parsed`)."""
    if not credit_types:
        return ()
    key = tuple(credit_types.items())
    found = parsed.get(key)
    if found is None:
        found = parsed[key] = tuple((name, Decimal(amount)) for name, amount in key)
    return found


def _views(session: Session, rows: Sequence) -> list[LearnerRecordView]:
    """Views for fetched rows (the columns of _page_query, in its order), with their boards and
    resubmissions loaded for just these ids. Rows are unpacked by position: an export builds a
    million of these, and looking columns up by name costs more than the rest of a view."""
    ids = [row[0] for row in rows]
    boards: dict[int, list[BoardPoints]] = {}
    replaced_by: dict[int, int] = {}
    changed_by: dict[int, str] = {}
    parsed: dict[tuple, tuple] = {}
    if ids:
        for chunk_start in range(0, len(ids), 900):  # stay below SQLite's bound-parameter limit
            chunk = ids[chunk_start : chunk_start + 900]
            board_rows = session.execute(
                select(
                    CompletionBoardRow.completion_id,
                    CompletionBoardRow.board,
                    CompletionBoardRow.board_id,
                    CompletionBoardRow.points,
                    CompletionBoardRow.credit_types,
                )
                .where(CompletionBoardRow.completion_id.in_(chunk))
                .order_by(CompletionBoardRow.id)
            )
            for completion_id, board, board_id, points, credit_types in board_rows:
                part = BoardPoints(board, board_id, points, _credit_type_amounts(credit_types, parsed))
                found = boards.get(completion_id)
                if found is None:
                    boards[completion_id] = [part]
                else:
                    found.append(part)
            for newer_id, older_id in session.execute(
                select(CompletionRow.id, CompletionRow.replaces_id).where(CompletionRow.replaces_id.in_(chunk))
            ):
                replaced_by[older_id] = newer_id
            latest = (
                select(func.max(StatusEvent.id)).where(StatusEvent.completion_id.in_(chunk))
                .group_by(StatusEvent.completion_id)
            )
            for completion_id, actor, source in session.execute(
                select(StatusEvent.completion_id, StatusEvent.actor, StatusEvent.source).where(StatusEvent.id.in_(latest))
            ):
                changed_by[completion_id] = actor or source
    views = []
    for (completion_id, credit_id, activity_id, accme_id, title, first_name, last_name, birth_date, licensing_state,
         license_id, completion_date, report_cme, cme_credits, status, status_code, status_message, status_source,
         permission_given, updated_at, replaces_id) in rows:
        views.append(LearnerRecordView(
            completion_id=completion_id,
            credit_id=credit_id,
            activity_row_id=activity_id,
            activity_accme_id=accme_id,
            activity_title=title,
            first_name=first_name or "",
            last_name=last_name or "",
            birth_date=birth_date,
            licensing_state=licensing_state,
            license_id=license_id,
            completion_date=completion_date,
            cme_credits=cme_credits if report_cme else None,
            boards=tuple(boards.get(completion_id, ())),
            status=status,
            status_code=status_code,
            status_message=status_message,
            status_source=status_source,
            permission_given=permission_given,
            updated_at=updated_at,
            replaces_id=replaces_id,
            replaced_by_id=replaced_by.get(completion_id),
            changed_by=changed_by.get(completion_id),
        ))
    return views


def search_records(
    session: Session,
    filters: SearchFilters = SearchFilters(),
    *,
    limit: int | None = 200,
    offset: int = 0,
    sort: str = SortKey.DATE,
    descending: bool = True,
) -> list[LearnerRecordView]:
    """One page of records matching the filters, sorted by `sort`."""
    if limit is None:
        query = _page_query(filters).order_by(*_ordering(sort, descending)).offset(offset)
        return _views(session, session.execute(query).all())
    # The page's ids first, then its rows: sorting only ids and sort keys lets a covering index
    # (status, name key, name) answer a filter by itself, where sorting whole rows would read
    # every matching record's row just to keep 200 of them.
    ids_query = select(CompletionRow.id).order_by(*_ordering(sort, descending)).offset(offset).limit(limit)
    terms = _conditions(filters)
    if terms:
        ids_query = ids_query.where(*terms)
    ids = list(session.scalars(ids_query))
    if not ids:
        return []
    position = {completion_id: n for n, completion_id in enumerate(ids)}
    return sorted(records_by_ids(session, ids), key=lambda view: position[view.completion_id])


def count_records(session: Session, filters: SearchFilters = SearchFilters()) -> int:
    query = select(func.count(CompletionRow.id))
    terms = _conditions(filters)
    # the learner/activity joins are only needed when a filter names their columns
    if terms:
        query = query.where(*terms)
    return session.scalar(query) or 0


_STATUS_ORDER = [s.value for s in (
    Status.ACCEPTED, Status.SUBMITTED, Status.UPLOADED, Status.REJECTED, Status.QUEUED, Status.DRAFT,
    Status.DELETE_QUEUED, Status.DELETE_UPLOADED, Status.DELETE_SUBMITTED, Status.DELETED,
)]


def status_counts(session: Session, filters: SearchFilters = SearchFilters()) -> list[tuple[str, int]]:
    """(status, number) for the matching records: accepted first, then moving, then needing attention."""
    query = select(CompletionRow.status, func.count()).group_by(CompletionRow.status)
    terms = _conditions(filters)
    if terms:
        query = query.where(*terms)
    found = dict(session.execute(query).all())
    known = [(s, found.pop(s)) for s in _STATUS_ORDER if s in found]
    return known + sorted(found.items())


def records_for_activity(
    session: Session, activity_row_id: int, *, include_deleted: bool = False
) -> list[LearnerRecordView]:
    """All of an activity's records, by learner name."""
    return search_records(
        session,
        SearchFilters(activity_row_id=activity_row_id, include_deleted=include_deleted),
        limit=None,
        sort=SortKey.NAME,
        descending=False,
    )


def records_by_ids(session: Session, ids: Iterable[int]) -> list[LearnerRecordView]:
    """The records with these ids (any order; missing ids are left out)."""
    wanted = list(dict.fromkeys(ids))
    found: list[LearnerRecordView] = []
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        rows = session.execute(_page_query(SearchFilters()).where(CompletionRow.id.in_(chunk))).all()
        found.extend(_views(session, rows))
    return found


def record_by_id(session: Session, completion_id: int) -> LearnerRecordView | None:
    found = records_by_ids(session, [completion_id])
    return found[0] if found else None


def completion_for_edit(session: Session, completion_id: int) -> Completion | None:
    """The full record (REMS and credit types included) for the entry dialog's edit/resubmit modes."""
    row = session.get(CompletionRow, completion_id)
    return None if row is None else records.completion_to_domain(row)


def status_history(session: Session, completion_id: int) -> list[HistoryEntry]:
    """Every step of the record, including the attempts it replaced and the one that replaced it."""
    chain = _attempt_chain(session, completion_id)
    rows = session.execute(
        select(StatusEvent, CompletionRow.credit_id)
        .join(CompletionRow, CompletionRow.id == StatusEvent.completion_id)
        .where(StatusEvent.completion_id.in_(chain))
        .order_by(StatusEvent.at, StatusEvent.id)
    ).all()
    return [
        HistoryEntry(
            at=event.at,
            status=event.status,
            source=event.source,
            actor=event.actor,
            code=event.code,
            message=event.message,
            credit_id=credit_id,
        )
        for event, credit_id in rows
    ]


def _attempt_chain(session: Session, completion_id: int) -> list[int]:
    """The ids of all attempts linked to this one by resubmission, oldest first."""
    chain = [completion_id]
    current: int | None = completion_id
    while current is not None:  # walk back to the first attempt
        current = session.scalar(select(CompletionRow.replaces_id).where(CompletionRow.id == current))
        if current is not None and current not in chain:
            chain.insert(0, current)
        else:
            break
    current = completion_id
    while True:  # and forward to the newest
        newer = session.scalar(select(CompletionRow.id).where(CompletionRow.replaces_id == current).limit(1))
        if newer is None or newer in chain:
            break
        chain.append(newer)
        current = newer
    return chain


# --- validation against what is already stored ----------------------------------------------------


def _history_for(session: Session, completion: Completion, activity_row_id: int, exclude_id: int | None) -> History:
    """The earlier records this record must agree with (603, 710, 711, 717), read narrowly.

    The point limits and the one-completion-per-day rule concern the same learner in the same
    activity, so only that activity's records of a learner with the same name or license, or with
    one of the record's board IDs, are read: a handful of rows however large the store grows (the
    entry form re-checks on every keystroke)."""
    from app.pars import validation

    learner = completion.learner
    # candidates by the folded keys each earlier record holds (its snapshot): a superset of what
    # validation then compares, found through indexes
    who: list[ColumnElement[bool]] = [
        and_(CompletionRow.first_key == name_key(learner.first_name), CompletionRow.last_key == name_key(learner.last_name))
    ]
    license_id = id_key(learner.license_id)
    if license_id:
        who.append(CompletionRow.license_key == license_id)
    board_ids = sorted({id_key(b.board_id) for b in completion.boards} - {""})
    if board_ids:
        who.append(
            CompletionRow.id.in_(
                select(CompletionBoardRow.completion_id).where(CompletionBoardRow.board_id_key.in_(board_ids))
            )
        )
    rows = session.scalars(
        select(CompletionRow)
        .options(
            selectinload(CompletionRow.boards),
            selectinload(CompletionRow.activity),
            selectinload(CompletionRow.rems),
        )
        # "+ 0": without planner statistics SQLite would otherwise walk every record of the activity
        # (a fifth of a large store) instead of the few the name, license and board-ID indexes find
        .where((CompletionRow.activity_id + 0) == activity_row_id, or_(*who))
    ).all()
    history = History()
    for row in rows:
        if row.id == exclude_id:
            continue
        # as in services.history: a Draft still counts (it will be sent), a rejection or delete does not
        counts = row.status not in (Status.REJECTED.value, Status.DELETED.value)
        history.add_prior(validation.prior_from_completion(records.completion_to_domain(row), counts=counts))
    credit_id = (completion.credit_id or "").strip()
    if credit_id:
        taken = session.scalar(
            select(CompletionRow.id).where(CompletionRow.credit_id == credit_id, CompletionRow.id != (exclude_id or -1))
        )
        if taken is not None:
            history.used_credit_ids.add(credit_id)
    return history


def check_record(
    session: Session,
    completion: Completion,
    activity_row_id: int,
    as_of: date,
    *,
    exclude_id: int | None = None,
) -> list[Issue]:
    """PARS's verdict on the record before it is stored (the entry form's live validation uses it).

    A record typed in the form has no creditID yet; it is judged as it will be sent, with a fresh one."""
    from app.pars import validation

    activity = session.get(ActivityRow, activity_row_id)
    if activity is None:
        raise ValueError(f"no activity with row id {activity_row_id}")
    completion = dataclasses.replace(
        completion,
        action=completion.action or RecordAction.ADD,
        activity_id=activity.accme_id,
        credit_id=completion.credit_id or new_credit_id(records.provider_id(session)),
    )
    history = _history_for(session, completion, activity_row_id, exclude_id)
    return list(validation.validate(completion, activity_to_domain(activity), history, as_of))


def save_new_record(
    session: Session, completion: Completion, activity_row_id: int, actor: str | None, as_of: date
) -> SaveResult:
    """Validate and store a record typed in the entry form: Queued with permission, else Draft."""
    activity = session.get(ActivityRow, activity_row_id)
    if activity is None:
        raise ValueError(f"no activity with row id {activity_row_id}")
    completion.action = RecordAction.ADD
    completion.activity_id = activity.accme_id
    completion.credit_id = completion.credit_id or new_credit_id(records.provider_id(session))
    issues = check_record(session, completion, activity_row_id, as_of)
    if issues:
        return SaveResult(issues=tuple(issues))
    row = records.store_completion(session, completion, activity, source="user", actor=actor, as_of=as_of)
    return SaveResult(completion_id=row.id, credit_id=row.credit_id, status=row.status)


def update_draft(
    session: Session, draft_id: int, completion: Completion, actor: str | None, as_of: date,
    *, expected_version: int | None = None,
) -> SaveResult:
    """Change a Draft (never sent, so it may be edited in place); queue it once permission is given.
    With `expected_version`, a record changed since the form read it raises ConcurrentChangeError."""
    row = session.get(CompletionRow, draft_id)
    if row is None:
        raise ValueError(f"no learner record with id {draft_id}")
    changed_elsewhere(session, row, expected_version)
    if row.status != Status.DRAFT.value:
        raise ValueError(f"only Draft records can be edited; this one is {row.status}")
    completion.action = RecordAction.ADD
    completion.activity_id = row.activity.accme_id
    completion.credit_id = row.credit_id
    issues = check_record(session, completion, row.activity_id, as_of, exclude_id=row.id)
    if issues:
        return SaveResult(issues=tuple(issues))
    board_ids = {b.board: b.board_id for b in completion.boards if b.board_id}
    row.learner = records.find_or_create_learner(session, completion.learner, board_ids)
    for column, value in records.snapshot_columns(completion.learner).items():
        setattr(row, column, value)
    assert isinstance(completion.completion_date, date)
    row.completion_date = completion.completion_date
    row.report_cme = completion.cme is not None
    row.cme_credits = parse_amount(completion.cme.credits) if completion.cme else None
    row.boards = [CompletionBoardRow(**records.board_columns(part)) for part in completion.boards]
    if completion.rems is not None:
        if row.rems is None:
            row.rems = CompletionRemsRow(**records.rems_columns(completion.rems))
        else:
            for column, value in records.rems_columns(completion.rems).items():
                setattr(row.rems, column, value)
    else:
        row.rems = None
    row.updated_at = utcnow()
    session.flush()
    if completion.permission:
        records.queue_draft(session, row, actor=actor, as_of=as_of)
    else:
        records.set_status(
            session,
            row,
            Status.DRAFT,
            source="user",
            actor=actor,
            message="Edited; kept locally: the learner's permission to report is not recorded",
        )
    return SaveResult(completion_id=row.id, credit_id=row.credit_id, status=row.status)


def resubmission_refusal(session: Session, rejected_id: int) -> str | None:
    """Why this record cannot be resubmitted, or None if it can."""
    row = session.get(CompletionRow, rejected_id)
    if row is None:
        return f"There is no learner record with id {rejected_id}."
    if row.status != Status.REJECTED.value:
        return f"Only Rejected records can be resubmitted; this one is {row.status}."
    newer = session.scalar(select(CompletionRow.credit_id).where(CompletionRow.replaces_id == row.id).limit(1))
    if newer is not None:
        return f"It was already resubmitted as {newer}."
    return None


def resubmit(
    session: Session, rejected_id: int, corrected: Completion, actor: str | None, as_of: date,
    *, expected_version: int | None = None,
) -> SaveResult:
    """Queue a corrected copy of a Rejected record under a NEW creditID (PARS never reuses one),
    linked to the rejected attempt, whose history notes the resubmission. Two coordinators
    resubmitting the same record at once: the second gets ConcurrentChangeError (version check)."""
    current = session.get(CompletionRow, rejected_id)
    if current is not None:
        changed_elsewhere(session, current, expected_version)
    refusal = resubmission_refusal(session, rejected_id)
    if refusal is not None:
        raise ValueError(refusal)
    old = session.get(CompletionRow, rejected_id)
    assert old is not None
    corrected.action = RecordAction.ADD
    corrected.activity_id = old.activity.accme_id
    corrected.credit_id = new_credit_id(records.provider_id(session))  # PARS never reuses one
    issues = check_record(session, corrected, old.activity_id, as_of, exclude_id=old.id)
    if issues:
        return SaveResult(issues=tuple(issues))
    # The rejected attempt keeps its status and the board's message; its history gains this step.
    session.add(
        StatusEvent(
            completion=old,
            status=old.status,
            source="user",
            actor=actor,
            message=f"Resubmitted as {corrected.credit_id}",
        )
    )
    old.updated_at = utcnow()
    session.flush()  # the step is recorded before the new attempt's first one
    new = records.store_completion(
        session, corrected, old.activity, source="user", actor=actor, replaces=old, as_of=as_of
    )
    return SaveResult(completion_id=new.id, credit_id=new.credit_id, status=new.status)


@dataclass(frozen=True, slots=True)
class ResubmitOutcome:
    """What 'Resubmit as is' did with one record: the new attempt's creditID, or why not."""

    completion_id: int  # the rejected record
    learner_name: str
    new_id: int | None = None
    new_credit_id: str | None = None
    reason: str | None = None  # not resubmitted: not Rejected, resubmitted already, or PARS's rules

    @property
    def resubmitted(self) -> bool:
        return self.new_id is not None


def resubmit_unchanged(
    session: Session, ids: Iterable[int], actor: str | None, as_of: date
) -> list[ResubmitOutcome]:
    """'Resubmit as is': queue each Rejected record again with the same data under a new creditID,
    linked to it (for board codes that clear with time, such as 661 before the board knows the
    learner). Records that are not Rejected, were resubmitted already, or no longer pass PARS's
    rules are left alone with the reason. One outcome per record, in the order asked."""
    outcomes: list[ResubmitOutcome] = []
    for completion_id in dict.fromkeys(ids):
        view = record_by_id(session, completion_id)
        if view is None:
            outcomes.append(ResubmitOutcome(completion_id, "", reason="It no longer exists."))
            continue
        refusal = resubmission_refusal(session, completion_id)
        if refusal is not None:
            outcomes.append(ResubmitOutcome(completion_id, view.learner_name, reason=refusal))
            continue
        same = completion_for_edit(session, completion_id)
        assert same is not None
        result = resubmit(session, completion_id, same, actor, as_of)
        if result.saved:
            outcomes.append(ResubmitOutcome(completion_id, view.learner_name, result.completion_id, result.credit_id))
        else:
            reason = "; ".join(f"{i.code} {i.field}: {i.message}" for i in result.issues)
            outcomes.append(ResubmitOutcome(completion_id, view.learner_name, reason=reason))
    return outcomes


def delete_records(session: Session, ids: Iterable[int], actor: str | None) -> list[tuple[int, str]]:
    """Delete (or queue PARS deletes for) these records; returns (id, reason) for those refused,
    in the order asked. Many ticked records go through the bulk path (one query per 500 records)."""
    wanted = list(dict.fromkeys(ids))
    rows: dict[int, CompletionRow] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows.update((row.id, row) for row in session.scalars(select(CompletionRow).where(CompletionRow.id.in_(chunk))))
    reasons = records.request_deletes(session, [rows[i] for i in wanted if i in rows], source="user", actor=actor)
    refused: list[tuple[int, str]] = []
    for completion_id in wanted:
        if completion_id not in rows:
            refused.append((completion_id, "It no longer exists."))
        elif completion_id in reasons:
            refused.append((completion_id, reasons[completion_id]))
    return refused


def pending_outbox_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """Which of these records have work waiting in the outbox."""
    wanted = list(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(OutboxRow.completion_id).where(OutboxRow.completion_id.in_(wanted))))


# --- combined use cases (one unit of work each, for the widgets) ---------------------------------


def record_with_history(session: Session, completion_id: int) -> tuple[LearnerRecordView | None, list[HistoryEntry]]:
    """A record and its full history read together (the details dialog); (None, []) if it is gone."""
    record = record_by_id(session, completion_id)
    return record, (status_history(session, completion_id) if record is not None else [])


def record_for_opening(session: Session, completion_id: int) -> tuple[LearnerRecordView | None, str | None]:
    """A record and, when it is Rejected, why it cannot be resubmitted (None if it can)."""
    record = record_by_id(session, completion_id)
    refusal = resubmission_refusal(session, completion_id) if record and record.is_rejected else None
    return record, refusal


def delete_records_explained(
    session: Session, ids: Iterable[int], actor: str | None
) -> list[tuple[LearnerRecordView | None, int, str]]:
    """`delete_records`, with each refused record as it looked before (None if it no longer exists),
    so the refusal can name the learner: [(view, id, reason), ...] in the order asked."""
    wanted = list(ids)
    before = {view.completion_id: view for view in records_by_ids(session, wanted)}
    return [(before.get(cid), cid, reason) for cid, reason in delete_records(session, wanted, actor)]


def first_page(
    session: Session, filters: SearchFilters, *, limit: int, sort: str, descending: bool
) -> tuple[int, list[LearnerRecordView]]:
    """How many records match and the first page of them, read together (a table's reload)."""
    total = count_records(session, filters)
    return total, search_records(session, filters, limit=limit, offset=0, sort=sort, descending=descending)


@dataclass(frozen=True, slots=True)
class RefreshedRecords:
    """Fresh views of changed records that (still) match a table's filters, by id, and the new
    match count when it was asked for."""

    views: dict[int, LearnerRecordView]
    total: int | None = None


def refresh_records(
    session: Session, filters: SearchFilters, ids: Sequence[int], *, shown: Container[int], recount: bool
) -> RefreshedRecords:
    """Re-read these records under `filters` (one query per 500 ids, well within SQLite's limits),
    plus any record `shown` in the table that one of them replaces (a resubmission changes how its
    rejected original is shown); recount the matches when `recount`."""
    fresh: dict[int, LearnerRecordView] = {}
    for start in range(0, len(ids), 500):
        chunk = dataclasses.replace(filters, ids=tuple(ids[start : start + 500]))
        fresh.update((v.completion_id, v) for v in search_records(session, chunk, limit=None))
    replaced = [v.replaces_id for v in fresh.values() if v.replaces_id in shown]
    for view in records_by_ids(session, replaced):
        fresh.setdefault(view.completion_id, view)
    return RefreshedRecords(fresh, count_records(session, filters) if recount else None)


@dataclass(frozen=True, slots=True)
class EntryFormData:
    """What the entry dialog loads when it opens: the activities to choose from and, when editing a
    Draft or resubmitting a Rejected record, that record (its view and its full contents)."""

    options: list[ActivityOption]
    record: LearnerRecordView | None = None
    completion: Completion | None = None
    version: int | None = None  # the record's version when the form was opened (see changed_elsewhere)


def entry_form_data(session: Session, record_id: int | None = None) -> EntryFormData:
    """Load the entry dialog; raises LookupError if the record to edit no longer exists."""
    options = activity_options(session)
    if record_id is None:
        return EntryFormData(options)
    record = record_by_id(session, record_id)
    completion = completion_for_edit(session, record_id)
    if record is None or completion is None:
        raise LookupError(f"learner record {record_id} no longer exists")
    version = session.scalar(select(CompletionRow.version).where(CompletionRow.id == record_id))
    return EntryFormData(options, record, completion, version)


def changed_elsewhere(session: Session, row: CompletionRow, expected_version: int | None) -> None:
    """Refuse to save over a record changed since the form read it (another coordinator, a sync)."""
    if expected_version is None or row.version == expected_version:
        return
    last = session.scalars(
        select(StatusEvent).where(StatusEvent.completion_id == row.id).order_by(StatusEvent.id.desc()).limit(1)
    ).first()
    who = f" by {last.actor}" if last is not None and last.actor else ""
    when = f" at {last.at:%H:%M}" if last is not None else ""
    raise ConcurrentChangeError(
        f"This record was changed{who}{when} while you were editing it, so your changes were not saved. "
        "The form now shows the newer values: check them and save again."
    )


def save_entry(
    session: Session,
    completion: Completion,
    activity_row_id: int,
    actor: str | None,
    as_of: date,
    *,
    edit_id: int | None = None,
    resubmit_id: int | None = None,
    expected_version: int | None = None,
) -> SaveResult:
    """Save what the entry dialog holds: a corrected resubmission, an edited Draft or a new record.
    `expected_version` is the record's version when the form opened it (ConcurrentChangeError if
    someone changed it since)."""
    if resubmit_id is not None:
        return resubmit(session, resubmit_id, completion, actor, as_of, expected_version=expected_version)
    if edit_id is not None:
        return update_draft(session, edit_id, completion, actor, as_of, expected_version=expected_version)
    return save_new_record(session, completion, activity_row_id, actor, as_of)


# --- offline learner match ------------------------------------------------------------------------


def local_learner_matches(session: Session, partial: Learner, *, limit: int = 10) -> list[LearnerMatch]:
    """Stored learners consistent with what was typed so far (license/NPI exact, else name + DOB).

    Used for the entry form's "Learner matched" pre-fill when PARS cannot be asked."""
    first = (partial.first_name or "").strip()
    last = (partial.last_name or "").strip()
    license_id = (partial.license_id or "").strip()
    query = select(LearnerRow)
    if license_id:
        query = query.where(LearnerRow.license_key == id_key(license_id))
        if last:
            query = query.where(LearnerRow.last_key == name_key(last))
    elif last and first:
        query = query.where(LearnerRow.last_key == name_key(last), LearnerRow.first_key == name_key(first))
        if partial.birth_date:
            query = query.where(LearnerRow.birth_date == partial.birth_date)
    else:
        return []
    if partial.licensing_state:
        query = query.where(
            or_(LearnerRow.licensing_state.is_(None), LearnerRow.licensing_state == partial.licensing_state)
        )
    rows = session.scalars(query.order_by(LearnerRow.id).limit(limit)).all()
    return [LearnerMatch(records.learner_to_domain(row), dict(row.board_ids or {})) for row in rows]


__all__ = [
    "ActivityOption",
    "BoardPoints",
    "EntryFormData",
    "RefreshedRecords",
    "HistoryEntry",
    "LearnerMatch",
    "LearnerRecordView",
    "SaveResult",
    "SearchFilters",
    "SortKey",
    "activity_option",
    "activity_options",
    "check_record",
    "completion_for_edit",
    "count_records",
    "delete_records",
    "delete_records_explained",
    "entry_form_data",
    "first_page",
    "iter_records",
    "local_learner_matches",
    "record_by_id",
    "record_for_opening",
    "record_with_history",
    "records_by_ids",
    "records_for_activity",
    "refresh_records",
    "ResubmitOutcome",
    "resubmission_refusal",
    "resubmit",
    "resubmit_unchanged",
    "save_entry",
    "save_new_record",
    "search_records",
    "status_counts",
    "status_history",
    "update_draft",
]


def iter_records(
    session: Session,
    filters: SearchFilters = SearchFilters(),
    *,
    sort: str = SortKey.DATE,
    descending: bool = True,
    page_size: int = 2000,
) -> Iterable[LearnerRecordView]:
    """All matching records from one streamed, sorted query, `page_size` rows at a time (exports of any
    size without holding them all; OFFSET paging would re-sort the whole join for every page)."""
    query = _page_query(filters).order_by(*_ordering(sort, descending)).execution_options(yield_per=page_size)
    for rows in session.execute(query).partitions():
        yield from _views(session, rows)
