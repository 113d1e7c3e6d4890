"""The attention list: what a coordinator must act on before a PARS deadline passes.

Each rule of `resources/pars/deadlines.toml` (judged by `app.pars.deadlines`) becomes one SQL condition
over the learner records, so the list is a handful of COUNT queries over indexed columns, not a pass
over every record in Python: it stays quick with 100,000+ records. The same conditions filter Learner
Search when an item is clicked (`record_condition`), mark activities in the Activities table
(`activity_markers`) and feed `parsdesk status`, so all of them agree on the same store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from app.models.schema import (
    ActivityBoardRow,
    ActivityRow,
    CompletionBoardRow,
    CompletionRemsRow,
    CompletionRow,
    OutboxRow,
)
from app.pars import clock, deadlines
from app.pars.deadlines import DeadlineRule, FollowUpRule
from app.pars.domain import Status

LEVEL_OVERDUE = "overdue"
LEVEL_DUE = "due"
LEVEL_FOLLOW_UP = "follow-up"
_LEVEL_ORDER = {LEVEL_OVERDUE: 0, LEVEL_DUE: 1, LEVEL_FOLLOW_UP: 2}


@dataclass(frozen=True, slots=True)
class AttentionItem:
    rule: str  # the rule's name in deadlines.toml
    kind: str
    title: str
    action: str  # what to do
    count: int  # records concerned (overdue + due soon; for follow-ups: waiting)
    overdue: int  # of them, past the deadline
    deadline: date | None  # the most urgent deadline among them (None for follow-ups)
    oldest: date | None = None  # follow-ups: the oldest record waiting, since
    activity_level: bool = False
    credit_ids: tuple[str, ...] = ()  # filled when asked (parsdesk status)
    activity_ids: tuple[str, ...] = ()  # activity-level items: ACCME IDs (or "row <id>" if unregistered)

    @property
    def level(self) -> str:
        if self.overdue:
            return LEVEL_OVERDUE
        return LEVEL_DUE if self.deadline is not None else LEVEL_FOLLOW_UP

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "title": self.title,
            "level": self.level,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "count": self.count,
            "overdue": self.overdue,
            "action": self.action,
        }
        if self.oldest is not None:
            data["oldest"] = self.oldest.isoformat()
        if self.activity_level:
            data["activityIDs"] = list(self.activity_ids)
        data["creditIDs"] = list(self.credit_ids)
        return data


@dataclass(frozen=True, slots=True)
class AttentionSummary:
    items: tuple[AttentionItem, ...]
    as_of: date
    overdue_records: int = 0  # distinct records past at least one deadline
    due_records: int = 0  # distinct records due soon (and not overdue)
    by_activity: dict[int, tuple[int, int]] = field(default_factory=dict)  # row id -> (overdue, due)

    @property
    def most_urgent(self) -> AttentionItem | None:
        return self.items[0] if self.items else None


# --- conditions --------------------------------------------------------------------------------------

_UNREPORTED = (Status.DRAFT.value, Status.QUEUED.value)
_GONE = (Status.DELETED.value, Status.DELETE_QUEUED.value, Status.DELETE_SUBMITTED.value)


def _not_replaced() -> ColumnElement[bool]:
    replacement = aliased(CompletionRow)
    return ~select(replacement.id).where(replacement.replaces_id == CompletionRow.id).correlate(CompletionRow).exists()


def _unreported() -> ColumnElement[bool]:
    """PARS does not have it: Draft, Queued, or Rejected with no corrected resubmission yet."""
    return or_(
        CompletionRow.status.in_(_UNREPORTED),
        and_(CompletionRow.status == Status.REJECTED.value, _not_replaced()),
    )


def _has_board(boards: tuple[str, ...] | None = None) -> ColumnElement[bool]:
    query = (select(CompletionBoardRow.id).where(CompletionBoardRow.completion_id == CompletionRow.id)
             .correlate(CompletionRow))
    if boards is not None:
        query = query.where(CompletionBoardRow.board.in_(boards))
    return query.exists()


def _reports_cme_or_rems() -> ColumnElement[bool]:
    rems = (select(CompletionRemsRow.id).where(CompletionRemsRow.completion_id == CompletionRow.id)
            .correlate(CompletionRow).exists())
    return or_(CompletionRow.report_cme.is_(True), rems, ~_has_board())


def _completed_by(last: date) -> ColumnElement[bool]:
    return CompletionRow.completion_date <= last


def _cutoff_condition(cutoffs: list[tuple[Any, tuple[str, ...]]], day: date) -> ColumnElement[bool]:
    """Records governed by any program whose year-based cut-off falls on or before `day`."""
    terms = []
    for cutoff, programs in cutoffs:
        last = deadlines.latest_completion_for_cutoff(cutoff, day)
        boards = tuple(p for p in programs if p != "CME")
        governed = []
        if "CME" in programs:
            governed.append(_reports_cme_or_rems())
        if boards:
            governed.append(_has_board(boards))
        terms.append(and_(_completed_by(last), or_(*governed)))
    return or_(*terms) if terms else false()


def _claim_condition(day: date) -> ColumnElement[bool]:
    """MOC parts whose activity's claim date for that board is on or before `day`: the (few)
    registrations past the date are an uncorrelated subquery, computed once, not a join per record."""
    past = select(ActivityBoardRow.activity_id, ActivityBoardRow.board).where(ActivityBoardRow.credit_claim_date <= day)
    return (
        select(CompletionBoardRow.id)
        .where(CompletionBoardRow.completion_id == CompletionRow.id,
               tuple_(CompletionRow.activity_id, CompletionBoardRow.board).in_(past))
        .correlate(CompletionRow)
        .exists()
    )


def _open_years_start(as_of: date) -> date:
    """The first completion date PARS still accepts (CME's report cut-off; boards default to it)."""
    from app.pars import catalog

    closed = deadlines.latest_completion_for_cutoff(catalog.cme_rules().report_deadline, as_of - timedelta(days=1))
    return closed + timedelta(days=1)


def _deadline_conditions(rule: DeadlineRule, as_of: date) -> tuple[ColumnElement[bool], ColumnElement[bool]] | None:
    """(records overdue or due soon, records overdue) for a deadline rule; None when it is dormant."""
    horizon = as_of + timedelta(days=rule.notice_days)
    yesterday = as_of - timedelta(days=1)
    moc = _has_board() if rule.programs == "moc" else None
    base = [_unreported()] if rule.kind != deadlines.DELETE_DEADLINE else [
        CompletionRow.status == Status.DELETE_QUEUED.value]
    if moc is not None:
        base.append(moc)
    if rule.kind in (deadlines.DAYS_AFTER_COMPLETION, deadlines.COMPLETION_YEAR):
        near = _completed_by(deadlines.latest_completion_due_by(rule, horizon))
        past = _completed_by(deadlines.latest_completion_due_by(rule, yesterday))
    elif rule.kind in (deadlines.REPORT_DEADLINE, deadlines.DELETE_DEADLINE):
        cutoffs = deadlines.report_cutoffs() if rule.kind == deadlines.REPORT_DEADLINE else deadlines.delete_cutoffs()
        near, past = _cutoff_condition(cutoffs, horizon), _cutoff_condition(cutoffs, yesterday)
    elif rule.kind == deadlines.CREDIT_CLAIM_DATE:
        near, past = _claim_condition(horizon), _claim_condition(yesterday)
    elif rule.kind == deadlines.BOARD_ACTIVITY_START and rule.board and rule.on:
        early = CompletionRow.activity_id.in_(select(ActivityRow.id).where(ActivityRow.start_date < rule.on))
        near = past = and_(_has_board((rule.board,)), early)
    elif rule.kind == deadlines.BOARD_SELF_REPORTING_END and rule.board and rule.on:
        if as_of < rule.on - timedelta(days=rule.notice_days):
            return None
        diplomates = (
            select(CompletionRow.learner_id)
            .join(CompletionBoardRow, CompletionBoardRow.completion_id == CompletionRow.id)
            .where(CompletionBoardRow.board == rule.board, CompletionBoardRow.board_id.is_not(None),
                   CompletionBoardRow.board_id != "")
        )
        registered = select(ActivityBoardRow.activity_id).where(ActivityBoardRow.board == rule.board)
        still_open = or_(CompletionRow.status.in_((Status.SUBMITTED.value, Status.ACCEPTED.value)), _unreported())
        near = and_(
            still_open,
            CompletionRow.learner_id.in_(diplomates.scalar_subquery()),
            CompletionRow.activity_id.in_(registered.scalar_subquery()),
            ~_has_board((rule.board,)),
            CompletionRow.completion_date >= _open_years_start(as_of),
        )
        past = and_(near, false()) if as_of <= rule.on else near
        return near, past
    else:
        return None
    return and_(*base, near), and_(*base, past)


def _follow_up_condition(rule: FollowUpRule, as_of: date) -> ColumnElement[bool]:
    if rule.kind == deadlines.REJECTED_WAITING:
        return and_(CompletionRow.status == Status.REJECTED.value, _not_replaced())
    if rule.kind == deadlines.DRAFTS_WITHOUT_PERMISSION:
        return and_(CompletionRow.status == Status.DRAFT.value, CompletionRow.permission_given.is_(False))
    if rule.kind == deadlines.SUBMITTED_WITHOUT_ANSWER:
        before = datetime.combine(as_of - timedelta(days=rule.days), time.min)
        return and_(CompletionRow.status.in_((Status.SUBMITTED.value, Status.DELETE_SUBMITTED.value)),
                    CompletionRow.updated_at < before)
    if rule.kind == deadlines.SYNC_FAILING:
        failing = select(OutboxRow.completion_id).where(OutboxRow.attempts >= rule.attempts,
                                                        OutboxRow.last_error.is_not(None))
        return CompletionRow.id.in_(failing.scalar_subquery())
    return false()


def record_condition(rule_name: str, as_of: date | None = None) -> ColumnElement[bool]:
    """The records an attention item concerns, as a WHERE term over CompletionRow (Learner Search
    filters with it when an item is clicked). An unknown or dormant rule matches nothing."""
    as_of = as_of or clock.today()
    rule = deadlines.rules().rule(rule_name)
    if isinstance(rule, DeadlineRule):
        conditions = _deadline_conditions(rule, as_of)
        return conditions[0] if conditions is not None else false()
    if isinstance(rule, FollowUpRule):
        return _follow_up_condition(rule, as_of)
    return false()


# --- the list ---------------------------------------------------------------------------------------

def attention_list(session: Session, as_of: date | None = None, *, with_ids: bool = False) -> list[AttentionItem]:
    """Every rule with records concerned, most urgent first (overdue, then due soon by deadline, then
    follow-ups). `with_ids` adds the creditIDs (and activity IDs) for reports."""
    as_of = as_of or clock.today()
    items: list[AttentionItem] = []
    for rule in deadlines.rules().deadlines:
        item = _deadline_item(session, rule, as_of, with_ids)
        if item is not None:
            items.append(item)
    for follow_up in deadlines.rules().follow_ups:
        item = _follow_up_item(session, follow_up, as_of, with_ids)
        if item is not None:
            items.append(item)
    items.sort(key=lambda i: (_LEVEL_ORDER[i.level], i.deadline or date.max, -i.count))
    return items


def _deadline_item(session: Session, rule: DeadlineRule, as_of: date, with_ids: bool) -> AttentionItem | None:
    conditions = _deadline_conditions(rule, as_of)
    if conditions is None:
        return None
    near, past = conditions
    is_past = case((past, 1), else_=0)
    count, overdue, first_past, first_near = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(is_past), 0),
            func.min(case((past, CompletionRow.completion_date))),
            func.min(case((past, None), else_=CompletionRow.completion_date)),
        ).where(near)
    ).one()
    if not count:
        return None
    deadline = _item_deadline(session, rule, near, past, first_past if overdue else first_near, as_of)
    credit_ids: tuple[str, ...] = ()
    activity_ids: tuple[str, ...] = ()
    if with_ids:
        credit_ids = tuple(session.scalars(select(CompletionRow.credit_id).where(near).order_by(CompletionRow.id)))
    if rule.activity_level:
        activity_ids = tuple(dict.fromkeys(a for a, _claim in _claims_with_records(session, rule, near, as_of)))
    return AttentionItem(rule.name, rule.kind, rule.title, rule.action, int(count), int(overdue), deadline,
                         activity_level=rule.activity_level, credit_ids=credit_ids, activity_ids=activity_ids)


