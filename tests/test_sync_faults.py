"""The sync engine under failure: lost answers, unreachable PARS, refused credentials, stops, kills.

The first tests script PARS's failures call by call (tests/sync_support.ScriptedPars); the later
ones use the real sandbox over HTTP, including a subprocess killed with SIGKILL mid-sync."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.models import ActivityRow, CompletionRow, Meta, StatusEvent
from app.pars.domain import Status
from app.services import records
from app.sync.engine import PassLock, SyncEngine, backoff_delay, outbox_summary, queued_count
from tests.sync_support import (
    ScriptedPars,
    add_activity,
    outbox_rows,
    queue_records,
    running_sandbox,
    sandbox_client,
    sandbox_records,
    statuses,
    statuses_by_credit_id,
)


def _engine(store, pars, **options) -> SyncEngine:
    return SyncEngine(store, pars, **options)


def test_lost_answer_is_looked_up_not_resent(store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 5)
    pars = ScriptedPars(script=["lost"])  # PARS stores the batch, the answer never arrives

    first = _engine(store, pars).run(poll=False)
    assert first.errors == 5 and first.sent == 0
    assert all(row.in_flight for row in outbox_rows(store))  # outcome unknown: kept in flight
    assert set(statuses(store).values()) == {Status.QUEUED.value}

    second = _engine(store, pars).run(poll=False)
    assert second.recovered == 5 and second.sent == 0  # settled by a lookup, nothing sent again
    assert all(count == 1 for count in pars.received.values()) and len(pars.received) == 5
    assert statuses(store) == {i: Status.SUBMITTED.value for i in ids}
    assert outbox_rows(store) == []
    assert pars.calls == ["SaveLearnerActivity", "GetLearnerStatusByCreditId"]


def test_unknown_outcome_that_never_arrived_is_resent_once_after_lookup(store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 3)
    pars = ScriptedPars(script=["timeout-before"])  # maybe delivered, but PARS never processed it

    _engine(store, pars).run(poll=False)
    assert pars.received == {}
    report = _engine(store, pars).run(poll=False)

    assert report.resent_after_lookup == 3 and report.sent == 3
    assert pars.calls == ["SaveLearnerActivity", "GetLearnerStatusByCreditId", "SaveLearnerActivity"]
    assert all(count == 1 for count in pars.received.values())
    assert statuses(store) == {i: Status.SUBMITTED.value for i in ids}


def test_connection_refused_defers_with_backoff_and_keeps_records_queued(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 4)
    now = datetime(2026, 2, 1, 12, 0, 0)
    pars = ScriptedPars(script=["down"])

    report = _engine(store, pars, clock=lambda: now).run()
    assert report.errors == 4 and report.left_in_outbox == 4
    assert "could not be reached" in report.problems[0]
    rows = outbox_rows(store)
    assert [(r.in_flight, r.attempts) for r in rows] == [(False, 1)] * 4
    assert all(r.next_attempt_at == now + backoff_delay(1) for r in rows)
    with store.session() as s:
        assert s.get(Meta, "last_sync_at") is None  # the pass did not complete

    # an interval loop honours the retry time; a user's "sync now" does not
    waiting = _engine(store, pars, clock=lambda: now + timedelta(seconds=5)).run(respect_backoff=True)
    assert waiting.sent == 0 and pars.calls == ["SaveLearnerActivity"]
    later = _engine(store, pars, clock=lambda: now + timedelta(seconds=5)).run()
    assert later.sent == 4 and later.left_in_outbox == 0


def test_refused_credentials_stop_the_run_and_leave_records_queued(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 3)
    pars = ScriptedPars(script=["auth"])

    report = _engine(store, pars).run()

    assert report.fatal is not None and "credentials" in report.fatal
    rows = outbox_rows(store)
    assert len(rows) == 3 and not any(r.in_flight for r in rows)
    assert all(r.next_attempt_at is None for r in rows)  # fixing the password makes them go at once
    assert set(statuses(store).values()) == {Status.QUEUED.value}


def test_stop_between_batches_leaves_a_consistent_store(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 10)
    pars = ScriptedPars()

    def stop_after_two_batches() -> bool:
        return pars.calls.count("SaveLearnerActivity") >= 2

    report = _engine(store, pars, batch_size=3).run(should_stop=stop_after_two_batches)

    assert report.stopped and report.sent == 6
    assert queued_count_of(store) == 4
    assert not any(r.in_flight for r in outbox_rows(store))
    assert sorted(statuses(store).values()).count(Status.SUBMITTED.value) == 6
    resumed = _engine(store, pars, batch_size=3).run(poll=False)
    assert resumed.sent == 4 and all(count == 1 for count in pars.received.values())


def queued_count_of(store) -> int:
    with store.session() as s:
        return queued_count(s)


def test_activity_registration_failure_keeps_its_records_queued_with_the_reason(store):
    unregistered = add_activity(store, accme_id=None, title="New course")
    registered = add_activity(store, accme_id="123456789")
    waiting_ids = queue_records(store, unregistered, 2, label="new")
    sent_ids = queue_records(store, registered, 2, label="old")
    pars = ScriptedPars(refuse_activity="Activity data incomplete")

    report = _engine(store, pars).run(poll=False)

    assert report.activities_registered == 0 and report.sent == 2
    now = statuses(store)
    assert [now[i] for i in waiting_ids] == [Status.QUEUED.value] * 2
    assert [now[i] for i in sent_ids] == [Status.SUBMITTED.value] * 2
    rows = outbox_rows(store)
    assert len(rows) == 2 and all("690" in (r.last_error or "") for r in rows)


def test_unregistered_activity_is_registered_before_its_records_are_sent(store):
    activity = add_activity(store, accme_id=None)
    queue_records(store, activity, 2)
    pars = ScriptedPars()

    report = _engine(store, pars).run(poll=False)

    assert report.activities_registered == 1 and report.sent == 2
    assert pars.calls[0] == "SaveActivity"
    with store.session() as s:
        rows = s.scalars(select(CompletionRow)).all()
        assert {row.activity.accme_id for row in rows} == {"900000001"}


def test_every_status_change_is_a_history_event_from_pars_then_the_board(store):
    activity = add_activity(store, accme_id="123456789")
    [record] = queue_records(store, activity, 1)
    pars = ScriptedPars()
    _engine(store, pars).run()
    pars.advance()
    _engine(store, pars, actor="nightly").run()
    with store.session() as s:
        events = s.scalars(
            select(StatusEvent).where(StatusEvent.completion_id == record).order_by(StatusEvent.id)
        ).all()
        assert [(e.status, e.source) for e in events] == [
            ("Queued", "import"), ("Submitted", "PARS"), ("Accepted", "board")
        ]
        assert events[-1].actor == "nightly"


# --- against the real sandbox ------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def test_sandbox_down_keeps_records_queued_and_a_later_sync_completes(store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 30)
    with running_sandbox() as sandbox:
        url = sandbox.url
        sandbox.stop()  # connection refused from now on
        with sandbox_client(url) as client:
            down = SyncEngine(store, client, batch_size=10).run()
    assert down.errors == 30 and down.sent == 0 and down.left_in_outbox == 30
    assert set(statuses(store).values()) == {Status.QUEUED.value}
    assert not any(row.in_flight for row in outbox_rows(store))  # refused: certainly not delivered

    with running_sandbox() as sandbox, sandbox_client(sandbox.url) as client:
        up = SyncEngine(store, client, batch_size=10).run()
        seen = sandbox_records(sandbox)
    assert up.sent == 30 and up.errors == 0 and up.left_in_outbox == 0
    assert statuses(store) == {i: Status.ACCEPTED.value for i in ids}
    assert all(entry["received"] == 1 for entry in seen.values()) and len(seen) == 30


def test_flaky_slow_pars_gets_every_record_exactly_once(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 300)
    with running_sandbox(fail_rate=0.3, latency_ms=15) as sandbox:
        passes = 0
        resent_after_lookup = 0
        # no client retries: every failure reaches the engine (in flight -> lookup -> resend)
        with sandbox_client(sandbox.url, max_retries=0) as client:
            while passes < 40:
                passes += 1
                report = SyncEngine(store, client, batch_size=25).run(poll=False)
                resent_after_lookup += report.resent_after_lookup
                if report.left_in_outbox == 0 and report.errors == 0:
                    break
        seen = sandbox_records(sandbox)
    assert report.left_in_outbox == 0, f"still queued after {passes} passes"
    assert passes > 1 and resent_after_lookup > 0  # failures happened and went through recovery
    local = statuses_by_credit_id(store)
    assert sorted(seen) == sorted(local)
    assert {credit_id: entry["received"] for credit_id, entry in seen.items() if entry["received"] != 1} == {}
    assert {credit_id: entry["status"] for credit_id, entry in seen.items()} == local


class _CountingClient:
    """A real sandbox client that records how many requests are out at the same moment."""

    lock = threading.Lock()
    active = 0
    most = 0

    def __init__(self, url: str) -> None:
        self._client = sandbox_client(url, max_retries=0)

    def send_learner_activity(self, document: bytes, count: int):  # noqa: ANN201
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.most = max(cls.most, cls.active)
        try:
            return self._client.send_learner_activity(document, count)
        finally:
            with cls.lock:
                cls.active -= 1

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._client, name)


def test_batches_in_flight_at_once_on_a_flaky_pars_still_send_every_record_exactly_once(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 600)
    with running_sandbox(fail_rate=0.3, latency_ms=40) as sandbox:
        passes = 0
        while passes < 40:
            passes += 1
            engine = SyncEngine(store, _CountingClient(sandbox.url), batch_size=25, in_flight=4,
                                client_factory=lambda: _CountingClient(sandbox.url))
            with engine:
                report = engine.run(poll=False)
            if report.left_in_outbox == 0 and report.errors == 0:
                break
        seen = sandbox_records(sandbox)
    assert report.left_in_outbox == 0, f"still queued after {passes} passes"
    assert _CountingClient.most > 1  # batches really were at PARS at the same time
    assert not any(row.in_flight for row in outbox_rows(store))
    local = statuses_by_credit_id(store)
    assert sorted(seen) == sorted(local)
    assert {credit_id: entry["received"] for credit_id, entry in seen.items() if entry["received"] != 1} == {}
    assert {credit_id: entry["status"] for credit_id, entry in seen.items()} == local


def _sync_once(db: Path, url: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "sync", "--once", "-q", "--db", str(db), "--url", url, "--batch-size", "20"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_at_random_points_never_sends_a_record_twice(store, tmp_path):
    """A `parsdesk sync --once` process is killed with SIGKILL at random moments of a 2,000-record
    sync, six times; a final clean run must leave PARS with every creditID exactly once, received
    once, and the store agreeing with PARS on every status."""
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 2000)
    env = {**os.environ, "PARSDESK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    rng = random.Random(20261127)
    kills_mid_pass = 0
    found_in_flight = 0
    # latency makes most of a pass time spent inside PARS calls, where a kill hurts most
    with running_sandbox(latency_ms=25) as sandbox:
        for _ in range(6):
            received_before = len(sandbox.records())
            process = _sync_once(store.path, sandbox.url, env)
            # wait until this process is sending (start-up takes a second), then kill at a random moment
            deadline = time.monotonic() + 30
            while len(sandbox.records()) == received_before and process.poll() is None:
                assert time.monotonic() < deadline, "the sync process never started sending"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills_mid_pass += 1
            process.wait(timeout=30)
            found_in_flight += sum(1 for row in outbox_rows(store) if row.in_flight)
        final = _sync_once(store.path, sandbox.url, env)
        _, stderr = final.communicate(timeout=60)
        assert final.returncode == 0, stderr.decode()
        seen = sandbox_records(sandbox)

    assert kills_mid_pass >= 5, "the kills must land while a sync runs"
    assert found_in_flight > 0, "at least one kill should leave a batch with an unknown outcome"
    local = statuses_by_credit_id(store)
    assert len(seen) == 2000 and sorted(seen) == sorted(local)
    assert [credit_id for credit_id, entry in seen.items() if entry["received"] != 1] == []
    assert {credit_id: entry["status"] for credit_id, entry in seen.items()} == local
    assert set(local.values()) == {Status.ACCEPTED.value}
    assert outbox_rows(store) == []


def _queue_delete(store, completion_id: int) -> None:
    with store.transaction() as s:
        assert records.request_delete(s, s.get(CompletionRow, completion_id)) is None


def test_delete_refused_by_pars_keeps_the_records_status_with_the_code(store):
    activity = add_activity(store, accme_id="123456789")
    [record] = queue_records(store, activity, 1)
    pars = ScriptedPars()
    _engine(store, pars).run()
    pars.advance()
    _engine(store, pars).run()
    _queue_delete(store, record)
    credit_id = outbox_rows(store)[0].credit_id
    pars.refuse_deletes[credit_id] = (706, "You cannot delete a record for a previous year")

    report = _engine(store, pars).run()

    assert report.errors == 1 and report.deleted == 0
    with store.session() as s:
        row = s.get(CompletionRow, record)
        assert (row.status, row.status_code, row.status_source) == (Status.ACCEPTED.value, 706, "PARS")
        assert "previous year" in row.status_message
    assert outbox_rows(store) == []


def test_delete_whose_outcome_was_lost_is_settled_by_lookup(store):
    activity = add_activity(store, accme_id="123456789")
    [record] = queue_records(store, activity, 1)
    pars = ScriptedPars()
    _engine(store, pars).run()
    pars.advance()
    _engine(store, pars).run()
    _queue_delete(store, record)
    credit_id = outbox_rows(store)[0].credit_id
    # the delete's lookup succeeds, then the delete itself is stored by PARS but its answer is lost
    pars.script = ["ok", "lost"]

    lost = _engine(store, pars).run(poll=False)
    assert lost.errors == 1 and [row.in_flight for row in outbox_rows(store)] == [True]
    settled = _engine(store, pars).run(poll=False)

    assert settled.recovered == 1
    assert statuses(store)[record] == Status.DELETE_SUBMITTED.value
    assert pars.received[credit_id] == 2  # the add once, the delete once
    assert outbox_rows(store) == []


def test_a_second_pass_on_the_same_store_is_skipped_while_one_runs(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 2)
    pars = ScriptedPars()
    running = PassLock(store.path)
    assert running.acquire()  # e.g. the desktop app's pass, while cron starts another
    try:
        skipped = _engine(store, pars).run()
    finally:
        running.release()
    assert skipped.skipped and skipped.sent == 0 and pars.calls == []
    assert skipped.left_in_outbox == 2

    after = _engine(store, pars).run()
    assert not after.skipped and after.sent == 2


def test_activity_registration_with_a_lost_answer_is_not_repeated_by_itself(store):
    activity = add_activity(store, accme_id=None, title="Grand Rounds")
    queue_records(store, activity, 2)
    pars = ScriptedPars(script=["lost"])  # PARS may have created the activity; its ID never arrived

    first = _engine(store, pars).run()
    second = _engine(store, pars).run()

    assert first.errors == 2 and second.errors == 2 and second.sent == 0
    assert "waits for its PARS activity ID" in second.problems[0]
    assert pars.calls == ["SaveActivity"]  # a second SaveActivity could create a duplicate activity
    with store.session() as s:
        row = s.get(ActivityRow, activity)
        assert row.accme_id is None and "may have registered" in row.registration_error
    assert all("may have registered" in (r.last_error or "") for r in outbox_rows(store))

    with store.transaction() as s:  # the coordinator found it in PARS and entered its ID
        s.get(ActivityRow, activity).accme_id = "900000001"
    assert _engine(store, pars).run().sent == 2


def test_outbox_summary_counts_adds_deletes_and_unknown_outcomes(store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 3)
    queue_records(store, activity, 1, label="del", status=Status.DELETE_QUEUED.value, outbox_action="Delete")
    _engine(store, ScriptedPars(script=["lost"]), batch_size=2).run(poll=False)  # 2 left in flight
    with store.session() as s:
        assert outbox_summary(s) == {"adds": 3, "deletes": 1, "in_flight": 2}


def test_a_pass_that_fails_mid_way_waits_for_its_batches_at_pars_before_letting_go(store, monkeypatch):
    """A store error while claiming the next batch ends the pass; a batch already on its way to
    PARS is waited for before the pass gives up its lock. Otherwise the next pass would ask PARS
    about those rows while the request was still on its way, hear NotFound and send them again."""
    import pytest

    from app.sync import engine as engine_module

    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 6)
    pars = ScriptedPars()
    events: list[str] = []
    second_claim, lock_released = threading.Event(), threading.Event()
    real_send = pars.save_learner_activity

    def slow_send(records):
        second_claim.wait(10)  # the first batch is still out when the second claim fails...
        lock_released.wait(2)  # ...and, when the pass lets go of its lock without it, outlives that
        try:
            return real_send(records)
        finally:
            events.append("first batch answered")

    real_claim, real_lock = engine_module._Pass._claim, engine_module.pass_lock
    claims = []

    def failing_claim(self, action, ids):
        claims.append(ids)
        if len(claims) == 2:
            second_claim.set()
            raise RuntimeError("the store went away")
        return real_claim(self, action, ids)

    def watched_lock(store_):
        lock = real_lock(store_)
        release = lock.release

        def release_and_tell():
            events.append("lock released")
            lock_released.set()
            release()

        lock.release = release_and_tell
        return lock

    monkeypatch.setattr(engine_module._Pass, "_claim", failing_claim)
    monkeypatch.setattr(engine_module, "pass_lock", watched_lock)
    pars.save_learner_activity = slow_send
    with pytest.raises(RuntimeError, match="the store went away"):
        SyncEngine(store, pars, batch_size=3, in_flight=2).run(poll=False)
    assert events == ["first batch answered", "lock released"]
    monkeypatch.setattr(engine_module._Pass, "_claim", real_claim)
    pars.save_learner_activity = real_send
    after = SyncEngine(store, pars, batch_size=3).run(poll=False)
    assert after.recovered == 3 and after.sent == 3
    assert set(pars.received.values()) == {1} and len(pars.received) == 6
