"""The offline-first sync engine: sends the outbox to PARS exactly once and follows records to the end.

One `run()` is a pass over the store:

1. register activities that have queued records but no ACCME ID yet (SaveActivity);
2. recovery: every outbox row left `in_flight` (a crash, a kill, a timeout: the outcome is unknown)
   is looked up by creditID *before anything is sent*. Found -> the answer is applied and the row
   leaves the outbox; NotFound -> it becomes sendable again. This lookup is the only way a creditID
   is ever sent a second time, so PARS never receives one creditID as two records;
3. adds are sent in batches. Each batch is marked in flight and committed *before* the HTTP call,
   and its answers are applied (status, code, message, history event, outbox row removed) in one
   transaction after it;
4. poll: records Submitted / Delete Submitted are asked for their status (the boards answer later);
5. deletes: each record is looked up first. PARS refuses to delete a Submitted record, so those
   wait in the outbox for the board's answer; the others are sent in batches like adds;
6. `last_sync_at` is stored when the pass completed, or when PARS answered any of its calls before it stopped.

`should_stop()` is checked between batches; every batch is committed on its own, so stopping (or
being killed) at any point leaves a store the next run continues from.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

from sqlalchemy import Connection, Engine, delete, func, literal, select, text, true, update
from sqlalchemy.orm import Session, selectinload

from app.models.schema import ActivityRow, CompletionRow, Meta, OutboxRow, StatusEvent, utcnow
from app.models.store import Store
from app.pars.client import (
    ParsAuthError,
    ParsClient,
    ParsProtocolError,
    ParsRequestError,
    ParsUnavailable,
    RecordResult,
)
from app.pars import xml_codec
from app.pars.credentials import LOCAL_ENVIRONMENT, CredentialStoreError, Credentials, load_credentials
from app.pars.domain import Activity, Completion, RecordAction, Status
from app.pars.environments import (
    DEFAULT_IN_FLIGHT,  # noqa: F401 - re-exported for the window and the bench
    LOCAL_SANDBOX_URL,
    MAX_IN_FLIGHT,
    Environment,
    EnvironmentConfigError,
    environment,
)
from app.services.activities import activity_to_domain
from app.services.records import completions_to_domain
from app.wording import plural

log = logging.getLogger(__name__)

NOT_FOUND = "NotFound"
SANDBOX_URL_ENV = "PARSDESK_SANDBOX_URL"  # where `parsdesk sync --env local` finds the running sandbox
LAST_SYNC_KEY = "last_sync_at"
# Start of ActivityRow.registration_error when a SaveActivity's outcome is unknown: not retried by itself.
MAYBE_REGISTERED = "PARS may have registered this activity already"

# Retry delays after a failed send (attempt 1, 2, ...), capped: a down server is not hammered by the
# interval loop, and a record is never given up on.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)

# Seconds a pass waits before asking PARS about records an earlier pass left in flight (see
# _Pass._let_pars_finish). Only passes that follow a crash, a kill or a timeout pay it.
RECOVERY_SETTLE_SECONDS = 2.0

# Batches at PARS at once in the app and `parsdesk sync` (an environment may set its own, up to
# MAX_IN_FLIGHT): a few hide the round trip (at 200 ms most of a one-at-a-time pass is spent
# waiting) without loading PARS with many parallel requests. (DEFAULT_IN_FLIGHT and MAX_IN_FLIGHT
# live with the environments and are imported from here by the window and the bench.)

ProgressCallback = Callable[[int, int], None]
ChangeCallback = Callable[[int, str], None]
StopCheck = Callable[[], bool]


class ParsApi(Protocol):
    """The part of `app.pars.client.ParsClient` the engine uses."""

    def save_learner_activity(self, records: list[tuple[RecordAction, Completion]]) -> list[RecordResult]: ...

    def status_by_credit_ids(self, credit_ids: list[str]) -> list[RecordResult]: ...

    def save_activity(self, activity: Activity) -> str: ...


_COUNTED_STATUSES = {
    Status.SUBMITTED.value: "submitted",
    Status.ACCEPTED.value: "accepted",
    Status.REJECTED.value: "rejected",
    Status.DELETE_SUBMITTED.value: "delete_submitted",
    Status.DELETED.value: "deleted",
}


@dataclass
class SyncReport:
    """What one pass did. Counts are records; `fatal` is set when the run had to stop (credentials)."""

    sent: int = 0  # records PARS answered for (adds and deletes)
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    delete_submitted: int = 0
    deleted: int = 0
    recovered: int = 0  # in-flight records whose outcome a lookup settled without resending
    resent_after_lookup: int = 0  # in-flight records PARS had not received, made sendable again
    waiting_deletes: int = 0  # deletes held back because PARS still processes the record
    parked: int = 0  # records set aside with their reason: unwritable as PARS XML, or refused as a whole
    errors: int = 0  # records that could not be sent or settled in this pass (parked ones included)
    activities_registered: int = 0
    activities_updated: int = 0
    left_in_outbox: int = 0
    stopped: bool = False  # should_stop() ended the pass early
    skipped: bool = False  # another pass was running on the same store; this one did nothing
    fatal: str | None = None  # the pass was stopped (credentials refused, ...)
    problems: list[str] = field(default_factory=list)  # one sentence each, no personal data
    started_at: str = ""
    finished_at: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def count_status(self, status: str) -> None:
        attribute = _COUNTED_STATUSES.get(status)
        if attribute:
            setattr(self, attribute, getattr(self, attribute) + 1)


class _Stopped(Exception):
    """should_stop() asked the pass to end."""


class _Abort(Exception):
    """PARS cannot be reached or answered nonsense: the rest of this pass is pointless."""


# Results PARS gives to an Add, and to a Delete it carried out.
_ADD_RESULTS = {Status.SUBMITTED.value, Status.ACCEPTED.value, Status.REJECTED.value}
_DELETE_DONE = {Status.DELETE_SUBMITTED.value, Status.DELETED.value}
_PARS_STATUSES = _ADD_RESULTS | _DELETE_DONE
_WAITING_MESSAGE = "Waiting: PARS still processes this record (Submitted); the delete is sent once the board answers"


class PassLock:
    """One sync pass per SQLite store at a time, across threads and processes (desktop app + cron).

    An OS file lock on `<store>.sync-lock`: the operating system releases it when its holder
    exits, however it exits (even SIGKILL), so a crash never leaves the store locked. A SQLite
    store lives on one computer (its locking is not to be trusted on network drives), so a lock of
    that computer's is enough.
    """

    def __init__(self, store_path: Path) -> None:
        self.path = Path(f"{store_path}.sync-lock")
        self._handle: IO[bytes] | None = None

    def acquire(self) -> bool:
        handle = open(self.path, "a+b")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def still_held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()


# The key of the office database's sync lock (pg_try_advisory_lock takes a bigint): "PDSYNC01".
OFFICE_SYNC_LOCK_KEY = int.from_bytes(b"PDSYNC01", "big")


class OfficePassLock:
    """One sync pass per office database at a time, across every desk: a PostgreSQL session-level
    advisory lock, held by a connection of its own for the whole pass. The server releases it when
    that connection ends, however it ends: a desk that crashes, is killed or loses its network never
    leaves the office locked (the server notices a dead connection when the socket closes, or at
    the latest through TCP keepalives)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        connection = self._engine.connect()
        try:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": OFFICE_SYNC_LOCK_KEY}
            ).scalar()
            if taken:
                # who holds it, for an administrator looking at pg_stat_activity (and the tests)
                connection.execute(
                    text("SELECT set_config('application_name', :name, false)"),
                    {"name": f"ParsDesk sync pass: {socket.gethostname()} pid {os.getpid()}"[:63]},
                )
            connection.commit()  # the lock belongs to the session, not to this transaction
        except BaseException:
            _discard(connection)
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def still_held(self) -> bool:
        """False when the lock's connection was lost: another desk may have started a pass."""
        connection = self._connection
        if connection is None:
            return False
        try:
            held = connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = :high AND objid = :low AND objsubid = 1"
                ),
                {"high": OFFICE_SYNC_LOCK_KEY >> 32, "low": OFFICE_SYNC_LOCK_KEY & 0xFFFFFFFF},
            ).scalar()
            connection.commit()
        except Exception:
            log.warning("sync: the office database's sync lock was lost with its connection")
            self._connection = None
            _discard(connection)
            return False
        return bool(held)

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": OFFICE_SYNC_LOCK_KEY})
            connection.commit()
        except Exception:
            log.warning("sync: releasing the office sync lock failed; closing its connection releases it")
        # never back to the pool: a connection that might still hold the lock is closed for good
        _discard(connection)


