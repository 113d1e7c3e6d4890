"""Office-wide exactly once: several desks sync one store at the same moment.

At most one pass runs per store at a time (the office database's advisory lock, or the file lock
beside a SQLite store), claiming outbox rows is transactional, and a desk killed in the middle of a
pass leaves nothing lost and nothing sent twice. The proof runs two `parsdesk sync` processes and
the app's sync worker against the same store and the real sandbox, killing whichever process holds
the lock with SIGKILL, again and again; on both engines."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sqlalchemy import text

from app.models import Store
from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS
from app.pars.domain import Status
from app.sync.engine import OFFICE_SYNC_LOCK_KEY, SyncEngine, make_engine_factory, pass_lock, resolve_target
from app.sync.worker import SyncController
from tests.sync_support import (
    ScriptedPars,
    add_activity,
    outbox_rows,
    queue_records,
    running_sandbox,
    sandbox_records,
    statuses_by_credit_id,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """One store several desks use: a SQLite file, or an office database on the test server."""
    if request.param == "sqlite":
        opened = Store.open(tmp_path / "office.sqlite3")
    else:
        try:
            url = request.getfixturevalue("postgres_url")
        except pytest.FixtureLookupError:
            pytest.skip("no PostgreSQL test server fixture (tests/pg_support.py) in this tree")
        opened = Store.open(url)
    yield opened
    opened.close()


def location(store: Store) -> str:
    """What `--db` takes to open this store."""
    return str(getattr(store, "location", None) or store.path)


def lock_holder_pid(store: Store) -> int | None:
    """The process whose sync pass holds the store's lock right now, if any."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as connection:
            name = connection.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :high AND l.objid = :low"
                ),
                {"high": OFFICE_SYNC_LOCK_KEY >> 32, "low": OFFICE_SYNC_LOCK_KEY & 0xFFFFFFFF},
            ).scalar()
        found = re.search(r"pid (\d+)$", name or "")
        return int(found.group(1)) if found else None
    lock_file = Path(f"{store.path}.sync-lock")
    if not lock_file.exists():
        return None
    inode = str(lock_file.stat().st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()  # "1: FLOCK  ADVISORY  WRITE 2856 00:2a:2345 0 EOF"
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == inode:
            return int(parts[4])
    return None


def _desk(db: str, url: str, env: dict[str, str], folder: Path) -> subprocess.Popen:
    """`parsdesk sync` in its loop, as a cron-like desk would run it, in a folder of its own (as if
    on a computer of its own: nothing but the store may keep two desks apart)."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "sync", "-q", "--db", db, "--url", url, "--batch-size", "20",
         "--interval", "0.1"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def test_a_second_pass_is_skipped_while_another_desk_holds_the_lock(shared_store):
    activity = add_activity(shared_store, accme_id="123456789")
    queue_records(shared_store, activity, 2)
    pars = ScriptedPars()
    other_desk = pass_lock(shared_store)
    assert other_desk.acquire()
    try:
        skipped = SyncEngine(shared_store, pars).run()
    finally:
        other_desk.release()
    assert skipped.skipped and skipped.sent == 0 and pars.calls == []
    after = SyncEngine(shared_store, pars).run()
    assert not after.skipped and after.sent == 2


def test_the_lock_of_a_killed_desk_is_released(qtbot, shared_store):
    """A process holding the lock is SIGKILLed: the next pass runs (the OS or the database server
    releases the lock with the dead process's file or connection)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from app.models import Store; from app.sync.engine import pass_lock\n"
            f"lock = pass_lock(Store.open({location(shared_store)!r}, migrate_schema=False))\n"
            "assert lock.acquire(); print('held', flush=True); time.sleep(60)"
        )],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert lock_holder_pid(shared_store) == holder.pid
        assert not pass_lock(shared_store).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    lock = pass_lock(shared_store)
    qtbot.waitUntil(lock.acquire, timeout=5_000)  # the server notices the closed socket at once
    lock.release()


