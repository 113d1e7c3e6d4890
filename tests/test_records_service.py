"""Storing records, queueing them, and deleting them through app.services.records."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import ActivityRow, ActivityBoardRow, CompletionRow, OutboxRow, StatusEvent
from app.pars.domain import BoardPart, CmePart, Completion, Learner, Status
from app.services import records


@pytest.fixture
def store(any_store):
    """Every test here runs on SQLite and on the office's PostgreSQL (tests/pg_support.py)."""
    return any_store


def _activity(session) -> ActivityRow:
    row = ActivityRow(
        accme_id="123456789", title="Cardiology Update", activity_type="Course",
        start_date=date(2026, 1, 5), end_date=date(2026, 1, 7), cme_credits=Decimal("8"),
        boards=[ActivityBoardRow(board="ABIM", max_points=Decimal("8"), credit_types=["Medical Knowledge"])],
    )
    session.add(row)
    return row


def _completion(permission: bool = True) -> Completion:
    return Completion(
        activity_id="123456789",
        learner=Learner("Ada", "Lovelace", "12/10", "CA", "A12345"),
        completion_date=date(2026, 1, 6),
        cme=CmePart(Decimal("8")),
        boards=[BoardPart("ABIM", "123456", Decimal("8"), {"Medical Knowledge": None})],
        permission=permission,
    )


def test_record_with_permission_is_queued_with_one_outbox_row(store):
    with store.transaction() as s:
        row = records.store_completion(s, _completion(), _activity(s), source="user")
        assert row.credit_id.startswith("ccid:1234567:")
        assert row.boards[0].credit_types == {"Medical Knowledge": "8"}  # defaults to the total
    with store.session() as s:
        assert s.scalar(select(CompletionRow.status)) == Status.QUEUED
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 1
        assert [e.status for e in s.scalars(select(StatusEvent))] == ["Queued"]


def test_record_without_permission_stays_draft_and_unqueued(store):
    with store.transaction() as s:
        records.store_completion(s, _completion(permission=False), _activity(s), source="user")
    with store.session() as s:
        row = s.scalars(select(CompletionRow)).one()
        assert row.status == Status.DRAFT
        assert "permission" in row.status_message
        assert records.queued_count(s) == 0


def test_deleting_an_unsent_record_removes_it_from_the_outbox(store):
    with store.transaction() as s:
        row = records.store_completion(s, _completion(), _activity(s), source="user")
        assert records.request_delete(s, row) is None
        assert row.status == Status.DELETED
        assert records.queued_count(s) == 0


def test_submitted_record_cannot_be_deleted(store):
    with store.transaction() as s:
        row = records.store_completion(s, _completion(), _activity(s), source="user")
        records.set_status(s, row, Status.SUBMITTED, source="PARS")
        reason = records.request_delete(s, row)
        assert reason is not None and "Submitted" in reason
        assert row.status == Status.SUBMITTED


def test_deleting_an_accepted_record_queues_a_pars_delete(store):
    with store.transaction() as s:
        row = records.store_completion(s, _completion(), _activity(s), source="user")
        s.execute(OutboxRow.__table__.delete())
        records.set_status(s, row, Status.ACCEPTED, source="board")
        assert records.request_delete(s, row) is None
        assert row.status == Status.DELETE_QUEUED
        outbox = s.scalars(select(OutboxRow)).one()
        assert (outbox.action, outbox.credit_id) == ("Delete", row.credit_id)


def test_round_trip_to_domain_keeps_the_record(store):
    with store.transaction() as s:
        row = records.store_completion(s, _completion(), _activity(s), source="user")
        again = records.completion_to_domain(row)
    assert again.learner.last_name == "Lovelace"
    assert again.boards[0].credit_types == {"Medical Knowledge": Decimal("8")}
    assert again.activity_id == "123456789"


def test_a_sync_batch_is_built_as_each_record_alone_would_be(store):
    """The sync engine builds a batch's records with plain queries (completions_to_domain); every
    record must come out exactly as completion_to_domain makes it from the ORM row: boards with
    their credit types, REMS, no CME, deletes."""
    from app.pars.domain import RecordAction, RemsPart
    from app.services.records import completion_to_domain, completions_to_domain
    from tests.learner_support import add_activity as add_learner_activity
    from tests.learner_support import completion as a_completion
    from tests.learner_support import store_record

    activity = add_learner_activity(store, rems=True)
    with_rems = a_completion("Grace", "Hopper", boards=[])
    with_rems.rems = RemsPart(profession="MD", state_of_practice="NY", dea_registration="AB1234567",
                              practice_area="Internal Medicine", performs_surgery=False, time_in_practice="6-10")
    two_boards = a_completion("Alan", "Turing", boards=[
        BoardPart("ABIM", "123456", Decimal("8"), {"Medical Knowledge": Decimal("5"), "Patient Safety": None}),
        BoardPart("ABP", "654321", Decimal("6"), {}),
    ])
    ids = [
        store_record(store, activity, a_completion()),
        store_record(store, activity, a_completion("Barbara", "Liskov", cme=None)),
        store_record(store, activity, with_rems),
        store_record(store, activity, two_boards),
    ]
    for action in (RecordAction.ADD, RecordAction.DELETE):
        with store.session() as s:
            one_by_one = {cid: completion_to_domain(s.get(CompletionRow, cid), action=action) for cid in ids}
            batch = completions_to_domain(s, ids, action=action)
        assert batch == one_by_one
    assert batch[ids[2]].rems is not None and len(batch[ids[3]].boards) == 2