def _discard(connection: Connection) -> None:
    """Close a connection for good (not back to the pool), whatever state it is in."""
    try:
        connection.invalidate()
    except Exception:
        log.debug("invalidating the lock's connection failed", exc_info=True)
    try:
        connection.close()
    except Exception:
        log.debug("closing the lock's connection failed", exc_info=True)


def pass_lock(store: Store) -> PassLock | OfficePassLock:
    """The lock that keeps a store's sync passes one at a time: the office database's own lock, or
    a file lock beside a SQLite store."""
    if store.engine.dialect.name == "postgresql":
        return OfficePassLock(store.engine)
    assert store.path is not None
    return PassLock(store.path)


def queued_count(session: Session) -> int:
    """Records waiting in the outbox (adds and deletes, including ones whose send is in flight)."""
    return session.scalar(select(func.count()).select_from(OutboxRow)) or 0


def backoff_delay(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SyncEngine:
    def __init__(
        self,
        store: Store,
        client: ParsApi,
        *,
        batch_size: int = 500,
        in_flight: int = 1,
        client_factory: Callable[[], ParsApi] | None = None,
        actor: str = "sync",
        clock: Callable[[], datetime] = utcnow,
        owns_resources: bool = False,
        recovery_settle_seconds: float = RECOVERY_SETTLE_SECONDS,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 1 <= in_flight <= MAX_IN_FLIGHT:
            raise ValueError(f"in_flight must be from 1 to {MAX_IN_FLIGHT}")
        self.store = store
        self.client = client
        self.batch_size = batch_size
        # batches at PARS at once; above 1 they are sent from threads, each with a client of its own
        # from `client_factory` (or sharing `client`, which must then be thread-safe)
        self.in_flight = in_flight
        self.client_factory = client_factory
        self._idle_clients: queue.SimpleQueue[ParsApi] = queue.SimpleQueue()
        self._idle_clients.put(client)
        self._made_clients: list[ParsApi] = []
        self._clients_lock = threading.Lock()
        self.actor = actor
        self.clock = clock
        self.recovery_settle_seconds = recovery_settle_seconds
        # when True, close() also closes the store and the client (a worker thread built both)
        self.owns_resources = owns_resources

    # --- public ---------------------------------------------------------------------------------

    def run(
        self,
        on_progress: ProgressCallback | None = None,
        on_change: ChangeCallback | None = None,
        should_stop: StopCheck | None = None,
        poll: bool = True,
        respect_backoff: bool = False,
    ) -> SyncReport:
        """One pass. `respect_backoff` skips records whose retry time has not come (interval loops);
        a user's "Sync now" leaves it False and retries everything at once."""
        report = SyncReport(started_at=self.clock().isoformat(timespec="seconds"))
        lock = pass_lock(self.store)
        if not lock.acquire():
            # Another pass (the desktop app, a cron job) owns this store's outbox right now; running
            # beside it would take its in-flight batch for a crashed one and ask, then resend, it.
            report.skipped = True
            report.problems.append("another sync is running on this store; this pass was skipped")
            report.finished_at = report.started_at
            with self.store.session() as session:
                report.left_in_outbox = queued_count(session)
            return report
        try:
            return self._run_locked(report, lock, on_progress, on_change, should_stop, poll, respect_backoff)
        finally:
            lock.release()

    def _run_locked(
        self,
        report: SyncReport,
        lock: PassLock | OfficePassLock,
        on_progress: ProgressCallback | None,
        on_change: ChangeCallback | None,
        should_stop: StopCheck | None,
        poll: bool,
        respect_backoff: bool,
    ) -> SyncReport:
        pass_ = _Pass(self, report, lock, on_progress, on_change, should_stop or (lambda: False), respect_backoff)
        completed = False
        try:
            pass_.plan(poll)
            pass_.register_activities()
            pass_.update_activities()  # before records are judged against the activity's dates
            pass_.recover()
            pass_.send_adds()
            pass_.poll_and_delete(poll)
            completed = True
        except _Stopped:
            report.stopped = True
        except _Abort:
            # the cause is already in report.problems; everything stays queued for next time
            pass_.abandoned()
        except ParsAuthError as exc:
            report.fatal = f"PARS refused the credentials; nothing more was sent ({exc})"
            report.problems.append(report.fatal)
        finished = self.clock()
        report.finished_at = finished.isoformat(timespec="seconds")
        with self.store.transaction() as session:
            report.left_in_outbox = queued_count(session)
            # "Last sync" is the last time PARS answered: a pass that settled records and then lost
            # the connection (or was cancelled) still synced them, and must not read "Never synced"
            if completed or pass_.answered:
                session.merge(Meta(key=LAST_SYNC_KEY, value=finished.isoformat(timespec="seconds")))
        return report

    def _borrow_client(self) -> ParsApi:
        """A client no other sender is using: `client`, or one made by `client_factory` (shared
        `client` when there is no factory)."""
        try:
            return self._idle_clients.get_nowait()
        except queue.Empty:
            pass
        if self.client_factory is None:
            return self.client
        made = self.client_factory()
        with self._clients_lock:
            self._made_clients.append(made)
        return made

    def _return_client(self, client: ParsApi) -> None:
        if client is not self.client or self.client_factory is not None:
            self._idle_clients.put(client)

    def close(self) -> None:
        with self._clients_lock:
            made, self._made_clients = self._made_clients, []
        for client in made:  # the senders' clients are the engine's own, whoever made `client`
            close_made = getattr(client, "close", None)
            if callable(close_made):
                try:
                    close_made()
                except Exception:
                    log.exception("closing a sync client failed")
        if not self.owns_resources:
            return
        close_client = getattr(self.client, "close", None)
        if callable(close_client):
            close_client()
        self.store.close()

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _Item(NamedTuple):
    """An outbox row as the pass handles it (plain values, no ORM state)."""

    id: int
    completion_id: int
    credit_id: str
    action: str
    attempts: int


@dataclass(frozen=True, slots=True)
class _Change:
    completion_id: int
    status: str
    source: str
    code: int | None
    message: str | None


@dataclass(frozen=True, slots=True)
class _Batch:
    """Outbox rows claimed for one request, with the records to send (built from the store)."""

    action: RecordAction
    items: list[_Item]
    records: list[tuple[RecordAction, Completion]]
    document: bytes | None = None  # the request, when the client writes it apart from sending it


@dataclass(frozen=True, slots=True)
class _Sent:
    """What became of one request: PARS's results, or the exception the call raised."""

    results: list[RecordResult] | None = None
    error: Exception | None = None
    unsent: bool = False  # the error came before anything was sent


class _Senders:
    """Where batches go out: in the pass's own thread when one batch is in flight at a time, else
    from a pool of threads, each call with a client of its own (a client is not shared by two
    requests at once). Only HTTP happens in these threads; the store is left to the pass's thread.
    Clients are made when first needed and kept for the engine's life (making one loads the
    certificate store: tens of milliseconds)."""

    def __init__(self, engine: SyncEngine) -> None:
        self.capacity = engine.in_flight
        self._engine = engine
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> _Senders:
        if self.capacity > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="parsdesk-sync-send")
        return self

    def submit(self, batch: _Batch) -> Future[_Sent]:
        if self._pool is None:
            future: Future[_Sent] = Future()
            future.set_result(self._send(self._engine.client, batch))
            return future
        return self._pool.submit(self._send_pooled, batch)

    def _send_pooled(self, batch: _Batch) -> _Sent:
        try:
            client = self._engine._borrow_client()
        except Exception as exc:  # making a client failed: nothing was sent
            return _Sent(error=exc, unsent=True)
        try:
            return self._send(client, batch)
        finally:
            self._engine._return_client(client)

    @staticmethod
    def _send(client: ParsApi, batch: _Batch) -> _Sent:
        try:
            if batch.document is not None:
                return _Sent(results=client.send_learner_activity(batch.document, len(batch.records)))  # type: ignore[attr-defined]
            return _Sent(results=client.save_learner_activity(batch.records))
        except Exception as exc:  # judged by the pass's thread (_Pass._settle)
            return _Sent(error=exc)

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if self._pool is not None:
            # Calls already out are waited for even when the pass leaves on an error (a store error
            # while claiming or storing): the pass releases the store's sync lock next, and a pass
            # that then asked PARS about their rows while they were still on their way would hear
            # NotFound and send them a second time. Their answers are not stored: the rows stay in
            # flight and the next pass asks about them once PARS has them. A call not started yet is
            # cancelled (its rows were never sent; the lookup finds them unknown and they go again).
            self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)