def test_two_sync_commands_and_the_app_killed_at_random_still_send_every_record_exactly_once(
    qtbot, shared_store, tmp_path
):
    store = shared_store
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 600, label="w0")
    env = {**os.environ, "PARSDESK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    rng = random.Random(20261203)
    kills = kills_mid_pass = app_passes = 0
    rounds = 0
    with running_sandbox(latency_ms=25) as sandbox:
        target = resolve_target("local", base_url=sandbox.url, credentials=SANDBOX_DEMO_CREDENTIALS)
        app = SyncController(make_engine_factory(location(store), target, batch_size=20, actor="app"))
        started = iter(range(1000))

        def new_desk() -> subprocess.Popen:
            return _desk(location(store), sandbox.url, env, tmp_path / f"desk{next(started)}")

        desks = [new_desk(), new_desk()]
        try:
            import time

            deadline = time.monotonic() + 120
            while kills < 6 and time.monotonic() < deadline:
                if not app.running:
                    app.start(poll=False)
                    app_passes += 1
                if not any(row for row in outbox_rows(store) if not row.in_flight):
                    rounds += 1  # keep work coming, so that kills land in passes that send
                    queue_records(store, activity, 300, label=f"w{rounds}")
                holder = lock_holder_pid(store)
                desk = next((d for d in desks if d.pid == holder), None)
                if desk is None:
                    qtbot.wait(20)
                    continue
                qtbot.wait(rng.randint(0, 200))  # a random moment of its pass, preferably with batches out
                for _ in range(50):
                    if any(row.in_flight for row in outbox_rows(store)):
                        break
                    qtbot.wait(5)
                if lock_holder_pid(store) != desk.pid:
                    continue
                in_flight = any(row.in_flight for row in outbox_rows(store))
                desk.send_signal(signal.SIGKILL)
                desk.wait(10)
                kills += 1
                kills_mid_pass += in_flight
                desks[desks.index(desk)] = new_desk()
        finally:
            for desk in desks:
                desk.send_signal(signal.SIGTERM)
            for desk in desks:
                try:
                    desk.wait(30)
                except subprocess.TimeoutExpired:
                    desk.kill()
                    desk.wait()
            app.cancel()
            assert app.wait_stopped(60_000)
        # a last clean pass settles what the kills left in flight
        final = subprocess.run(
            [sys.executable, "-m", "app.cli", "sync", "--once", "--db", location(store), "--url", sandbox.url],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )
        assert final.returncode == 0, final.stderr
        seen = sandbox_records(sandbox)

    print(f"kills {kills} (mid-pass {kills_mid_pass}), app passes {app_passes}, extra rounds {rounds}")
    assert kills >= 6, f"only {kills} kills landed in 120 s"
    assert kills_mid_pass >= 3, "most kills should land while batches are at PARS (unknown outcome)"
    assert app_passes > 1
    local = statuses_by_credit_id(store)
    assert len(local) == 600 + 300 * rounds and sorted(seen) == sorted(local)
    assert [credit_id for credit_id, entry in seen.items() if entry["received"] != 1] == []
    assert {credit_id: entry["status"] for credit_id, entry in seen.items()} == local
    assert set(local.values()) == {Status.ACCEPTED.value}
    assert outbox_rows(store) == []


def test_a_pass_that_loses_the_office_lock_stops_claiming_work(shared_store):
    """The office lock lives with its connection: when the server drops that connection (a network
    cut, an administrator), another desk may start a pass, so this one claims nothing more."""
    if shared_store.engine.dialect.name != "postgresql":
        pytest.skip("the file lock of a SQLite store cannot be lost while its process lives")
    activity = add_activity(shared_store, accme_id="123456789")
    queue_records(shared_store, activity, 10)
    pars = ScriptedPars()
    sent_batches = []

    class CutAfterFirstBatch:
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(pars, name)

        def save_learner_activity(self, records):  # noqa: ANN001, ANN201
            sent_batches.append(len(records))
            if len(sent_batches) == 1:
                with shared_store.engine.connect() as admin:
                    admin.execute(text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND classid = :high AND objid = :low"
                    ), {"high": OFFICE_SYNC_LOCK_KEY >> 32, "low": OFFICE_SYNC_LOCK_KEY & 0xFFFFFFFF})
            return pars.save_learner_activity(records)

    report = SyncEngine(shared_store, CutAfterFirstBatch(), batch_size=4).run(poll=False)

    assert sent_batches == [4] and report.sent == 4
    assert any("lost the sync lock" in problem for problem in report.problems)
    rows = outbox_rows(shared_store)
    assert len(rows) == 6 and not any(row.in_flight for row in rows)  # the rest waits, nothing in doubt
    assert SyncEngine(shared_store, pars, batch_size=4).run(poll=False).sent == 6
