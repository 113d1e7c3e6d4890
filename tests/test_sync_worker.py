"""The sync engine in its QThread: signals carry plain values, one pass at a time, clean cancel."""

from __future__ import annotations

import threading

from decimal import Decimal

from app.pars.domain import Status
from app.sync.engine import SyncEngine, make_engine_factory, resolve_target
from app.sync.worker import SyncController, SyncWorker
from tests.sync_support import (
    AVERY,
    AVERY_ABIM,
    RecordSpec,
    ScriptedPars,
    add_activity,
    outbox_rows,
    queue_records,
    running_sandbox,
    sandbox_records,
    statuses,
)


class GatedPars(ScriptedPars):
    """Holds each send until the test opens the gate, so a cancel lands mid-pass for sure."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = threading.Event()
        self.gate = threading.Event()
        self.worker_threads: set[int] = set()

    def save_learner_activity(self, records):  # noqa: ANN001, ANN201
        self.worker_threads.add(threading.get_ident())
        self.sending.set()
        assert self.gate.wait(10)
        return super().save_learner_activity(records)


def test_controller_syncs_with_the_real_sandbox_through_its_own_connection_and_client(qtbot, store):
    activity = add_activity(store, accme_id="123456789", abim_points=Decimal("8"))
    [board_record] = queue_records(store, activity, 1, spec=RecordSpec(learner=AVERY, board=AVERY_ABIM))
    cme_records = queue_records(store, activity, 3, label="cme")
    with running_sandbox() as sandbox:
        controller = SyncController(make_engine_factory(store.location, resolve_target("local", sandbox.url)))
        changes: list[tuple[int, str]] = []
        controller.records_changed.connect(lambda batch: changes.extend((cid, status) for cid, status in batch))

        with qtbot.waitSignal(controller.finished, timeout=20_000) as first:
            controller.start()
        assert first.args[0]["submitted"] == 1 and first.args[0]["accepted"] == 3

        sandbox.advance(3601)  # the board answers; the next pass polls it
        with qtbot.waitSignal(controller.finished, timeout=20_000) as second:
            controller.start()
        assert second.args[0]["accepted"] == 1
        seen = sandbox_records(sandbox)

    assert sorted(changes) == sorted(
        [(board_record, "Submitted"), (board_record, "Accepted")] + [(i, "Accepted") for i in cme_records]
    )
    assert set(statuses(store).values()) == {Status.ACCEPTED.value}
    assert [entry["received"] for entry in seen.values()] == [1, 1, 1, 1]


def test_controller_runs_a_pass_off_the_gui_thread_and_reports_plain_values(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    ids = queue_records(store, activity, 4)
    pars = GatedPars()
    pars.gate.set()
    controller = SyncController(lambda: SyncEngine(store, pars, batch_size=2))
    changes: list[tuple[int, str]] = []
    progress: list[tuple[int, int]] = []
    batches: list[list] = []
    controller.records_changed.connect(lambda batch: changes.extend((cid, status) for cid, status in batch))
    controller.records_changed.connect(batches.append)
    controller.progress.connect(lambda done, total: progress.append((done, total)))

    with qtbot.waitSignal(controller.finished, timeout=10_000) as finished:
        assert controller.start() is True
        assert controller.running
    report = finished.args[0]

    assert isinstance(report, dict) and report["sent"] == 4 and report["submitted"] == 4
    assert not controller.running
    assert sorted(changes) == [(i, Status.SUBMITTED.value) for i in ids]
    # one signal per committed batch of two, not one per record
    assert [len(batch) for batch in batches] == [2, 2]
    assert all(isinstance(cid, int) and isinstance(status, str) for batch in batches for cid, status in batch)
    assert progress[0] == (0, 4) and progress[-1] == (4, 4)
    assert threading.get_ident() not in pars.worker_threads


def test_start_while_running_is_a_no_op(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 2)
    pars = GatedPars()
    controller = SyncController(lambda: SyncEngine(store, pars))
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        assert controller.start() is True
        assert pars.sending.wait(30)  # the worker thread starts late on a loaded machine
        assert controller.start() is False
        pars.gate.set()
    assert pars.calls.count("SaveLearnerActivity") == 1


def test_cancel_stops_after_the_batch_in_progress_and_leaves_the_rest_queued(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 10)
    pars = GatedPars()
    controller = SyncController(lambda: SyncEngine(store, pars, batch_size=3))

    with qtbot.waitSignal(controller.finished, timeout=60_000) as finished:
        controller.start()
        assert pars.sending.wait(30)  # the worker thread starts late on a loaded machine
        controller.cancel()
        pars.gate.set()

    assert finished.args[0]["stopped"] is True and finished.args[0]["sent"] == 3
    assert list(statuses(store).values()).count(Status.SUBMITTED.value) == 3
    rows = outbox_rows(store)
    assert len(rows) == 7 and not any(row.in_flight for row in rows)


def test_wait_stopped_joins_the_thread_for_a_clean_shutdown(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 6)
    pars = GatedPars()
    controller = SyncController(lambda: SyncEngine(store, pars, batch_size=2))
    controller.start()
    assert pars.sending.wait(30)  # the worker thread starts late on a loaded machine
    controller.cancel()
    pars.gate.set()
    assert controller.wait_stopped(10_000) is True
    assert not controller.running
    assert not any(row.in_flight for row in outbox_rows(store))


def test_a_failing_factory_reports_failed_and_finishes(qtbot):
    def broken() -> SyncEngine:
        raise RuntimeError("no PARS credentials are stored for environment 'accme-sandbox'")

    controller = SyncController(broken)
    messages: list[str] = []
    controller.failed.connect(messages.append)
    with qtbot.waitSignal(controller.finished, timeout=10_000) as finished:
        controller.start()
    assert len(messages) == 1
    assert "could not start" in messages[0] and "credentials" in messages[0]
    assert finished.args[0]["fatal"] == messages[0]
    assert not controller.running


def test_refused_credentials_emit_failed_with_one_sentence(qtbot, store):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 1)
    pars = ScriptedPars(script=["auth"])
    worker = SyncWorker(lambda: SyncEngine(store, pars))
    with qtbot.waitSignal(worker.failed, timeout=5_000) as failed:
        worker.run()  # the worker is a plain QObject: it runs in the calling thread too
    assert "credentials" in failed.args[0]