# Characters XML 1.0 cannot carry at all (lxml refuses to write them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text_fields(completion: Completion) -> Iterator[tuple[str, object]]:
    """(field name, value) of every text a record's XML carries, named as the coordinator knows them."""
    learner = completion.learner
    yield from (
        ("first name", learner.first_name),
        ("last name", learner.last_name),
        ("date of birth", learner.birth_date),
        ("licensing state", learner.licensing_state),
        ("license ID", learner.license_id),
        ("credit ID", completion.credit_id),
        ("activity ID", completion.activity_id),
    )
    for board in completion.boards:
        yield f"{board.board} board code", board.board
        yield f"{board.board} diplomate ID", board.board_id
        for credit_type in board.credit_types:
            yield f"{board.board} credit type name", credit_type
    if completion.rems is not None:
        rems = completion.rems
        yield from (
            ("REMS profession", rems.profession),
            ("REMS state of practice", rems.state_of_practice),
            ("REMS DEA registration", rems.dea_registration),
            ("REMS practice area", rems.practice_area),
            ("REMS time in practice", rems.time_in_practice),
        )


def _unwritable(batch: _Batch) -> list[tuple[_Item, str]]:
    """The batch's records that cannot be written as PARS XML, each with why (a field and a code
    point, never the value: it is personal data)."""
    found: list[tuple[_Item, str]] = []
    for item, (action, record) in zip(batch.items, batch.records, strict=True):
        try:
            xml_codec.render_report(dataclasses.replace(record, action=action), "0000000")
        except Exception as exc:
            found.append((item, _unwritable_reason(record, exc)))
    return found


def _unwritable_reason(record: Completion, exc: Exception) -> str:
    for name, value in _text_fields(record):
        if isinstance(value, str) and (bad := _NOT_XML.search(value)):
            code_point = ord(bad.group())
            kind = "control character" if code_point < 0x20 else "character"
            return f"its {name} holds {kind} U+{code_point:04X}, which PARS XML cannot carry"
    return f"it cannot be written as PARS XML ({type(exc).__name__})"


