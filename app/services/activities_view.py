"""What the Activities tab lists: each activity with its boards and learner counts by status.

One query for the activities (boards loaded alongside) and ONE grouped query for the counts, so the
list stays quick with many activities and many thousands of learner records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models.schema import ActivityRow, CompletionRow
from app.pars.domain import Activity


@dataclass(frozen=True, slots=True)
class ActivityOverview:
    row_id: int
    accme_id: str | None  # None until PARS registered the activity
    title: str
    activity_type: str
    start_date: date
    end_date: date
    cme_credits: Decimal | None
    boards: tuple[tuple[str, Decimal], ...]  # (board code, max points), by board code
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of learner records
    registration_error: str | None = None
    pars_outdated: bool = False  # edited here since PARS last saw it

    @property
    def learner_total(self) -> int:
        return sum(self.counts.values())


def learner_counts(session: Session, activity_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """activity row id -> {status: count}, from one GROUP BY over the (activity_id, status) index."""
    query = select(CompletionRow.activity_id, CompletionRow.status, func.count()).group_by(
        CompletionRow.activity_id, CompletionRow.status
    )
    if activity_ids is not None:
        query = query.where(CompletionRow.activity_id.in_(activity_ids))
    counts: dict[int, dict[str, int]] = {}
    for activity_id, status, number in session.execute(query):
        counts.setdefault(activity_id, {})[status] = number
    return counts


def activity_overview(
    session: Session, activity_ids: list[int] | None = None, *, with_counts: bool = True
) -> list[ActivityOverview]:
    """Every activity (or just `activity_ids`), newest start date first. Without `with_counts` the
    learner counts are left empty (the window reads them apart: they take a pass over every record)."""
    query = (
        select(ActivityRow)
        .options(selectinload(ActivityRow.boards))
        .order_by(ActivityRow.start_date.desc(), ActivityRow.id.desc())
    )
    if activity_ids is not None:
        query = query.where(ActivityRow.id.in_(activity_ids))
    rows = session.scalars(query).all()
    counts = learner_counts(session, activity_ids) if with_counts else {}
    return [
        ActivityOverview(
            row_id=row.id,
            accme_id=row.accme_id,
            title=row.title,
            activity_type=row.activity_type,
            start_date=row.start_date,
            end_date=row.end_date,
            cme_credits=row.cme_credits,
            boards=tuple((b.board, b.max_points) for b in row.boards),
            counts=dict(counts.get(row.id, {})),
            registration_error=row.registration_error,
            pars_outdated=row.pars_outdated,
        )
        for row in rows
    ]


def activity_row_id(session: Session, accme_id: str) -> int | None:
    """The stored row id of the activity PARS knows as `accme_id`, if it is stored."""
    return session.scalar(select(ActivityRow.id).where(ActivityRow.accme_id == accme_id))


def load_activity(session: Session, row_id: int) -> Activity:
    """The stored activity as a domain value (for the edit dialog)."""
    from app.services.activities import activity_to_domain

    row = session.get(ActivityRow, row_id)
    if row is None:
        raise LookupError(f"activity {row_id} is not in the store")
    return activity_to_domain(row)


def activity_version(session: Session, row_id: int) -> int | None:
    """The activity's edit version (see save_activity_by_id's expected_version)."""
    return session.scalar(select(ActivityRow.version).where(ActivityRow.id == row_id))


def save_activity_by_id(
    session: Session, activity: Activity, row_id: int | None = None, *, expected_version: int | None = None
) -> int:
    """Create (row_id None) or update the stored activity; returns its row id. With `expected_version`
    (the version the edit form loaded), an activity someone changed since raises ConcurrentChangeError."""
    from app.models.store import ConcurrentChangeError
    from app.services.activities import activity_to_domain, save_activity

    row = None
    if row_id is not None:
        row = session.get(ActivityRow, row_id)
        if row is None:
            raise LookupError(f"activity {row_id} is not in the store")
        if expected_version is not None and row.version != expected_version:
            raise ConcurrentChangeError(
                "This activity was changed by another coordinator while you were editing it, so your changes "
                "were not saved. The form now shows the newer values: check them and save again."
            )
    changed_in_pars = row is not None and row.accme_id is not None and activity_to_domain(row) != activity
    saved = save_activity(session, activity, row)
    if changed_in_pars:
        saved.pars_outdated = True  # PARS has the old version: the next sync sends SaveActivity
    session.flush()
    return saved.id


def has_activities(session: Session) -> bool:
    return session.scalar(select(ActivityRow.id).limit(1)) is not None


# Records already reported or on their way: what an edited activity must still fit.
REPORTED_STATUSES = ("Queued", "Submitted", "Accepted")


@dataclass(frozen=True, slots=True)
class ActivityChangeImpact:
    """Reported records that fit the activity as stored but not as edited (dates, credits, boards)."""

    records: int = 0
    accepted: int = 0  # of them, records PARS has already accepted
    problems: tuple[tuple[int, int, str], ...] = ()  # (PARS code, records, an example message) by code


def activity_change_impact(session: Session, row_id: int, edited: Activity, as_of: date) -> ActivityChangeImpact:
    """Judge the activity's reported records against the stored and the edited activity with PARS's
    own rules (app.pars.validation) and count those the edit would break."""
    import dataclasses

    from app.pars.domain import History
    from app.pars.validation import validate
    from app.services.activities import activity_to_domain
    from app.services.records import completion_to_domain

    row = session.get(ActivityRow, row_id)
    if row is None:
        return ActivityChangeImpact()
    stored = activity_to_domain(row)
    edited = dataclasses.replace(edited, activity_id=stored.activity_id)
    if edited == stored:
        return ActivityChangeImpact()
    rows = session.scalars(
        select(CompletionRow)
        .where(CompletionRow.activity_id == row_id, CompletionRow.status.in_(REPORTED_STATUSES))
        .options(selectinload(CompletionRow.boards), selectinload(CompletionRow.rems),
                 selectinload(CompletionRow.learner))
    ).all()
    broken = accepted = 0
    by_code: dict[int, list] = {}
    for completion_row in rows:
        completion = completion_to_domain(completion_row)
        before = {(i.code, i.field) for i in validate(completion, stored, History(), as_of)}
        added = [i for i in validate(completion, edited, History(), as_of) if (i.code, i.field) not in before]
        if not added:
            continue
        broken += 1
        accepted += completion_row.status == "Accepted"
        for issue in {i.code: i for i in added}.values():
            entry = by_code.setdefault(issue.code or 0, [0, issue.message])
            entry[0] += 1
    problems = tuple((code, count, message) for code, (count, message) in sorted(by_code.items()))
    return ActivityChangeImpact(broken, accepted, problems)