def _item_deadline(session: Session, rule: DeadlineRule, near: ColumnElement[bool], past: ColumnElement[bool],
                   first_completed: date | None, as_of: date) -> date | None:
    """The deadline of the most urgent records: the earliest passed one when some are overdue, else the
    next one to come."""
    if rule.kind == deadlines.CREDIT_CLAIM_DATE:
        claims = [claim for _activity, claim in _claims_with_records(session, rule, near, as_of)]
        passed = [claim for claim in claims if claim < as_of]
        return min(passed or claims) if claims else None
    if rule.kind in (deadlines.BOARD_ACTIVITY_START, deadlines.BOARD_SELF_REPORTING_END):
        return rule.on
    if first_completed is None:
        return None
    if rule.kind in (deadlines.DAYS_AFTER_COMPLETION, deadlines.COMPLETION_YEAR):
        if rule.kind == deadlines.DAYS_AFTER_COMPLETION:
            return deadlines.days_deadline(rule, first_completed)
        return deadlines.year_deadline(rule.cutoff, first_completed)  # type: ignore[arg-type]
    cutoffs = deadlines.report_cutoffs() if rule.kind == deadlines.REPORT_DEADLINE else deadlines.delete_cutoffs()
    return min(deadlines.year_deadline(cutoff, first_completed) for cutoff, _ in cutoffs)


