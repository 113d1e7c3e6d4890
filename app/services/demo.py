"""The demo store: realistic activities and learners for the first start, screenshots and tests.

The demo is built the way a real office's store would be: activities are saved locally, learner
records are stored and queued through `records.store_completion`, and then (when a sandbox is given)
the real sync engine sends them to the PARS sandbox, which registers the activities, validates the
records and plays the boards. Statuses in the demo store are therefore ones PARS really gave.
Learners come from the sandbox's seeded board/state registries; a few are entered with a wrong name
or birth date on purpose, so the boards reject them (665/664) as they would in real life.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.models import ActivityBoardRow, ActivityRow, CompletionRow, Store
from app.pars.domain import BoardPart, CmePart, Completion, RemsPart, new_credit_id

DEMO_PROVIDER_ID = "1234567"


@dataclass(frozen=True, slots=True)
class DemoActivity:
    title: str
    activity_type: str
    start_offset_days: int  # relative to today, so the demo never goes stale
    length_days: int
    cme_credits: Decimal | None
    boards: tuple[tuple[str, Decimal, tuple[str, ...]], ...] = ()
    rems: bool = False
    state_collaboration: bool = False


DEMO_ACTIVITIES: tuple[DemoActivity, ...] = (
    DemoActivity(
        "Advances in Heart Failure Management", "Course", -75, 3, Decimal("12"),
        (("ABIM", Decimal("12"), ("Medical Knowledge", "Patient Safety")),),
        state_collaboration=True,
    ),
    DemoActivity(
        "Pediatric Asthma and Allergy Update", "Internet Enduring", -200, 365, Decimal("4"),
        (("ABP", Decimal("4"), ("Lifelong Learning & Self-Assessment",)),),
    ),
    DemoActivity(
        "Perioperative Patient Safety Grand Rounds", "RSS", -180, 170, Decimal("10"),
        (
            ("ABA", Decimal("10"), ("Lifelong Learning", "Patient Safety")),
            ("ABS", Decimal("10"), ("Accredited CME", "Self-Assessment")),
        ),
    ),
    DemoActivity(
        "Opioid Analgesic REMS: Safe Prescribing and Pain Management", "Internet Live", -40, 1, Decimal("3"),
        rems=True, state_collaboration=True,
    ),
    DemoActivity(
        "Molecular Pathology Summit", "Course", -30, 2, Decimal("9.5"),
        (("ABPATH", Decimal("9.5"), ("Lifelong Learning",)),),
    ),
    DemoActivity("Sports Medicine Symposium", "Course", 20, 2, Decimal("14")),  # upcoming, not registered yet
)


def demo_activity_rows(today: date) -> list[ActivityRow]:
    rows = []
    for spec in DEMO_ACTIVITIES:
        start = today + timedelta(days=spec.start_offset_days)
        end = start + timedelta(days=spec.length_days - 1)
        claim = max(end, min(today, end + timedelta(days=60)))
        rows.append(
            ActivityRow(
                title=spec.title,
                activity_type=spec.activity_type,
                start_date=start,
                end_date=end,
                cme_credits=spec.cme_credits,
                rems=spec.rems,
                state_collaboration=spec.state_collaboration,
                boards=[
                    ActivityBoardRow(board=b, max_points=points, credit_types=list(types), credit_claim_date=claim)
                    for b, points, types in spec.boards
                ],
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class DemoSummary:
    activities: int
    records: int
    statuses: dict[str, int]


def build_demo(
    store: Store,
    *,
    learners: int = 60,
    sandbox: object | None = None,
    today: date | None = None,
    seed: str = "demo",
) -> DemoSummary:
    """Fill `store` with the demo: activities and about `learners` learner records.

    With a running sandbox (`SandboxServer`, or `LocalSandboxProcess`: what is used is `.url`,
    `.board_delay` and `.advance(seconds)`), the records really travel: activities are registered (SaveActivity),
    most records are sent and decided by the boards, two accepted ones are deleted, a few are left
    Submitted, a few Queued, a few Draft (no permission recorded). Without one, everything stays
    queued for the first sync.
    """
    from app.pars.validation import validate
    from app.services import records
    from app.services.activities import activity_to_domain
    from app.services.history import load_history

    today = today or date.today()
    rng = random.Random(seed)
    with store.transaction() as session:
        if session.scalar(select(func.count()).select_from(ActivityRow)):
            raise ValueError(f"{store.location} already holds activities; the demo is built in an empty store")
        records.set_provider_id(session, DEMO_PROVIDER_ID)
        session.add_all(demo_activity_rows(today))

    # Learner records in four waves so that every status a coordinator meets shows up.
    plan = _plan_records(store, learners, rng, today)
    # most records are old news (decided by the boards); the rest show the states in between
    cut_old, cut_recent, cut_queued = (round(len(plan) * share) for share in (0.7, 0.8, 0.93))
    old, recent, queued, drafts = plan[:cut_old], plan[cut_old:cut_recent], plan[cut_recent:cut_queued], plan[cut_queued:]

    def store_wave(wave: list[_Planned], *, permission: bool = True) -> None:
        with store.transaction() as session:
            history = load_history(session)
            for planned in wave:
                activity_row = session.get(ActivityRow, planned.activity_row_id)
                planned.completion.permission = permission
                planned.completion.credit_id = new_credit_id(DEMO_PROVIDER_ID)
                activity = activity_to_domain(activity_row)
                planned.completion.activity_id = activity_row.accme_id
                problems = validate(planned.completion, activity, history, today)
                if activity_row.accme_id is None:  # registered with PARS at the first sync
                    problems = [issue for issue in problems if issue.code not in (630, 690)]
                if problems:  # the plan only makes valid records; skip rather than store a bad one
                    continue
                records.store_completion(session, planned.completion, activity_row, source="user", actor="demo", as_of=today)

    sync = _demo_sync(store, sandbox)
    store_wave(old)
    if sync is not None:
        sync()
        sandbox.advance(sandbox.board_delay + 1)  # the boards answer "a day later"
        sync()
        _delete_some_accepted(store, rng, count=2)
    store_wave(recent)
    if sync is not None:
        sync()  # recent records stay Submitted; the deletes go to the board as Delete Submitted
    store_wave(queued)
    store_wave(drafts, permission=False)

    with store.session() as session:
        counts = dict(session.execute(select(CompletionRow.status, func.count()).group_by(CompletionRow.status)).all())
        activities = session.scalar(select(func.count()).select_from(ActivityRow)) or 0
    return DemoSummary(activities=activities, records=sum(counts.values()), statuses=counts)


@dataclass(slots=True)
class _Planned:
    activity_row_id: int
    completion: Completion


def _plan_records(store: Store, learners: int, rng: random.Random, today: date) -> list[_Planned]:
    from app.sandbox.registry import DEMO_PEOPLE

    with store.session() as session:
        activities = list(session.scalars(select(ActivityRow).order_by(ActivityRow.id)))
        for row in activities:
            _ = row.boards  # load while the session is open
    reportable = [a for a in activities if a.start_date <= today]
    planned: list[_Planned] = []
    people = list(DEMO_PEOPLE)
    index = 0
    while len(planned) < learners and index < learners * 20:
        person = people[index % len(people)]
        activity = reportable[index % len(reportable)]
        index += 1
        registrations = [b for b in activity.boards if b.board in person.board_ids()]
        if activity.boards and not registrations and rng.random() < 0.7:
            continue  # MOC activities are mostly attended by that board's diplomates
        last_day = min(activity.end_date, today)
        completed = activity.start_date + timedelta(days=rng.randint(0, (last_day - activity.start_date).days))
        learner = person.as_learner()
        story = rng.random()
        if story < 0.08:
            learner.last_name = learner.last_name[:-1] + "x"  # a typo the board will reject (665)
        elif story < 0.13 and learner.birth_date:
            month, day = learner.birth_date.split("/")
            learner.birth_date = f"{month}/{(int(day) % 28) + 1:02d}"  # a wrong birth date (664)
        boards = [
            BoardPart(
                board=b.board,
                board_id=person.board_ids()[b.board],
                points=b.max_points,
                credit_types={name: None for name in b.credit_types[:1]},
            )
            for b in registrations
        ]
        credits = activity.cme_credits
        if credits is not None and rng.random() < 0.3:
            credits = max(Decimal("0.25"), credits - Decimal(rng.randint(1, 4)) / 2)
        planned.append(
            _Planned(
                activity.id,
                Completion(
                    activity_id=activity.accme_id,
                    learner=learner,
                    completion_date=completed,
                    cme=CmePart(credits) if credits is not None else None,
                    boards=boards,
                    rems=RemsPart(profession=rng.choice(("Physician", "Physician Assistant", "Advanced practice nurse")))
                    if activity.rems
                    else None,
                ),
            )
        )
    return planned


def _demo_sync(store: Store, sandbox: object | None) -> Callable[[], object] | None:
    if sandbox is None:
        return None
    from app.pars.client import ParsClient
    from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS
    from app.sync.engine import SyncEngine

    def sync() -> object:
        client = ParsClient(sandbox.url, SANDBOX_DEMO_CREDENTIALS)
        try:
            return SyncEngine(store, client, actor="demo").run()
        finally:
            client.close()

    return sync


def _delete_some_accepted(store: Store, rng: random.Random, *, count: int) -> None:
    from app.services import records

    with store.transaction() as session:
        accepted = list(session.scalars(select(CompletionRow).where(CompletionRow.status == "Accepted").order_by(CompletionRow.id)))
        for row in rng.sample(accepted, min(count, len(accepted))):
            records.request_delete(session, row, actor="demo")
