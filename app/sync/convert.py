"""Store rows -> PARS domain values for what the engine sends.

Learner records use `app.services.records.completion_to_domain` (one conversion for every sender).
Activities use `app.services.activities.activity_to_domain` when that service is present; the
fallback below keeps the engine working on its own and builds exactly the same value.
"""

from __future__ import annotations

from app.models.schema import ActivityRow, CompletionRow
from app.pars.domain import Activity, BoardRegistration, Completion, RecordAction
from app.services.records import completion_to_domain

__all__ = ["activity_to_domain", "completion_for_pars"]


def _activity_to_domain_fallback(row: ActivityRow) -> Activity:
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
        rems=bool(row.rems),
        state_collaboration=bool(row.state_collaboration),
    )


try:  # the activities service owns this conversion once it exists
    from app.services.activities import activity_to_domain  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on which services are installed
    activity_to_domain = _activity_to_domain_fallback


def completion_for_pars(row: CompletionRow, action: RecordAction) -> Completion:
    """The record as sent for `action`: a delete carries the same content as the original add."""
    return completion_to_domain(row, action=action)
