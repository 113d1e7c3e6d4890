"""Activities in the store: conversion to domain values, saving one, importing many at once.

    with store.transaction() as session:
        result = import_activities(session, activities)   # all or nothing; upsert by ACCME ID

Functions never commit; the caller's unit of work does (an exception rolls the whole import back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.schema import ActivityBoardRow, ActivityRow
from app.pars.domain import Activity, BoardRegistration, Issue
from app.wording import plural


class ActivityImportError(ValueError):
    """The activities cannot be imported; nothing was written. str() names the activity and problem."""

    def __init__(self, message: str, issues: Sequence[tuple[str, Issue]] = ()) -> None:
        super().__init__(message)
        self.issues = list(issues)  # (activity ID, issue)


@dataclass(slots=True)
class ImportResult:
    created: list[str] = field(default_factory=list)  # ACCME activity IDs
    updated: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated)


def activity_to_domain(row: ActivityRow) -> Activity:
    return Activity(
        activity_id=row.accme_id,
        title=row.title,
        activity_type=row.activity_type,
        start_date=row.start_date,
        end_date=row.end_date,
        cme_credits=row.cme_credits,
        boards=tuple(
            BoardRegistration(
                board=board.board,
                max_points=board.max_points,
                credit_types=tuple(board.credit_types or ()),
                credit_claim_date=board.credit_claim_date,
            )
            for board in row.boards
        ),
        rems=row.rems,
        state_collaboration=row.state_collaboration,
    )


def save_activity(session: Session, activity: Activity, row: ActivityRow | None = None) -> ActivityRow:
    """Write an activity into `row` (or a new row); board registrations are matched by board code."""
    if row is None:
        row = ActivityRow()
        session.add(row)
    row.accme_id = activity.activity_id
    row.title = activity.title
    row.activity_type = activity.activity_type
    row.start_date = activity.start_date
    row.end_date = activity.end_date
    row.cme_credits = activity.cme_credits
    row.rems = activity.rems
    row.state_collaboration = activity.state_collaboration

    existing = {board.board.upper(): board for board in row.boards}
    kept: list[ActivityBoardRow] = []
    for registration in activity.boards:
        board_row = existing.pop(registration.board.upper(), None) or ActivityBoardRow(board=registration.board)
        board_row.board = registration.board
        board_row.max_points = registration.max_points
        board_row.credit_types = list(registration.credit_types)
        board_row.credit_claim_date = registration.credit_claim_date
        kept.append(board_row)
    row.boards = kept  # registrations no longer listed are removed (delete-orphan)
    return row


def _activity_issues(activities: Sequence[Activity]) -> list[tuple[str, Issue]]:
    from app.pars.validation import validate_activity

    return [
        (activity.activity_id or activity.title, issue)
        for activity in activities
        for issue in validate_activity(activity)
    ]


def import_activities(session: Session, activities: Sequence[Activity]) -> ImportResult:
    """Insert or update (by ACCME activity ID) every activity; raises ActivityImportError before any write
    when one of them is invalid or listed twice."""
    ids = [activity.activity_id for activity in activities]
    if any(not activity_id for activity_id in ids):
        raise ActivityImportError("every imported activity needs its 9-digit ACCME activity ID")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ActivityImportError(f"activity {duplicates[0]} is listed more than once")
    issues = _activity_issues(activities)
    if issues:
        activity_id, issue = issues[0]
        more = f" (and {plural(len(issues) - 1, 'more problem')})" if len(issues) > 1 else ""
        raise ActivityImportError(f"activity {activity_id}: {issue.field}: {issue.message}{more}", issues)

    rows = {
        row.accme_id: row
        for row in session.scalars(
            select(ActivityRow).options(selectinload(ActivityRow.boards)).where(ActivityRow.accme_id.in_(ids))
        )
    }
    result = ImportResult()
    for activity in activities:
        row = rows.get(activity.activity_id)
        saved = save_activity(session, activity, row)
        saved.pars_outdated = False  # what was imported is what PARS holds (fetched, or registered earlier)
        (result.updated if row is not None else result.created).append(activity.activity_id or "")
    session.flush()
    return result


def export_activities(session: Session) -> list[Activity]:
    """Every registered activity (with an ACCME ID), ordered by ID."""
    rows = session.scalars(
        select(ActivityRow)
        .options(selectinload(ActivityRow.boards))
        .where(ActivityRow.accme_id.is_not(None))
        .order_by(ActivityRow.accme_id)
    ).all()
    return [activity_to_domain(row) for row in rows]


def unregistered_activity_titles(session: Session) -> list[str]:
    """Titles of the activities PARS has not given an ACCME ID yet (an export leaves them out)."""
    return list(
        session.scalars(select(ActivityRow.title).where(ActivityRow.accme_id.is_(None)).order_by(ActivityRow.id))
    )