class _Pass:
    """The state of one run: report, callbacks, progress, and the records this pass already settled.

    Answers are written with bulk statements (one UPDATE executemany, one INSERT of history events,
    one DELETE of outbox rows per batch): per-object ORM bookkeeping would cost more than PARS's
    round trip. Each change matches what `app.services.records.set_status` writes.
    """

    def __init__(
        self,
        engine: SyncEngine,
        report: SyncReport,
        lock: PassLock | OfficePassLock,
        on_progress: ProgressCallback | None,
        on_change: ChangeCallback | None,
        should_stop: StopCheck,
        respect_backoff: bool,
    ) -> None:
        self.engine = engine
        self.lock = lock
        self.store = engine.store
        self.client = engine.client
        self.report = report
        self.on_progress = on_progress
        self.on_change = on_change
        self.should_stop = should_stop
        self.respect_backoff = respect_backoff
        self.done = 0
        self.total = 0
        # the client writes a request apart from sending it (ParsClient): done in this thread
        self._writes_requests = callable(getattr(self.client, "learner_activity_request", None)) and callable(
            getattr(self.client, "send_learner_activity", None)
        )
        self.touched: set[int] = set()  # completion ids settled in this pass (not polled again)
        self.failed: set[int] = set()  # outbox ids counted in report.errors
        self.answered = False  # PARS answered at least one call of this pass

    # --- bookkeeping ----------------------------------------------------------------------------

    def _due(self):  # noqa: ANN202 - a SQL expression
        if not self.respect_backoff:
            return true()
        now = self.engine.clock()
        return (OutboxRow.next_attempt_at.is_(None)) | (OutboxRow.next_attempt_at <= now)

    def plan(self, poll: bool) -> None:
        with self.store.session() as s:
            total = s.scalar(select(func.count()).select_from(OutboxRow).where(self._due())) or 0
            if poll:
                total += (
                    s.scalar(
                        select(func.count())
                        .select_from(CompletionRow)
                        .where(CompletionRow.status.in_((Status.SUBMITTED.value, Status.DELETE_SUBMITTED.value)))
                    )
                    or 0
                )
        self.total = total
        self._progress(0)

    def _progress(self, advanced: int) -> None:
        self.done += advanced
        self.total = max(self.total, self.done)  # records queued while we run may add to the plan
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def _announce(self, changes: list[_Change]) -> None:
        """After the commit: tell the caller which records changed (plain ids and strings)."""
        if self.on_change is None:
            return
        for change in changes:
            self.on_change(change.completion_id, change.status)

    def _check_stop(self) -> None:
        if self.should_stop():
            raise _Stopped

    def _check_lock(self) -> None:
        """Before work is claimed or looked up: this pass still holds the store's sync lock (the
        office database's lock goes with its connection; without it another desk may be syncing)."""
        if not self.lock.still_held():
            self._problem("this pass lost the sync lock (its database connection dropped); the next pass carries on")
            raise _Abort

    def _fail(self, outbox_ids: Iterable[int]) -> None:
        """Count outbox rows this pass could not send or settle (each once)."""
        for outbox_id in outbox_ids:
            if outbox_id not in self.failed:
                self.failed.add(outbox_id)
                self.report.errors += 1

    def abandoned(self) -> None:
        """The pass ended early: every due row it did not get to stayed queued, and counts as such."""
        with self.store.session() as s:
            due = s.scalars(select(OutboxRow.id).where(self._due())).all()
        self._fail(due)

    def _problem(self, message: str) -> None:
        log.warning("sync: %s", message)
        self.report.problems.append(message)

    def _change(
        self,
        changes: list[_Change],
        completion_id: int,
        status: str,
        *,
        source: str,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        changes.append(_Change(completion_id, status, source, code, message))
        self.report.count_status(status)
        self.touched.add(completion_id)

    def _adopt(self, changes: list[_Change], completion_id: int, result: RecordResult, *, source: str) -> None:
        """Take PARS's answer as the record's status, with its code and message."""
        self._change(changes, completion_id, result.status, source=source, code=result.code, message=result.message)

    def _write(self, s: Session, changes: list[_Change], settled_outbox_ids: list[int]) -> None:
        """Store status changes with their history events, and drop the settled outbox rows."""
        if changes:
            now = utcnow()
            # Core statements on the tables: the ORM's per-row bookkeeping would dominate a batch.
            # The records of a batch nearly all get the same answer (Accepted or Submitted, no code):
            # one UPDATE per distinct answer, not one per record.
            completions = CompletionRow.__table__
            last = {c.completion_id: c for c in changes}  # a record changed twice keeps the last
            alike: dict[tuple[str, str, int | None, str | None], list[int]] = {}
            for c in last.values():
                alike.setdefault((c.status, c.source, c.code, c.message), []).append(c.completion_id)
            for (status, source, code, message), completion_ids in alike.items():
                s.execute(
                    completions.update()
                    .where(completions.c.id.in_(completion_ids))
                    .values(status=status, status_code=code, status_message=message, status_source=source,
                            updated_at=now)
                )
            events = StatusEvent.__table__
            if len(last) < len(changes):
                # a record changed twice in one batch: its events go in the order of its changes
                s.execute(
                    events.insert(),
                    [
                        {"completion_id": c.completion_id, "at": now, "status": c.status, "source": c.source,
                         "actor": self.engine.actor, "code": c.code, "message": c.message}
                        for c in changes
                    ],
                )
                return self._drop_settled(s, settled_outbox_ids)
            # the history events likewise: one INSERT ... SELECT per distinct answer
            columns = ("completion_id", "at", "status", "source", "actor", "code", "message")
            for (status, source, code, message), completion_ids in alike.items():
                s.execute(
                    events.insert().from_select(
                        columns,
                        select(
                            completions.c.id,
                            *(literal(value, events.c[name].type) for name, value in zip(
                                columns[1:], (now, status, source, self.engine.actor, code, message), strict=True
                            )),
                        ).where(completions.c.id.in_(completion_ids)).order_by(completions.c.id),
                    )
                )
        self._drop_settled(s, settled_outbox_ids)

    @staticmethod
    def _drop_settled(s: Session, settled_outbox_ids: list[int]) -> None:
        if settled_outbox_ids:
            s.execute(delete(OutboxRow).where(OutboxRow.id.in_(settled_outbox_ids)))

    @staticmethod
    def _items(
        s: Session, outbox_ids: Sequence[int], *, in_flight: bool | None = None, claim: bool = False
    ) -> list[_Item]:
        query = select(
            OutboxRow.id, OutboxRow.completion_id, OutboxRow.credit_id, OutboxRow.action, OutboxRow.attempts
        ).where(OutboxRow.id.in_(outbox_ids))
        if in_flight is not None:
            query = query.where(OutboxRow.in_flight.is_(in_flight))
        if claim:
            # PostgreSQL: the rows stay locked until this claim commits, and rows another desk is
            # claiming right now are left to it (SQLite has one writer at a time and ignores this)
            query = query.with_for_update(skip_locked=True)
        return [_Item(*row) for row in s.execute(query.order_by(OutboxRow.id))]

    @staticmethod
    def _release(
        s: Session, outbox_ids: Sequence[int], reason: str | None, retry_at: datetime | None = None
    ) -> None:
        """Back to sendable: PARS certainly does not hold these (or was never reached)."""
        if outbox_ids:
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(outbox_ids))
                .values(in_flight=False, last_error=reason, next_attempt_at=retry_at)
            )

    @staticmethod
    def _note(s: Session, outbox_ids: Sequence[int], reason: str) -> None:
        if outbox_ids:
            s.execute(update(OutboxRow).where(OutboxRow.id.in_(outbox_ids)).values(last_error=reason))

    def _lookup(self, credit_ids: list[str], what: str, failed_ids: Sequence[int]) -> dict[str, RecordResult]:
        try:
            results = self.client.status_by_credit_ids(credit_ids)
        except (ParsUnavailable, ParsProtocolError, ParsRequestError) as exc:
            self._problem(f"could not ask PARS about {plural(len(credit_ids), 'record')} {what}: {exc}")
            self._fail(failed_ids)
            raise _Abort from exc
        self.answered = True
        return {result.credit_id: result for result in results}

    # --- 1. activities --------------------------------------------------------------------------

    def register_activities(self) -> None:
        with self.store.session() as s:
            pending = s.scalars(
                select(ActivityRow)
                .where(ActivityRow.accme_id.is_(None))
                .where(
                    ActivityRow.id.in_(
                        select(CompletionRow.activity_id).join(OutboxRow, OutboxRow.completion_id == CompletionRow.id)
                    )
                )
                .options(selectinload(ActivityRow.boards))
                .order_by(ActivityRow.id)
            ).all()
            activities = []
            for row in pending:
                if (row.registration_error or "").startswith(MAYBE_REGISTERED):
                    self._problem(f"activity {row.title!r} waits for its PARS activity ID to be entered")
                    self._fail(
                        s.scalars(
                            select(OutboxRow.id).join(CompletionRow, CompletionRow.id == OutboxRow.completion_id)
                            .where(CompletionRow.activity_id == row.id)
                        )
                    )
                else:
                    activities.append((row.id, row.title, activity_to_domain(row)))
        for activity_row_id, title, activity in activities:
            self._check_stop()
            try:
                accme_id = self.client.save_activity(activity)
                self.answered = True
            except ParsUnavailable as exc:
                if exc.maybe_delivered:
                    # Registering is not idempotent: sending again could create a second activity in
                    # PARS. A person checks PARS and enters the ID (or clears the note to retry).
                    reason = (
                        f"{MAYBE_REGISTERED} (the answer was lost: {exc}). Look the activity up in PARS and "
                        "enter its activity ID; clear this note to register it again."
                    )
                else:
                    reason = f"PARS could not be reached to register the activity: {exc}"
                self._registration_failed(activity_row_id, reason)
                self._problem(f"activity {title!r} was not registered: PARS could not be reached")
                raise _Abort from exc
            except (ParsRequestError, ParsProtocolError) as exc:
                self._registration_failed(activity_row_id, f"PARS did not register the activity: {exc}")
                self._problem(f"activity {title!r} was not registered: {exc}")
                continue
            with self.store.transaction() as s:
                row = s.get(ActivityRow, activity_row_id)
                if row is not None:
                    row.accme_id = accme_id
                    row.registration_error = None
            self.report.activities_registered += 1

    def update_activities(self) -> None:
        """Send SaveActivity for registered activities edited here since (an update is idempotent,
        so a lost answer is simply sent again next time)."""
        with self.store.session() as s:
            outdated = [
                (row.id, row.title, activity_to_domain(row))
                for row in s.scalars(
                    select(ActivityRow)
                    .where(ActivityRow.accme_id.is_not(None), ActivityRow.pars_outdated.is_(True))
                    .options(selectinload(ActivityRow.boards))
                    .order_by(ActivityRow.id)
                )
            ]
        for activity_row_id, title, activity in outdated:
            self._check_stop()
            try:
                self.client.save_activity(activity)
                self.answered = True
            except ParsUnavailable as exc:
                self._problem(f"activity {title!r} was not updated in PARS: PARS could not be reached")
                raise _Abort from exc
            except (ParsRequestError, ParsProtocolError) as exc:
                with self.store.transaction() as s:
                    row = s.get(ActivityRow, activity_row_id)
                    if row is not None:
                        row.registration_error = f"PARS did not take the activity's changes: {exc}"
                self._problem(f"activity {title!r} was not updated in PARS: {exc}")
                continue
            with self.store.transaction() as s:
                row = s.get(ActivityRow, activity_row_id)
                if row is not None:
                    row.pars_outdated = False
                    row.registration_error = None
            self.report.activities_updated += 1

    def _registration_failed(self, activity_row_id: int, reason: str) -> None:
        """Its records stay queued with the reason, so the user sees why they did not go."""
        with self.store.transaction() as s:
            row = s.get(ActivityRow, activity_row_id)
            if row is not None:
                row.registration_error = reason
            waiting = list(
                s.scalars(
                    select(OutboxRow.id).where(
                        OutboxRow.completion_id.in_(
                            select(CompletionRow.id).where(CompletionRow.activity_id == activity_row_id)
                        )
                    )
                )
            )
            self._note(s, waiting, reason)
        self._fail(waiting)

    # --- 2. recovery ----------------------------------------------------------------------------

    def recover(self) -> None:
        with self.store.session() as s:
            rows = s.execute(
                select(OutboxRow.id, OutboxRow.credit_id).where(OutboxRow.in_flight.is_(True)).order_by(OutboxRow.id)
            ).all()
        if rows:
            self._let_pars_finish()
        for chunk in _chunks(rows, self.engine.batch_size):
            self._check_stop()
            self._check_lock()
            outbox_ids = [outbox_id for outbox_id, _ in chunk]
            answers = self._lookup([credit for _, credit in chunk], "sent before", outbox_ids)
            changes: list[_Change] = []
            settled: list[int] = []
            with self.store.transaction() as s:
                resend: list[int] = []
                unanswered: list[int] = []
                for item in self._items(s, outbox_ids, in_flight=True):
                    result = answers.get(item.credit_id)
                    if result is None:
                        unanswered.append(item.id)
                    elif self._recover_one(item, result, changes):
                        settled.append(item.id)
                    else:
                        resend.append(item.id)
                self._release(s, resend, "PARS does not hold it; it will be sent again")
                self._note(s, unanswered, "PARS did not answer for this record; it will be asked again")
                self._write(s, changes, settled)
            self._fail(unanswered)
            self.report.recovered += len(settled)
            self.report.resent_after_lookup += len(resend)
            self._announce(changes)
            self._progress(len(chunk))

    def _let_pars_finish(self) -> None:
        """Before asking about rows a killed or timed-out pass left in flight, give PARS time to finish
        a request that was still on its way or waiting there: a desk killed just after writing its
        batch, or a call abandoned at its timeout, may reach PARS's queue after this pass's lookup
        would, and the lookup would then say NotFound to a batch PARS is about to store."""
        ends_at = time.monotonic() + self.engine.recovery_settle_seconds
        while (left := ends_at - time.monotonic()) > 0:
            self._check_stop()
            time.sleep(min(left, 0.1))

    def _recover_one(self, item: _Item, result: RecordResult, changes: list[_Change]) -> bool:
        """Apply what PARS holds for an in-flight row; True when that settles it, False to resend."""
        if item.action == RecordAction.ADD.value:
            if result.status == NOT_FOUND:
                return False
            self._adopt(changes, item.completion_id, result, source="PARS")
            return True
        if result.status in _DELETE_DONE:
            self._adopt(changes, item.completion_id, result, source="PARS")
            return True
        if result.status == NOT_FOUND:
            # deletes are only sent for records PARS holds, so it is gone: the delete removed it
            self._change(changes, item.completion_id, Status.DELETED.value, source="PARS", message="Removed by PARS")
            return True
        return False  # PARS has not carried out the delete: it goes again after the usual checks

    # --- 3./5. sending --------------------------------------------------------------------------

    def _sendable_ids(self, after_id: int) -> list[int]:
        """Due adds, not in flight, of a registered activity."""
        with self.store.session() as s:
            query = (
                select(OutboxRow.id)
                .join(CompletionRow, CompletionRow.id == OutboxRow.completion_id)
                .join(ActivityRow, ActivityRow.id == CompletionRow.activity_id)
                .where(
                    OutboxRow.action == RecordAction.ADD.value,
                    OutboxRow.in_flight.is_(False),
                    OutboxRow.id > after_id,
                    ActivityRow.accme_id.is_not(None),
                    self._due(),
                )
                .order_by(OutboxRow.id)
                .limit(self.engine.batch_size)
            )
            return list(s.scalars(query).all())

    def send_adds(self) -> None:
        last_id = 0

        def next_batch() -> list[int] | None:
            nonlocal last_id
            ids = self._sendable_ids(last_id)
            if not ids:
                return None
            last_id = ids[-1]  # rows left queued by a per-record error are not retried in this pass
            return ids

        self._send_all(RecordAction.ADD, next_batch)

    def _send_all(self, action: RecordAction, next_batch: Callable[[], list[int] | None]) -> None:
        """Send batches until `next_batch` has none left, up to `engine.in_flight` of them at PARS at
        once. Only this thread touches the store: it claims each batch (marks it in flight and
        commits) before handing it to a sender, and stores each answer as it arrives. A failure
        that makes the rest of the pass pointless (PARS unreachable, credentials refused) or a stop
        request ends the claiming; the batches already out are still waited for and settled first."""
        retry: deque[list[int]] = deque()  # halves of batches PARS refused as a whole: sent first
        outstanding: dict[Future[_Sent], _Batch] = {}
        halt: BaseException | None = None
        exhausted = False
        with _Senders(self.engine) as senders:
            while True:
                while halt is None and len(outstanding) < senders.capacity and (retry or not exhausted):
                    ids = retry.popleft() if retry else next_batch()
                    if ids is None:
                        exhausted = True
                        break
                    if self.should_stop():  # only when work is left: a pass with none was not stopped
                        halt = _Stopped()
                        break
                    try:
                        batch = self._claim(action, ids)
                    except _Abort as exc:  # the lock was lost: what is out is still waited for
                        halt = exc
                        break
                    if batch is not None:
                        outstanding[senders.submit(batch)] = batch
                if not outstanding:
                    break
                done, _ = wait(outstanding, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: outstanding[f].items[0].id):
                    batch = outstanding.pop(future)
                    try:
                        self._settle(batch, future.result(), retry)
                    except (_Abort, ParsAuthError) as exc:
                        # the first reason wins, but refused credentials outrank everything
                        if halt is None or isinstance(halt, _Stopped) or isinstance(exc, ParsAuthError):
                            halt = exc
        if halt is not None:
            raise halt

    def _claim(self, action: RecordAction, outbox_ids: list[int]) -> _Batch | None:
        """Turn queued rows into records and mark them in flight, committed BEFORE the call: if we
        die during it, recovery asks PARS first. A row whose record cannot be built is parked."""
        self._check_lock()
        changes: list[_Change] = []
        with self.store.transaction() as s:
            items = self._items(s, outbox_ids, in_flight=False, claim=True)
            if not items:
                return None
            # a delete carries the same content as the original add (PARS matches them)
            built = completions_to_domain(s, [item.completion_id for item in items], action=action)
            kept: list[_Item] = []
            records: list[tuple[RecordAction, Completion]] = []
            broken: list[tuple[_Item, str]] = []
            for item in items:
                record = built.get(item.completion_id)
                if not isinstance(record, Completion):  # a stored value no record can be made of (PII: not shown)
                    cause = type(record).__name__ if record is not None else "the record is gone"
                    broken.append((item, f"its stored values cannot be read ({cause})"))
                    continue
                kept.append(item)
                records.append((action, record))
            document = None
            if kept and self._writes_requests:
                # Written here, in the pass's thread, before anything is marked in flight: the
                # senders then only wait on the network (no contention for the interpreter with
                # the window), and a record that cannot be written is parked, never sent.
                document, unwritable = self._write_request(action, kept, records)
                if unwritable:
                    parked = {item.id for item, _ in unwritable}
                    records = [record for item, record in zip(kept, records, strict=True) if item.id not in parked]
                    kept = [item for item in kept if item.id not in parked]
                    broken.extend(unwritable)
            if broken:
                self._park_unwritable(s, action, broken, changes)
            sent_ids = [item.id for item in kept]
            if sent_ids:
                s.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(sent_ids), OutboxRow.in_flight.is_(False))
                    .values(in_flight=True, attempts=OutboxRow.attempts + 1, last_error=None)
                )
        if broken:
            self._announce(changes)
            self._progress(len(broken))
        return _Batch(action, kept, records, document) if kept else None

    def _write_request(
        self, action: RecordAction, items: list[_Item], records: list[tuple[RecordAction, Completion]]
    ) -> tuple[bytes | None, list[tuple[_Item, str]]]:
        """The request document for these records, and the records that could not be written."""
        write = self.client.learner_activity_request  # type: ignore[attr-defined]
        try:
            return write(records), []
        except Exception:
            unwritable = _unwritable(_Batch(action, items, records))
            if not unwritable:
                raise  # not about one record: a fault of ours, before anything was marked or sent
            parked = {item.id for item, _ in unwritable}
            rest = [record for item, record in zip(items, records, strict=True) if item.id not in parked]
            return (write(rest) if rest else None), unwritable

    def _settle(self, batch: _Batch, sent: _Sent, retry: deque[list[int]]) -> None:
        """Store what became of one batch. Raises _Abort or ParsAuthError when the pass should end."""
        sent_ids = [item.id for item in batch.items]
        exc = sent.error
        if exc is None:
            assert sent.results is not None
            self.answered = True
            self.report.sent += len(sent.results)
            self._apply_send_results(batch.action, sent_ids, sent.results)
            self._progress(len(sent_ids))
            return
        if sent.unsent:  # no client to send with (e.g. its settings are wrong): nothing left here
            with self.store.transaction() as s:
                self._release(s, sent_ids, f"not sent: {exc}")
            self._fail(sent_ids)
            self._problem(f"{plural(len(sent_ids), 'record')} not sent: {exc}")
            raise _Abort from exc
        if isinstance(exc, ParsUnavailable):
            with self.store.transaction() as s:
                if exc.maybe_delivered:
                    self._note(s, sent_ids, f"PARS may have received it ({exc}); it will be asked before any resend")
                else:
                    self._release_with_backoff(s, batch.items, f"PARS could not be reached: {exc}")
            self._fail(sent_ids)
            self._problem(f"{plural(len(sent_ids), 'record')} not sent: PARS could not be reached ({exc})")
            raise _Abort from exc
        if isinstance(exc, ParsProtocolError):
            # PARS answered but we cannot read it: whether it stored them is unknown
            with self.store.transaction() as s:
                self._note(s, sent_ids, f"PARS's answer could not be read ({exc}); it will be asked before any resend")
            self._fail(sent_ids)
            self._problem(f"{plural(len(sent_ids), 'record')}: PARS's answer could not be read ({exc})")
            raise _Abort from exc
        if isinstance(exc, ParsRequestError):
            # PARS refused the request as a whole (a Fault): it stored none of it. One record that
            # PARS will not take must not hold back the others: halve the batch until it is alone.
            if len(batch.items) == 1:
                self._park_refused(batch, exc)
                return
            with self.store.transaction() as s:
                self._release(s, sent_ids, f"PARS refused a batch holding this record ({exc}); it goes again")
            middle = len(sent_ids) // 2
            retry.extendleft([sent_ids[middle:], sent_ids[:middle]])
            return
        if isinstance(exc, ParsAuthError):
            # refused before processing: nothing was stored, the records simply stay queued
            with self.store.transaction() as s:
                self._release(s, sent_ids, "PARS refused the credentials")
            raise exc
        # Not an answer from PARS. When some record cannot be written as PARS XML, the request was
        # never made (the document is written whole before it is sent): park those, send the rest.
        unwritable = _unwritable(batch)
        if unwritable:
            changes: list[_Change] = []
            parked = {item.id for item, _ in unwritable}
            with self.store.transaction() as s:
                self._park_unwritable(s, batch.action, unwritable, changes)
                rest = [outbox_id for outbox_id in sent_ids if outbox_id not in parked]
                self._release(s, rest, None)
            self._announce(changes)
            self._progress(len(parked))
            if rest:
                retry.appendleft(rest)
            return
        # anything else happened while the request may have been out: ask PARS before any resend
        log.error("sync: sending a batch failed", exc_info=exc)
        with self.store.transaction() as s:
            self._note(s, sent_ids, f"sending failed ({type(exc).__name__}); PARS will be asked before any resend")
        self._fail(sent_ids)
        self._problem(f"{plural(len(sent_ids), 'record')} not sent: {type(exc).__name__}: {exc}")
        raise _Abort from exc

    # --- parking: one record that cannot go never blocks the others ---------------------------------

    def _park_unwritable(
        self, s: Session, action: RecordAction, broken: list[tuple[_Item, str]], changes: list[_Change]
    ) -> None:
        """Records ParsDesk cannot write for PARS leave the outbox: an add goes back to Draft with
        the reason (the coordinator corrects and submits it again); a delete leaves the record as
        PARS holds it, with the reason."""
        earlier = self._statuses_before_delete(s, [item.completion_id for item, _ in broken])
        for item, reason in broken:
            if action == RecordAction.ADD:
                message = f"Not sent: {reason}. Correct the record and submit it again."
                self._change(changes, item.completion_id, Status.DRAFT.value, source="sync", message=message)
            else:
                previous = earlier.get(item.completion_id, Status.ACCEPTED.value)
                message = f"Delete not sent: {reason}."
                self._change(changes, item.completion_id, previous, source="sync", message=message)
            self._problem(f"record {item.completion_id} set aside: {reason}")
        self._write(s, changes, [item.id for item, _ in broken])
        self.report.parked += len(broken)
        self._fail(item.id for item, _ in broken)

    def _park_refused(self, batch: _Batch, exc: ParsRequestError) -> None:
        """PARS refused a request holding only this record: that is PARS's verdict on the record."""
        [item] = batch.items
        changes: list[_Change] = []
        with self.store.transaction() as s:
            if batch.action == RecordAction.ADD:
                message = f"PARS refused the request holding this record as a whole: {exc.message}"
                self._change(
                    changes, item.completion_id, Status.REJECTED.value, source="PARS", code=exc.code, message=message
                )
            else:
                previous = self._statuses_before_delete(s, [item.completion_id]).get(
                    item.completion_id, Status.ACCEPTED.value
                )
                message = f"Delete refused by PARS: it refused the request as a whole: {exc.message}"
                self._change(changes, item.completion_id, previous, source="PARS", code=exc.code, message=message)
            self._write(s, changes, [item.id])
        self.report.parked += 1
        self._fail([item.id])
        self._problem(f"record {item.completion_id} set aside: PARS refused it as a whole ({exc})")
        self._announce(changes)
        self._progress(1)

    def _release_with_backoff(self, s: Session, items: list[_Item], reason: str) -> None:
        now = self.engine.clock()
        by_attempts: dict[int, list[int]] = {}
        for item in items:
            by_attempts.setdefault(item.attempts + 1, []).append(item.id)  # +1: this send counted
        for attempts, ids in by_attempts.items():
            self._release(s, ids, reason, now + backoff_delay(attempts))

    def _apply_send_results(self, action: RecordAction, outbox_ids: list[int], results: list[RecordResult]) -> None:
        answers = {result.credit_id: result for result in results}
        changes: list[_Change] = []
        settled: list[int] = []
        with self.store.transaction() as s:
            items = self._items(s, outbox_ids, in_flight=True)
            unanswered = [item.id for item in items if item.credit_id not in answers]
            # PARS answered the batch but not these: unknown, so recovery asks before any resend
            self._note(s, unanswered, "PARS's answer did not mention this record; it will be asked before any resend")
            answered = [item for item in items if item.credit_id in answers]
            if action == RecordAction.ADD:
                self._apply_add_results(s, answered, answers, changes, settled)
            else:
                self._apply_delete_results(s, answered, answers, changes, settled)
            self._write(s, changes, settled)
        self._fail(unanswered)
        self._announce(changes)

    def _apply_add_results(
        self,
        s: Session,
        items: list[_Item],
        answers: dict[str, RecordResult],
        changes: list[_Change],
        settled: list[int],
    ) -> None:
        odd: list[_Item] = []
        for item in items:
            result = answers[item.credit_id]
            if result.status in _PARS_STATUSES:
                self._adopt(changes, item.completion_id, result, source="PARS")
                settled.append(item.id)
            else:
                odd.append(item)
        for item in odd:
            # NotFound (or an unknown status) for an Add: PARS stored nothing, so it may go again later
            result = answers[item.credit_id]
            self._release_with_backoff(s, [item], f"PARS answered {result.status!r}: {result.message or 'no message'}")
        self._fail(item.id for item in odd)

    def _apply_delete_results(
        self,
        s: Session,
        items: list[_Item],
        answers: dict[str, RecordResult],
        changes: list[_Change],
        settled: list[int],
    ) -> None:
        earlier = self._statuses_before_delete(s, [item.completion_id for item in items])
        waiting: list[int] = []
        for item in items:
            result = answers[item.credit_id]
            if result.status in _DELETE_DONE:
                self._adopt(changes, item.completion_id, result, source="PARS")
                settled.append(item.id)
            elif result.status == Status.SUBMITTED.value:
                # PARS still processes the record: the delete waits for the board's answer
                waiting.append(item.id)
            else:
                # refused (e.g. 605 unknown creditID, 706 previous year): the record keeps the status
                # PARS reports for it, or its earlier one
                if result.status in (Status.ACCEPTED.value, Status.REJECTED.value):
                    previous = result.status
                else:
                    previous = earlier.get(item.completion_id, Status.ACCEPTED.value)
                reason = f"Delete refused by PARS: {result.message or 'no reason given'}"
                self._change(changes, item.completion_id, previous, source="PARS", code=result.code, message=reason)
                settled.append(item.id)
                self.report.errors += 1
        self._release(s, waiting, _WAITING_MESSAGE)
        self.report.waiting_deletes += len(waiting)

    @staticmethod
    def _statuses_before_delete(s: Session, completion_ids: list[int]) -> dict[int, str]:
        """Each record's last status from PARS or a board before its delete was queued."""
        rows = s.execute(
            select(StatusEvent.completion_id, StatusEvent.status)
            .where(
                StatusEvent.completion_id.in_(completion_ids),
                StatusEvent.status.in_((Status.ACCEPTED.value, Status.REJECTED.value, Status.SUBMITTED.value)),
            )
            .order_by(StatusEvent.id)
        ).all()
        return {completion_id: status for completion_id, status in rows}  # the last one wins

    # --- 4./5. poll, then deletes ----------------------------------------------------------------

    def poll_and_delete(self, poll: bool) -> None:
        if poll:
            self.poll()
        self.send_deletes()

    def poll(self) -> None:
        with self.store.session() as s:
            rows = s.execute(
                select(CompletionRow.id, CompletionRow.credit_id, CompletionRow.status)
                .where(CompletionRow.status.in_((Status.SUBMITTED.value, Status.DELETE_SUBMITTED.value)))
                .order_by(CompletionRow.id)
            ).all()
        rows = [row for row in rows if row[0] not in self.touched]
        for chunk in _chunks(rows, self.engine.batch_size):
            self._check_stop()
            try:
                answers = self._lookup([credit for _, credit, _ in chunk], "for their status", ())
            except _Abort:
                self.report.errors += len(chunk)  # their status could not be refreshed
                raise
            changes: list[_Change] = []
            for completion_id, credit_id, current in chunk:
                result = answers.get(credit_id)
                if result is not None and result.status != current:
                    self._poll_change(completion_id, current, result, changes)
            if changes:
                with self.store.transaction() as s:
                    self._write(s, changes, [])
            self._announce(changes)
            self._progress(len(chunk))

    def _poll_change(self, completion_id: int, current: str, result: RecordResult, changes: list[_Change]) -> None:
        if current == Status.SUBMITTED.value:
            if result.status in (Status.ACCEPTED.value, Status.REJECTED.value):
                self._adopt(changes, completion_id, result, source="board")
            elif result.status in _DELETE_DONE:  # deleted elsewhere (the PARS web site)
                self._adopt(changes, completion_id, result, source="PARS")
            elif result.status == NOT_FOUND:
                self._problem(f"PARS no longer knows a record that was Submitted (completion {completion_id})")
                self.report.errors += 1
            return
        # Delete Submitted
        if result.status == Status.DELETED.value:
            self._adopt(changes, completion_id, result, source="board")
        elif result.status == NOT_FOUND:
            self._change(changes, completion_id, Status.DELETED.value, source="board", message="Removed by PARS")
        elif result.status in (Status.ACCEPTED.value, Status.REJECTED.value):  # the board kept the record
            self._adopt(changes, completion_id, result, source="board")

    def send_deletes(self) -> None:
        """Deletes go only for records PARS has finished processing; the rest wait in the outbox."""
        with self.store.session() as s:
            pending_adds = select(OutboxRow.completion_id).where(OutboxRow.action == RecordAction.ADD.value)
            rows = s.execute(
                select(OutboxRow.id, OutboxRow.credit_id)
                .join(CompletionRow, CompletionRow.id == OutboxRow.completion_id)
                .join(ActivityRow, ActivityRow.id == CompletionRow.activity_id)
                .where(
                    OutboxRow.action == RecordAction.DELETE.value,
                    OutboxRow.in_flight.is_(False),
                    OutboxRow.completion_id.not_in(pending_adds),  # the add goes (or is settled) first
                    ActivityRow.accme_id.is_not(None),
                    self._due(),
                )
                .order_by(OutboxRow.id)
            ).all()
        ready: list[int] = []
        for chunk in _chunks(rows, self.engine.batch_size):
            self._check_stop()
            outbox_ids = [outbox_id for outbox_id, _ in chunk]
            answers = self._lookup([credit for _, credit in chunk], "to delete", outbox_ids)
            changes: list[_Change] = []
            settled: list[int] = []
            waiting: list[int] = []
            unknown: list[int] = []
            with self.store.transaction() as s:
                for item in self._items(s, outbox_ids, in_flight=False):
                    result = answers.get(item.credit_id)
                    status = result.status if result is not None else None
                    if status in (Status.ACCEPTED.value, Status.REJECTED.value):
                        ready.append(item.id)
                    elif status == Status.SUBMITTED.value:
                        waiting.append(item.id)
                    elif result is not None and status in _DELETE_DONE:  # already deleted elsewhere
                        self._adopt(changes, item.completion_id, result, source="PARS")
                        settled.append(item.id)
                    elif status == NOT_FOUND:
                        # PARS holds nothing under this creditID (e.g. it refused the add): nothing to delete
                        self._change(
                            changes, item.completion_id, Status.DELETED.value, source="sync",
                            message="PARS holds no record with this creditID; removed locally",
                        )
                        settled.append(item.id)
                    else:
                        unknown.append(item.id)
                self._note(s, waiting, _WAITING_MESSAGE)
                self._note(s, unknown, "PARS did not say where this record stands; the delete waits")
                self._write(s, changes, settled)
            self.report.waiting_deletes += len(waiting)
            self._fail(unknown)
            self._announce(changes)
            self._progress(len(waiting) + len(settled) + len(unknown))
        chunks = iter(_chunks(ready, self.engine.batch_size))
        self._send_all(RecordAction.DELETE, lambda: list(next(chunks, [])) or None)