def _claims_with_records(session: Session, rule: DeadlineRule, near: ColumnElement[bool], as_of: date
                         ) -> list[tuple[str, date]]:
    """(activity ID, claim date) of each activity-board registration whose claim date is near or past
    and that has records concerned: the small activity_board table drives, one EXISTS per row."""
    records = (
        select(CompletionRow.id)
        .join(CompletionBoardRow, CompletionBoardRow.completion_id == CompletionRow.id)
        .where(CompletionRow.activity_id == ActivityBoardRow.activity_id,
               CompletionBoardRow.board == ActivityBoardRow.board, near)
        .correlate(ActivityBoardRow)
    )
    rows = session.execute(
        select(ActivityRow.id, ActivityRow.accme_id, ActivityBoardRow.credit_claim_date)
        .join(ActivityRow, ActivityRow.id == ActivityBoardRow.activity_id)
        .where(ActivityBoardRow.credit_claim_date <= as_of + timedelta(days=rule.notice_days), records.exists())
        .order_by(ActivityBoardRow.credit_claim_date, ActivityRow.id)
    ).all()
    return [(accme_id or f"row {row_id}", claim) for row_id, accme_id, claim in rows]


def _follow_up_item(session: Session, rule: FollowUpRule, as_of: date, with_ids: bool) -> AttentionItem | None:
    condition = _follow_up_condition(rule, as_of)
    since = CompletionRow.created_at if rule.kind == deadlines.DRAFTS_WITHOUT_PERMISSION else CompletionRow.updated_at
    count, oldest = session.execute(select(func.count(), func.min(since)).where(condition)).one()
    if not count:
        return None
    credit_ids: tuple[str, ...] = ()
    if with_ids:
        credit_ids = tuple(session.scalars(select(CompletionRow.credit_id).where(condition).order_by(CompletionRow.id)))
    oldest_day = oldest.date() if isinstance(oldest, datetime) else oldest
    return AttentionItem(rule.name, rule.kind, rule.title, rule.action, int(count), 0, None, oldest=oldest_day,
                         credit_ids=credit_ids)


