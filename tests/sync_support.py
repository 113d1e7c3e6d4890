"""Test helpers for the sync engine: fast bulk queueing straight through the ORM's tables, and
`ScriptedPars`, an in-memory PARS whose failures a test scripts call by call (the real sandbox is
used for the end-to-end stories; this one makes "the answer was lost after PARS stored the batch"
happen exactly when a test wants it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import time
from datetime import date, datetime, timezone
from decimal import Decimal

import httpx
from sqlalchemy import insert, select

from app.models import ActivityBoardRow, ActivityRow, CompletionRow, LearnerRow, OutboxRow, StatusEvent, Store
from app.models.schema import CompletionBoardRow, utcnow
from app.pars import protocol
from app.pars.client import ParsAuthError, ParsClient, ParsUnavailable, RecordResult
from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS
from app.pars.domain import Activity, BoardRegistration, Completion, RecordAction, Status
from app.sandbox.server import SandboxServer

PROVIDER = "1234567"


def add_activity(
    store: Store,
    *,
    accme_id: str | None = None,
    title: str = "Cardiology Update",
    start: date = date(2026, 1, 5),
    end: date = date(2026, 1, 7),
    cme_credits: Decimal = Decimal("8"),
    abim_points: Decimal | None = None,
) -> int:
    with store.transaction() as s:
        row = ActivityRow(
            accme_id=accme_id,
            title=title,
            activity_type="Course",
            start_date=start,
            end_date=end,
            cme_credits=cme_credits,
        )
        if abim_points is not None:
            row.boards.append(
                ActivityBoardRow(board="ABIM", max_points=abim_points, credit_types=["Medical Knowledge"])
            )
        s.add(row)
        s.flush()
        return row.id


@dataclass
class RecordSpec:
    """What differs between bulk records; everything else is a valid CME record for the activity."""

    completion_date: date = date(2026, 1, 6)
    cme_credits: Decimal = Decimal("8")
    board: tuple[str, str, Decimal, dict[str, str]] | None = None  # code, diplomate ID, points, types
    # first, last, DOB, state, license ID; None: a made-up NY licensee (NY's board does not use PARS,
    # so the sandbox accepts a CME record at once)
    learner: tuple[str, str, str, str, str] | None = None


def queue_records(
    store: Store,
    activity_row_id: int,
    count: int,
    *,
    spec: RecordSpec | Callable[[int], RecordSpec] = RecordSpec(),
    status: str = Status.QUEUED.value,
    outbox_action: str | None = RecordAction.ADD.value,
    label: str = "r",
) -> list[int]:
    """Insert `count` records (distinct learners) with one Queued event and an outbox row each, in a
    handful of executemany statements: thousands per second, as tests and the bench need."""
    now = utcnow()
    with store.transaction() as s:
        first_learner = (s.scalar(select(LearnerRow.id).order_by(LearnerRow.id.desc())) or 0) + 1
        first_completion = (s.scalar(select(CompletionRow.id).order_by(CompletionRow.id.desc())) or 0) + 1
        learners, completions, boards, events, outbox = [], [], [], [], []
        for n in range(count):
            record = spec(n) if callable(spec) else spec
            learner_id = first_learner + n
            completion_id = first_completion + n
            first, last, dob, state, license_id = record.learner or (
                f"Learner{label}{completion_id}", "Testperson", "03/14", "NY", f"A{completion_id:07d}"
            )
            learners.append(
                dict(id=learner_id, first_name=first, last_name=last, birth_date=dob, licensing_state=state,
                     license_id=license_id, board_ids={}, created_at=now)
            )
            credit_id = f"ccid:{PROVIDER}:{label}-{completion_id:08d}"
            completions.append(
                dict(id=completion_id, credit_id=credit_id, activity_id=activity_row_id, learner_id=learner_id,
                     first_name=first, last_name=last, birth_date=dob, licensing_state=state, license_id=license_id,
                     completion_date=record.completion_date, report_cme=True, cme_credits=str(record.cme_credits),
                     status=status, permission_given=True, permission_date=record.completion_date,
                     created_at=now, updated_at=now)
            )
            if record.board is not None:
                board, board_id, points, credit_types = record.board
                boards.append(dict(completion_id=completion_id, board=board, board_id=board_id,
                                   points=str(points), credit_types=credit_types))
            events.append(dict(completion_id=completion_id, at=now, status=status, source="import", actor="test"))
            if outbox_action is not None:
                outbox.append(dict(completion_id=completion_id, action=outbox_action, credit_id=credit_id,
                                   in_flight=False, attempts=0, created_at=now))
        s.execute(insert(LearnerRow), learners)
        s.execute(insert(CompletionRow), completions)
        if boards:
            s.execute(insert(CompletionBoardRow), boards)
        s.execute(insert(StatusEvent), events)
        if outbox:
            s.execute(insert(OutboxRow), outbox)
    return [c["id"] for c in completions]


# --- the real sandbox ----------------------------------------------------------------------------

SANDBOX_ACTIVITY = Activity(
    activity_id="123456789",
    title="Cardiology Update",
    activity_type="Course",
    start_date=date(2026, 1, 5),
    end_date=date(2026, 1, 7),
    cme_credits=Decimal("8"),
    boards=(BoardRegistration("ABIM", Decimal("8"), ("Medical Knowledge",)),),
)
# People of the sandbox's demo registry (app/sandbox/registry.py): matches accepted by the boards.
AVERY = ("Avery", "Morgan", "03/14", "MD", "D0048213")
AVERY_ABIM = ("ABIM", "100001", Decimal("8"), {"Medical Knowledge": "8"})
JORDAN_MISNAMED = ("Jordan", "Patil", "07/22", "NY", "NY-555")  # ABIM 100002 is Jordan *Patel*: 665
JORDAN_ABIM = ("ABIM", "100002", Decimal("8"), {"Medical Knowledge": "8"})


# The sandbox's calendar in these tests: noon on 02-15-2026, after the fixture activities of January
# 2026 and before every reporting and delete deadline of their completions. The sandbox validates
# with its own clock's today, so pinning it keeps the tests true on any real date (and a test's
# advance() of a few hours never crosses midnight).
SANDBOX_NOW = datetime(2026, 2, 15, 12, 0, tzinfo=timezone.utc)


def clock_starting_at(start: datetime) -> Callable[[], float]:
    """A sandbox clock (epoch seconds) that reads `start` now and then runs with real time."""
    origin = time.monotonic()
    return lambda: start.timestamp() + (time.monotonic() - origin)


@contextmanager
def running_sandbox(**options: object) -> Iterator[SandboxServer]:
    options.setdefault("activities", [SANDBOX_ACTIVITY])
    options.setdefault("clock", clock_starting_at(SANDBOX_NOW))
    options.setdefault("board_delay", 3600.0)  # boards answer only when a test advances the clock
    with SandboxServer(**options) as sandbox:  # type: ignore[arg-type]
        yield sandbox


def sandbox_client(url: str, **options: object) -> ParsClient:
    options.setdefault("max_retries", 1)
    options.setdefault("backoff", 0.01)
    options.setdefault("timeout", 5.0)
    return ParsClient(url, SANDBOX_DEMO_CREDENTIALS, **options)  # type: ignore[arg-type]


def sandbox_records(sandbox: SandboxServer) -> dict[str, dict]:
    """GET /_sandbox/records over HTTP, by creditID."""
    response = httpx.get(sandbox.url + "/_sandbox/records", timeout=10)
    response.raise_for_status()
    return {entry["credit_id"]: entry for entry in response.json()}


def statuses(store: Store) -> dict[int, str]:
    with store.session() as s:
        return dict(s.execute(select(CompletionRow.id, CompletionRow.status)).all())


def statuses_by_credit_id(store: Store) -> dict[str, str]:
    with store.session() as s:
        return dict(s.execute(select(CompletionRow.credit_id, CompletionRow.status)).all())


def outbox_rows(store: Store) -> list[OutboxRow]:
    with store.session() as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all())


# --- a scripted, in-memory PARS -------------------------------------------------------------------


@dataclass
class _Held:
    content: tuple
    status: str
    code: int | None = None
    message: str | None = None


def _content(completion: Completion) -> tuple:
    learner = completion.learner
    return (completion.activity_id, learner.first_name, learner.last_name, learner.license_id,
            str(completion.completion_date), str(completion.cme.credits if completion.cme else None))


@dataclass
class ScriptedPars:
    """PARS in memory. `script` holds what the next calls do: "ok", "down" (refused before
    processing), "lost" (processed, answer lost: maybe_delivered), "timeout-before" (maybe
    delivered but not processed), "auth". Boards decide on `advance()`."""

    script: list[str] = field(default_factory=list)
    reject_now: dict[str, tuple[int, str]] = field(default_factory=dict)  # creditID -> code, message
    board_rejects: dict[str, str] = field(default_factory=dict)  # creditID -> board message
    held: dict[str, _Held] = field(default_factory=dict)
    received: Counter = field(default_factory=Counter)
    calls: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    refuse_activity: str | None = None
    refuse_deletes: dict[str, tuple[int, str]] = field(default_factory=dict)  # creditID -> code, message
    # creditID -> code, message: a request holding this record is refused as a whole (a Fault)
    refuse_request: dict[str, tuple[int, str]] = field(default_factory=dict)
    refused_requests: int = 0

    def _next(self, operation: str) -> str:
        self.calls.append(operation)
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "down":
            raise ParsUnavailable("ConnectError", maybe_delivered=False)
        if outcome == "auth":
            raise ParsAuthError("PARS refused the credentials (HTTP 401)")
        if outcome == "timeout-before":
            raise ParsUnavailable("ReadTimeout", maybe_delivered=True)
        return outcome

    def save_activity(self, activity: Activity) -> str:
        if self._next("SaveActivity") == "lost":
            raise ParsUnavailable("ReadTimeout", maybe_delivered=True)
        if self.refuse_activity:
            from app.pars.client import ParsRequestError

            raise ParsRequestError(690, self.refuse_activity)
        new_id = f"{900000001 + len(self.activities)}"
        self.activities.append(new_id)
        return new_id

    def save_learner_activity(self, records: list[tuple[RecordAction, Completion]]) -> list[RecordResult]:
        outcome = self._next("SaveLearnerActivity")
        protocol.save_learner_activity_request(SANDBOX_DEMO_CREDENTIALS, records)  # written as the client does
        for _, completion in records:
            if completion.credit_id in self.refuse_request:
                from app.pars.client import ParsRequestError

                self.refused_requests += 1
                raise ParsRequestError(*self.refuse_request[completion.credit_id])
        results = [self._one(action, completion) for action, completion in records]
        if outcome == "lost":
            raise ParsUnavailable("ReadTimeout", maybe_delivered=True)
        return results

    def _one(self, action: RecordAction, completion: Completion) -> RecordResult:
        credit_id = completion.credit_id
        assert credit_id
        self.received[credit_id] += 1
        held = self.held.get(credit_id)
        if action == RecordAction.DELETE:
            if held is None:
                return RecordResult(credit_id, Status.REJECTED.value, 605, "Record not found. Delete action has failed")
            if held.status == Status.SUBMITTED.value:
                return RecordResult(credit_id, Status.SUBMITTED.value, 998, "still being processed")
            if credit_id in self.refuse_deletes:
                code, message = self.refuse_deletes[credit_id]
                return RecordResult(credit_id, held.status, code, message)
            held.status = Status.DELETE_SUBMITTED.value
            return RecordResult(credit_id, held.status, None, None)
        if held is not None:
            assert held.content == _content(completion), "one creditID sent as two different records"
            return RecordResult(credit_id, held.status, held.code, held.message)
        if credit_id in self.reject_now:
            code, message = self.reject_now[credit_id]
            return RecordResult(credit_id, Status.REJECTED.value, code, message)  # nothing stored
        self.held[credit_id] = _Held(_content(completion), Status.SUBMITTED.value)
        return RecordResult(credit_id, Status.SUBMITTED.value, None, None)

    def status_by_credit_ids(self, credit_ids: list[str]) -> list[RecordResult]:
        self._next("GetLearnerStatusByCreditId")
        results = []
        for credit_id in credit_ids:
            held = self.held.get(credit_id)
            if held is None:
                results.append(RecordResult(credit_id, "NotFound", None, None))
            else:
                results.append(RecordResult(credit_id, held.status, held.code, held.message))
        return results

    def advance(self) -> None:
        """The boards answer every Submitted record and process every delete."""
        for credit_id, held in self.held.items():
            if held.status == Status.SUBMITTED.value:
                if credit_id in self.board_rejects:
                    held.status, held.code, held.message = Status.REJECTED.value, None, self.board_rejects[credit_id]
                else:
                    held.status = Status.ACCEPTED.value
            elif held.status == Status.DELETE_SUBMITTED.value:
                held.status = Status.DELETED.value


def clock_at(when: datetime) -> Callable[[], datetime]:
    return lambda: when