def outbox_summary(session: Session) -> dict[str, int]:
    """Counts for a status bar: queued adds, queued deletes, sends with an unknown outcome."""
    rows = session.execute(
        select(OutboxRow.action, OutboxRow.in_flight, func.count()).group_by(OutboxRow.action, OutboxRow.in_flight)
    ).all()
    summary = {"adds": 0, "deletes": 0, "in_flight": 0}
    for action, in_flight, count in rows:
        summary["adds" if action == RecordAction.ADD.value else "deletes"] += count
        if in_flight:
            summary["in_flight"] += count
    return summary



# --- building engines for a thread or a command ----------------------------------------------------


class SyncConfigError(Exception):
    """Sync cannot start: no URL for the environment, no credentials, or a bad environments file."""


@dataclass(frozen=True)
class SyncTarget:
    """Where a sync sends to: the environment (for its operation paths), its URL, the credentials."""

    environment: Environment
    base_url: str
    credentials: Credentials


def resolve_target(env_name: str, base_url: str | None = None, credentials: Credentials | None = None) -> SyncTarget:
    """The environment's URL (or `base_url`), and its stored credentials unless given."""
    try:
        env = environment(env_name)
        if not base_url and env_name == LOCAL_ENVIRONMENT:
            # a `parsdesk sandbox` started with its defaults is found with no setup
            base_url = os.environ.get(SANDBOX_URL_ENV) or LOCAL_SANDBOX_URL
        url = base_url or env.base_url
        if not url:
            raise SyncConfigError(
                f"PARS environment {env_name!r} has no URL: start the sandbox (`parsdesk sandbox`) and pass "
                f"--url, or set {SANDBOX_URL_ENV}"
            )
        if env.placeholder and not base_url:
            raise SyncConfigError(
                f"PARS environment {env_name!r} still has the placeholder host; put ACCME's host in "
                "environments.toml in the ParsDesk data folder (see docs/credentials.md)"
            )
        creds = credentials or load_credentials(env_name)
    except (EnvironmentConfigError, CredentialStoreError) as exc:
        raise SyncConfigError(str(exc)) from exc
    if creds is None:
        raise SyncConfigError(f"no PARS credentials are stored for environment {env_name!r}; enter them in Settings")
    return SyncTarget(env, url, creds)


def make_engine_factory(
    db_path: Path | str,
    target: SyncTarget,
    *,
    batch_size: int = 500,
    in_flight: int | None = None,
    actor: str = "sync",
    migrate_schema: bool = False,
    client_options: dict[str, Any] | None = None,
) -> Callable[[], SyncEngine]:
    """A callable building an engine with its own store connection and its own httpx clients.
    Call it in the thread that runs the engine; `engine.close()` releases both. `in_flight`
    defaults to the environment's (environments.toml)."""
    options = dict(client_options or {})
    if in_flight is None:
        in_flight = target.environment.in_flight

    def make_client() -> ParsClient:
        return ParsClient.for_environment(target.environment, target.credentials, base_url=target.base_url, **options)

    def build() -> SyncEngine:
        store = Store.open(db_path, migrate_schema=migrate_schema)
        try:
            client = make_client()
        except Exception:
            store.close()
            raise
        return SyncEngine(
            store, client, batch_size=batch_size, in_flight=in_flight, client_factory=make_client, actor=actor,
            owns_resources=True,
        )

    return build