def activity_markers(session: Session, as_of: date | None = None) -> dict[int, tuple[int, int]]:
    """activity row id -> (records overdue, records due soon and not overdue) over every deadline rule;
    one grouped query, each record counted once."""
    as_of = as_of or clock.today()
    near_terms, past_terms = [], []
    for rule in deadlines.rules().deadlines:
        conditions = _deadline_conditions(rule, as_of)
        if conditions is not None:
            near_terms.append(conditions[0])
            past_terms.append(conditions[1])
    if not near_terms:
        return {}
    is_past = case((or_(*past_terms), 1), else_=0)
    rows = session.execute(
        select(CompletionRow.activity_id, func.count(), func.coalesce(func.sum(is_past), 0))
        .where(or_(*near_terms))
        .group_by(CompletionRow.activity_id)
    ).all()
    return {activity_id: (int(overdue), int(count) - int(overdue)) for activity_id, count, overdue in rows}


def attention_summary(session: Session, as_of: date | None = None) -> AttentionSummary:
    """The list plus the per-activity markers and the distinct overdue / due counts (the window's
    strip, markers and status bar in one read)."""
    as_of = as_of or clock.today()
    items = attention_list(session, as_of)
    markers = activity_markers(session, as_of)
    overdue = sum(o for o, _ in markers.values())
    due = sum(d for _, d in markers.values())
    return AttentionSummary(tuple(items), as_of, overdue, due, markers)
