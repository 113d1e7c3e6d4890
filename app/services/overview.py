"""The 12-month reporting overview: records reported per month by outcome, and the rejection codes
that cost the most corrections. Two grouped queries (the store does the counting), plain values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import distinct, extract, func, select
from sqlalchemy.orm import Session, aliased

from app.models.schema import CompletionRow, StatusEvent
from app.pars import catalog, clock
from app.pars.domain import Status

OUTCOMES = ("Accepted", "Rejected", "Submitted", "Deleted")  # the bars' segments, bottom to top
_OUTCOME_OF = {
    Status.ACCEPTED.value: "Accepted",
    Status.REJECTED.value: "Rejected",
    Status.SUBMITTED.value: "Submitted",
    Status.DELETE_QUEUED.value: "Deleted",
    Status.DELETE_SUBMITTED.value: "Deleted",
    Status.DELETED.value: "Deleted",
}
MONTHS = 12
TOP_CODES = 8


@dataclass(frozen=True, slots=True)
class MonthBar:
    year: int
    month: int
    outcomes: dict[str, int]  # outcome -> records first sent to PARS that month

    @property
    def label(self) -> str:
        return date(self.year, self.month, 1).strftime("%b")

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class RejectionCost:
    code: int | None
    description: str
    rejected: int  # records rejected with this code in the period
    corrected: int  # of them, resubmitted as a corrected record


@dataclass(frozen=True, slots=True)
class ReportingOverview:
    as_of: date
    months: tuple[MonthBar, ...]
    rejections: tuple[RejectionCost, ...]

    @property
    def reported(self) -> int:
        return sum(m.total for m in self.months)


def _first_month(as_of: date) -> date:
    year, month = as_of.year, as_of.month - (MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def reporting_overview(session: Session, as_of: date | None = None) -> ReportingOverview:
    as_of = as_of or clock.today()
    start = datetime.combine(_first_month(as_of), time.min)
    end = datetime.combine(as_of, time.max)
    # a record is "reported" when PARS first answered a send of it (Submitted, Accepted or Rejected)
    first = (
        select(StatusEvent.completion_id.label("completion_id"), func.min(StatusEvent.at).label("at"))
        .where(StatusEvent.source == "PARS")
        .group_by(StatusEvent.completion_id)
        .having(func.min(StatusEvent.at) >= start, func.min(StatusEvent.at) <= end)
        .subquery()
    )
    rows = session.execute(
        select(extract("year", first.c.at), extract("month", first.c.at), CompletionRow.status, func.count())
        .join(CompletionRow, CompletionRow.id == first.c.completion_id)
        .group_by(extract("year", first.c.at), extract("month", first.c.at), CompletionRow.status)
    ).all()
    counts: dict[tuple[int, int], dict[str, int]] = {}
    for year, month, status, number in rows:
        outcome = _OUTCOME_OF.get(status)
        if outcome is None:
            continue
        bucket = counts.setdefault((int(year), int(month)), {})
        bucket[outcome] = bucket.get(outcome, 0) + int(number)
    months = []
    year, month = start.year, start.month
    for _ in range(MONTHS):
        months.append(MonthBar(year, month, counts.get((year, month), {})))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    replacement = aliased(CompletionRow)
    code_rows = session.execute(
        select(StatusEvent.code, func.count(distinct(StatusEvent.completion_id)), func.count(distinct(replacement.replaces_id)))
        .outerjoin(replacement, replacement.replaces_id == StatusEvent.completion_id)
        .where(StatusEvent.status == Status.REJECTED.value, StatusEvent.at >= start, StatusEvent.at <= end)
        .group_by(StatusEvent.code)
    ).all()
    costs = [
        RejectionCost(code, catalog.describe(code) if code is not None else "Rejected without a code",
                      int(rejected), int(corrected))
        for code, rejected, corrected in code_rows
    ]
    costs.sort(key=lambda c: (-c.corrected, -c.rejected, c.code or 0))
    return ReportingOverview(as_of, tuple(months), tuple(costs[:TOP_CODES]))
