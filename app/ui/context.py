"""What every tab and dialog shares: the store, the environment, settings and change notifications.

Widgets never open sessions or keep ORM objects: they call a service through `ctx.read(fn, ...)`
(a read-only unit of work) or `ctx.write(fn, ...)` (one transaction) and get plain values back.
These two methods are the only place on the GUI thread where a Session is opened; worker threads
own their own Session through the store (see tests/test_layering.py).
When records change (a user action, an import, a sync), whoever changed them calls
`ctx.notify_records_changed(ids)`, and every view updates just those rows.

Reads whose cost grows with the store (counts over every record, the attention list) go through
`ctx.read_later(key, fn, ..., on_result=...)` instead: the read runs in a background thread with its
own Session and `on_result` gets the plain result on the GUI thread. Requests with the same key are
coalesced: while one runs, further ones collapse into a single re-run after it, so a burst of record
changes during a sync costs one or two reads, never a queue of them.

The context also knows how to reach PARS: `ctx.client_factory()` builds a fresh web-service client
for the chosen environment (the sandbox's child process for "local"), and `ctx.sync` is the background
sync controller once the main window made one.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from app.models import Store, StoreUnavailableError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.models.changes import ChangeFeed
    from app.ui.settings import AppSettings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
BACKGROUND_READERS = 2  # threads for read_later: a long read (the attention list) never holds up the counts
# Linux: the read_later threads' nice value above the window's. Their reads are mostly SQLite's own work
# (the attention list is seconds of it at a million records), done without the interpreter lock, and
# re-run while a sync changes records: on a busy machine they took the CPU the GUI thread waited for.
BACKGROUND_READ_NICE = 10


def _yield_the_cpu_to_the_window() -> None:
    """In a read_later thread: set its nice value BACKGROUND_READ_NICE above the main (GUI) thread's
    (Linux sets nice per thread). Set, not added: a pool thread runs many reads, and Python keeps no
    per-thread memory across them in a thread it did not start. Elsewhere, or when it cannot,
    nothing changes."""
    if BACKGROUND_READ_NICE <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        window = os.getpriority(os.PRIO_PROCESS, os.getpid())  # the main thread's: the GUI thread
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, window + BACKGROUND_READ_NICE))
    except OSError:
        pass


class _BackgroundRead(QRunnable):
    """One read in a pool thread; the outcome goes back to the GUI thread through `deliver`."""

    def __init__(self, store: Store, key: str, use_case: Callable[..., Any], args: tuple, kwargs: dict,
                 deliver: Any) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._store, self._key, self._use_case, self._args, self._kwargs = store, key, use_case, args, kwargs
        self._deliver = deliver  # a bound Signal of an object living on the GUI thread: queued across threads

    def run(self) -> None:
        _yield_the_cpu_to_the_window()
        try:
            with self._store.reading() as session:
                result = self._use_case(session, *self._args, **self._kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which says or logs it
            self._deliver.emit(self._key, None, exc)
            return
        self._deliver.emit(self._key, result, None)


class NotConnectedError(RuntimeError):
    """There is no way to reach PARS in this environment (e.g. the local sandbox is not running)."""


class AppContext(QObject):
    # completion ids whose row content/status changed (empty list = "many; reload")
    records_changed = Signal(list)
    # activities added, edited or registered with PARS
    activities_changed = Signal()
    # a batch upload finished queueing
    upload_finished = Signal(int)
    # ask the main window to show an activity's learners (activity row id)
    open_activity_requested = Signal(int)
    # ask the main window to start a sync now
    sync_requested = Signal()
    # another process (cron `parsdesk import`/`sync`, another desk) changed the store: views re-read
    # what they show and keep their selection (the main window polls `open_change_feed()`)
    store_changed = Signal()
    # learner records the user just deleted (completion ids): the window offers to undo it
    records_deleted = Signal(list)
    # the office database went away (False, why) or answers again (True, ""): the status bar shows it
    database_reachable = Signal(bool, str)
    # a read_later finished (key, result, exception); emitted from the pool thread, handled on the GUI thread
    _background_done = Signal(str, object, object)

    def __init__(
        self,
        store: Store,
        *,
        environment: str = "local",
        actor: str = "coordinator",
        settings: AppSettings | None = None,
        sandbox: Any | None = None,
        client_factory: Callable[[], Any] | None = None,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.environment = environment
        self.actor = actor  # recorded in status history as who made a change
        if settings is None:
            from app.ui.settings import AppSettings

            settings = AppSettings(environment=environment)
        self.settings = settings
        # the local PARS sandbox when environment is local: its child process (LocalSandboxProcess),
        # or in tests a SandboxServer; `.url` is all the context uses
        self.sandbox = sandbox
        self.demo = demo  # the store holds demo data (shown as a banner)
        self.sync: Any | None = None  # SyncController, set by the main window
        self._client_factory = client_factory
        self.database_problem: str | None = None  # why the office database cannot be reached now
        self._readers = QThreadPool(self)
        self._readers.setMaxThreadCount(BACKGROUND_READERS)
        self._reading: dict[str, Callable[[Any], None]] = {}  # key -> on_result of the read running now
        self._read_again: dict[str, tuple[Callable[..., Any], tuple, dict, Callable[[Any], None]]] = {}
        self._reads_closed = False
        self._background_done.connect(self._background_finished)

    def read(self, use_case: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a read-only service `use_case(session, *args, **kwargs)`; it must return plain values.
        Raises StoreUnavailableError while the office database cannot be reached."""
        try:
            with self.store.reading() as session:
                result = use_case(session, *args, **kwargs)
        except StoreUnavailableError as exc:
            self._database_lost(str(exc))
            raise
        self._database_back()
        return result

    def read_later(self, key: str, use_case: Callable[Concatenate[Session, P], R], *args: P.args,
                   on_result: Callable[[R], None], **kwargs: P.kwargs) -> None:
        """Run the read-only service `use_case(session, *args, **kwargs)` in a background thread and call
        `on_result(result)` on the GUI thread. While a read with this `key` runs, a new request only
        replaces the pending re-run (the newest arguments and callback win), so it runs once more after
        the running one. A store that cannot be reached is said as for `read`; other errors are logged."""
        if self._reads_closed:
            return
        if key in self._reading:
            self._read_again[key] = (use_case, args, kwargs, on_result)
            return
        self._reading[key] = on_result
        self._readers.start(_BackgroundRead(self.store, key, use_case, args, kwargs, self._background_done))

    @property
    def reads_pending(self) -> bool:
        """A read_later is running or due to run again (tests wait on it; closing waits for it)."""
        return bool(self._reading)

    def close_background_reads(self, msecs: int = 30_000) -> bool:
        """No more read_later callbacks; wait up to `msecs` for a read in progress (the store is about to
        close). True when none is left running."""
        self._reads_closed = True
        self._read_again.clear()
        self._readers.clear()
        return self._readers.waitForDone(msecs)

    @Slot(str, object, object)
    def _background_finished(self, key: str, result: object, error: object) -> None:
        on_result = self._reading.pop(key, None)
        if self._reads_closed or on_result is None:
            return
        again = self._read_again.pop(key, None)
        if error is None:
            self._database_back()
            try:
                if _receiver_alive(on_result):
                    on_result(result)
            finally:
                if again is not None:
                    self.read_later(key, again[0], *again[1], on_result=again[3], **again[2])
            return
        if isinstance(error, StoreUnavailableError):
            self._database_lost(str(error))
        else:
            log.error("background read %s failed: %s: %s", key, type(error).__name__, error)
        if again is not None:
            self.read_later(key, again[0], *again[1], on_result=again[3], **again[2])

    def write(self, use_case: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a service `use_case(session, *args, **kwargs)` in one transaction (rolled back if it raises).
        Raises StoreUnavailableError (nothing saved) while the office database cannot be reached."""
        try:
            with self.store.transaction() as session:
                result = use_case(session, *args, **kwargs)
        except StoreUnavailableError as exc:
            self._database_lost(str(exc))
            raise
        self._database_back()
        return result

    def check_database(self) -> bool:
        """Try the office database now (the window's reconnection timer); True when it answers."""
        if self.store.ping():
            self._database_back()
            return True
        return False

    def _database_lost(self, why: str) -> None:
        first = self.database_problem is None
        self.database_problem = why
        if first:
            self.database_reachable.emit(False, why)

    def _database_back(self) -> None:
        if self.database_problem is not None:
            self.database_problem = None
            self.database_reachable.emit(True, "")

    def notify_records_changed(self, completion_ids: list[int] | None = None) -> None:
        self.records_changed.emit(list(completion_ids or []))

    def open_change_feed(self) -> ChangeFeed:
        """Where this store's changes by other processes are learnt (app/models/changes.py). Poll
        it with `ctx.read(feed.poll)`. The office database (PostgreSQL) uses LISTEN/NOTIFY instead
        of the revision counter (app/models/pg_notify.py)."""
        from app.models.changes import revision_feed

        if self.store.office is not None:
            from app.models.pg_notify import notify_feed

            return notify_feed(self.store.office)

        return self.read(revision_feed)

    def client_factory(self) -> Any:
        """A new PARS web-service client for this environment. Call it in the thread that uses it."""
        if self._client_factory is not None:
            return self._client_factory()
        return make_client(self.environment, self.sandbox)

    def base_url(self) -> str:
        return pars_base_url(self.environment, self.sandbox)


def _receiver_alive(on_result: Callable[..., Any]) -> bool:
    """False when the callback is a method of a widget deleted while its read ran (a closed tab)."""
    from shiboken6 import isValid

    owner = getattr(on_result, "__self__", None)
    return not isinstance(owner, QObject) or isValid(owner)


def pars_base_url(environment: str, sandbox: Any | None) -> str:
    from app.pars.environments import LOCAL, environment as load_environment

    if environment == LOCAL:
        if sandbox is None:
            raise NotConnectedError("The local PARS sandbox is not running.")
        from app.sandbox.process import SandboxUnavailableError

        try:
            return str(sandbox.url)  # the sandbox's process: waits (bounded) until it listens
        except SandboxUnavailableError as exc:
            raise NotConnectedError(str(exc)) from None
    return load_environment(environment).base_url


def make_client(environment: str, sandbox: Any | None) -> Any:
    """The web-service client for `environment` with the credentials saved for it."""
    from app.pars.client import ParsClient
    from app.pars.credentials import load_credentials
    from app.pars.environments import LOCAL, environment as load_environment
    from app.ui.settings import environment_label

    env = load_environment(environment)
    credentials = load_credentials(environment)
    if credentials is None:
        raise NotConnectedError(
            f"No PARS credentials are saved for {environment_label(environment)}: enter them in Settings."
        )
    base_url = pars_base_url(environment, sandbox) if environment == LOCAL else None
    return ParsClient.for_environment(env, credentials, base_url=base_url)
