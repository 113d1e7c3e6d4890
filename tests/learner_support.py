"""Test helpers for the learner tabs and services: an activity with boards, records stored through
the real records service, and a fast bulk loader (Core executemany) for 100,000-record stores."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from app.models import ActivityBoardRow, ActivityRow, CompletionRow, LearnerRow, Store
from app.models.schema import CompletionBoardRow, StatusEvent
from app.models.store import reset_id_sequences
from app.pars.domain import BoardPart, CmePart, Completion, Learner, Status
from app.services import records

ACCME_ID = "123456789"


def add_activity(
    store: Store,
    *,
    accme_id: str | None = ACCME_ID,
    title: str = "Cardiology Update 2026",
    start: date = date(2026, 1, 5),
    end: date = date(2026, 1, 7),
    cme: Decimal | None = Decimal("8"),
    boards: tuple[tuple[str, Decimal, tuple[str, ...]], ...] = (
        ("ABIM", Decimal("8"), ("Medical Knowledge", "Patient Safety")),
        ("ABP", Decimal("6"), ("Lifelong Learning & Self-Assessment",)),
    ),
    rems: bool = False,
) -> int:
    with store.transaction() as s:
        row = ActivityRow(
            accme_id=accme_id,
            title=title,
            activity_type="Course",
            start_date=start,
            end_date=end,
            cme_credits=cme,
            rems=rems,
            boards=[
                ActivityBoardRow(board=code, max_points=points, credit_types=list(types), credit_claim_date=end + timedelta(days=90))
                for code, points, types in boards
            ],
        )
        s.add(row)
        s.flush()
        return row.id


def completion(
    first: str = "Ada",
    last: str = "Lovelace",
    *,
    dob: str = "12/10",
    state: str = "CA",
    license_id: str = "A12345",
    completed: date = date(2026, 1, 6),
    cme: Decimal | None = Decimal("8"),
    boards: list[BoardPart] | None = None,
    permission: bool = True,
) -> Completion:
    return Completion(
        activity_id=ACCME_ID,
        learner=Learner(first, last, dob, state, license_id),
        completion_date=completed,
        cme=CmePart(cme) if cme is not None else None,
        boards=boards if boards is not None else [BoardPart("ABIM", "123456", Decimal("8"), {"Medical Knowledge": None})],
        permission=permission,
    )


def store_record(
    store: Store, activity_id: int, record: Completion, *, status: Status | None = None,
    code: int | None = None, message: str | None = None, source: str = "board",
) -> int:
    """Store through the records service; optionally move it to a status as PARS/the board would."""
    with store.transaction() as s:
        activity = s.get(ActivityRow, activity_id)
        row = records.store_completion(s, record, activity, source="user", actor="tester")
        if status is not None:
            from app.models import OutboxRow

            s.execute(OutboxRow.__table__.delete().where(OutboxRow.completion_id == row.id))
            if status not in (Status.QUEUED,):
                records.set_status(s, row, status, source=source, code=code, message=message)
        return row.id


FIRST_NAMES = ("Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Donald", "Margaret", "John", "Katherine")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Allen", "Knuth", "Hamilton", "Backus", "Johnson")
STATUSES = (Status.ACCEPTED, Status.ACCEPTED, Status.ACCEPTED, Status.SUBMITTED, Status.REJECTED, Status.QUEUED)


def bulk_load(store: Store, activity_ids: list[int], count: int, *, seed: int = 7, first: int = 0) -> None:
    """`count` records spread over the activities, inserted with executemany (seconds, not minutes).
    Numbering starts at `first`, so a large store can be built in several calls."""
    rng = random.Random(seed)
    now = datetime(2026, 2, 1, 12, 0)
    learners: list[dict] = []
    completions: list[dict] = []
    boards: list[dict] = []
    events: list[dict] = []
    # Core inserts on the tables (executemany) skip the ORM's per-object bookkeeping
    with store.transaction() as s:
        start_id = (s.scalar(select(LearnerRow.id).order_by(LearnerRow.id.desc()).limit(1)) or 0) + 1
        start_completion = (s.scalar(select(CompletionRow.id).order_by(CompletionRow.id.desc()).limit(1)) or 0) + 1
        for offset, n in enumerate(range(first, first + count)):
            learner_id = start_id + offset
            completion_id = start_completion + offset
            identity = dict(
                first_name=f"{rng.choice(FIRST_NAMES)}{n % 97}",
                last_name=f"{rng.choice(LAST_NAMES)}{n}",
                birth_date=f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}",
                licensing_state="CA",
                license_id=f"L{n:07d}",
            )
            learners.append(dict(id=learner_id, **identity, board_ids={"ABIM": f"{100000 + n}"}, created_at=now))
            status = rng.choice(STATUSES)
            completions.append(
                dict(
                    id=completion_id,
                    credit_id=f"ccid:1234567:bulk{n:08d}",
                    activity_id=activity_ids[n % len(activity_ids)],
                    learner_id=learner_id,
                    **identity,  # the record's own snapshot of the learner
                    completion_date=date(2026, 1, 5) + timedelta(days=n % 3),
                    report_cme=True,
                    cme_credits="8",
                    status=status.value,
                    status_code=665 if status == Status.REJECTED else None,
                    status_message="Diplomate name does not match Board record" if status == Status.REJECTED else None,
                    status_source="board" if status != Status.QUEUED else "user",
                    permission_given=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            boards.append(
                dict(completion_id=completion_id, board="ABIM", board_id=f"{100000 + n}", points="8",
                     credit_types={"Medical Knowledge": "8"})
            )
            events.append(dict(completion_id=completion_id, at=now, status=status.value, source="board"))
        s.execute(insert(LearnerRow.__table__), learners)
        s.execute(insert(CompletionRow.__table__), completions)
        s.execute(insert(CompletionBoardRow.__table__), boards)
        s.execute(insert(StatusEvent.__table__), events)
        reset_id_sequences(s.connection())  # ids were given: PostgreSQL's sequences must move past them


def recent_activity(store: Store, **kwargs) -> int:
    """An activity that ended two days ago, so today's checks (future dates, deadlines) pass."""
    today = date.today()
    kwargs.setdefault("start", today - timedelta(days=20))
    kwargs.setdefault("end", today - timedelta(days=2))
    return add_activity(store, **kwargs)
