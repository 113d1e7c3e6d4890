"""What the store knows that validation needs: activities as domain values and the provider's history.

    activities = load_domain_activities(session)   # ACCME activity ID -> Activity
    history = load_history(session)                 # priors, used creditIDs, records as sent

Used by `parsdesk check --db`, batch import and anything else that validates many records at once
(one query per table instead of one per record).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.schema import ActivityRow, CompletionRow
from app.pars.domain import Activity, BoardPart, History, PriorCompletion, Status, learner_key
from app.services.activities import activity_to_domain
from app.services.records import completion_to_domain, record_learner

# Records that no longer use up points or block a same-day completion.
_NOT_COUNTING = frozenset({Status.REJECTED.value, Status.DELETED.value})
# Records PARS has never seen: a delete of one of them would be 605 at PARS.
_NOT_SENT = frozenset({Status.DRAFT.value, Status.QUEUED.value})


def load_domain_activities(session: Session) -> dict[str, Activity]:
    """Every registered activity (one with an ACCME ID), keyed by its 9-digit ID."""
    rows = session.scalars(
        select(ActivityRow).options(selectinload(ActivityRow.boards)).where(ActivityRow.accme_id.is_not(None))
    ).all()
    return {row.accme_id: activity_to_domain(row) for row in rows if row.accme_id}


def load_history(session: Session) -> History:
    """Every stored record as validation's History.

    - priors: one entry per record and board (or one without a board), counting unless the record was
      rejected or deleted;
    - used_credit_ids: every creditID ever stored, whatever its status (PARS never reuses one);
    - sent: records PARS has seen (status beyond Draft/Queued), as originally sent, for deletes.
    """
    history = History()
    rows = session.scalars(
        select(CompletionRow).options(
            selectinload(CompletionRow.boards),
            selectinload(CompletionRow.activity),
            selectinload(CompletionRow.rems),
        )
    ).all()
    for row in rows:
        learner = record_learner(row)  # the identity the record was sent with
        counts = row.status not in _NOT_COUNTING
        accme_id = row.activity.accme_id
        for part in row.boards or [None]:
            board = BoardPart(part.board, part.board_id, part.points) if part is not None else None
            history.add_prior(
                PriorCompletion(
                    credit_id=row.credit_id,
                    activity_id=accme_id,
                    learner_key=learner_key(learner, board),
                    completion_date=row.completion_date,
                    board_points=((part.board, part.points),) if part is not None else (),
                    counts=counts,
                )
            )
        if row.status not in _NOT_SENT:
            history.sent[row.credit_id] = completion_to_domain(row)
    return history


def counts_in_history(status: str) -> bool:
    """Whether a record with this status still uses up points / blocks a same-day completion."""
    return status not in _NOT_COUNTING


def known_to_pars(status: str) -> bool:
    """Whether PARS has seen a record with this status (so a delete of it is PARS's business)."""
    return status not in _NOT_SENT
