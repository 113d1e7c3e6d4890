"""What every tab and dialog shares: the store, the environment, settings and change notifications.

Widgets never open sessions or keep ORM objects: they call a service through `ctx.read(fn, ...)`
(a read-only unit of work) or `ctx.write(fn, ...)` (one transaction) and get plain values back.
These two methods are the only place on the GUI thread where a Session is opened; worker threads
own their own Session through the store (see tests/test_layering.py).
When records change (a user action, an import, a sync), whoever changed them calls
`ctx.notify_records_changed(ids)`, and every view updates just those rows.

The context also knows how to reach PARS: `ctx.client_factory()` builds a fresh web-service client
for the chosen environment (the in-process sandbox for "local"), and `ctx.sync` is the background
sync controller once the main window made one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from PySide6.QtCore import QObject, Signal

from app.models import Store, StoreUnavailableError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.models.changes import ChangeFeed
    from app.ui.settings import AppSettings

P = ParamSpec("P")
R = TypeVar("R")


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
        self.sandbox = sandbox  # the in-process PARS sandbox (SandboxServer) when environment is local
        self.demo = demo  # the store holds demo data (shown as a banner)
        self.sync: Any | None = None  # SyncController, set by the main window
        self._client_factory = client_factory
        self.database_problem: str | None = None  # why the office database cannot be reached now

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


def pars_base_url(environment: str, sandbox: Any | None) -> str:
    from app.pars.environments import LOCAL, environment as load_environment

    if environment == LOCAL:
        if sandbox is None:
            raise NotConnectedError("The local PARS sandbox is not running.")
        return str(sandbox.url)
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
