"""Start the ParsDesk desktop app (the default command).

    parsdesk [gui] [--db PATH] [--env local|accme-sandbox|accme-production]

The store is --db, else PARSDESK_DB, else the data folder chosen in Settings, else the platform data
folder. With the local environment ParsDesk starts its PARS sandbox as a child process of its own on a
loopback port (`parsdesk sandbox`, ended with the app; app/sandbox/process.py); on a first start (an
empty store) it fills the store with demo data, so there is something to look at and the first sync
works.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.paths import store_location

ENVIRONMENT_CHOICES = ("local", "accme-sandbox", "accme-production")
DEMO_LEARNERS = 60  # enough to fill every tab, quick to build on a first start
DEMO_META_KEY = "demo"  # set in a store the demo was built into

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=store_location, help="the store file or the office database's postgresql:// URL "
        "(default: PARSDESK_DB, else Settings)"
    )
    parser.add_argument("--env", choices=ENVIRONMENT_CHOICES, help="PARS environment (default: from Settings)")


def resolve_db_path(cli_db: Path | str | None, settings: Any) -> Path | str:
    from app.paths import default_db_path, store_location

    if cli_db is not None:
        return store_location(cli_db)
    if os.environ.get("PARSDESK_DB"):
        return default_db_path()
    if settings.office_database.strip():
        return settings.office_database.strip()
    return settings.db_path() or default_db_path()


@dataclass
class Session:
    """What a running app (or the screenshots command) holds: store, sandbox and context."""

    store: Any
    sandbox: Any | None
    ctx: Any
    notice: str | None = None  # something the user must be told when the window opens

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
        self.store.close()


def start_local_sandbox(store: Any, board_delay_s: float, *, own_process: bool = True) -> Any:
    """The PARS sandbox, seeded with the demo registries and the store's registered activities (so
    records stored earlier can be sent and polled).

    The desktop app runs it in a process of its own (`LocalSandboxProcess`, as a remote PARS: its
    work never holds the window's interpreter lock); it is spawned here and `.url` waits for it to
    listen, so the window is built meanwhile. `own_process=False` runs it in this process
    (`SandboxServer`: `parsdesk demo`, which has no window)."""
    from app.services.activities import export_activities

    with store.session() as session:
        activities = export_activities(session)
    # the sandbox keeps what it was sent next to the store, so records sent in an earlier session
    # can still be polled and deleted after a restart
    state_path = sandbox_state_path(store)
    if own_process:
        from app.sandbox.process import LocalSandboxProcess

        return LocalSandboxProcess(
            board_delay=board_delay_s, seed="demo", activities=activities, state_path=state_path
        ).start()
    from app.sandbox import SandboxServer

    sandbox = SandboxServer(
        host="127.0.0.1", port=0, board_delay=board_delay_s, seed="demo", activities=activities, state_path=state_path
    )
    sandbox.start()
    return sandbox


def sandbox_state_path(store: Any) -> Path:
    """Beside a store file; for the office database, in this desk's data folder (one per database)."""
    if store.path is not None:
        return store.path.with_name(store.path.stem + "-sandbox.sqlite3")
    import hashlib

    from app.paths import data_dir

    folder = Path(os.environ.get("PARSDESK_DATA_DIR") or data_dir())
    digest = hashlib.sha256(store.location.encode()).hexdigest()[:12]
    return folder / f"office-{digest}-sandbox.sqlite3"


DEMO_NOTICE = (
    "This store holds ParsDesk's demo data, which is never sent to ACCME, so it stays connected to the "
    "built-in PARS sandbox. To report real learners, choose another data folder in Settings and start "
    "ParsDesk again."
)


def open_session(
    db_path: Path, environment: str, settings: Any, *, demo_learners: int = DEMO_LEARNERS, command: str | None = "gui"
) -> Session:
    """Open the store (building the demo on an empty one when local) and start what the env needs.

    A demo store always stays on the local sandbox: its made-up learners must never reach ACCME."""
    from app.commands.common import announce_new_store
    from app.models import Store
    from app.paths import data_dir, ensure_data_dir
    from app.services.activities_view import has_activities
    from app.ui.context import AppContext

    if isinstance(db_path, Path) and db_path.expanduser().parent == data_dir():
        ensure_data_dir()  # ParsDesk's own folder; a folder the user named is never made
    store = Store.open(db_path)
    if command and getattr(store, "created", False):
        announce_new_store(command, store.path)
    sandbox = None
    notice = None
    demo = store.get_meta(DEMO_META_KEY) == "1"
    if demo and environment != "local":
        environment, notice = "local", DEMO_NOTICE
    try:
        if environment == "local":
            with store.session() as session:
                empty = not has_activities(session)
            if empty:
                sandbox, demo_notice = _build_demo(store, settings, demo_learners)
                notice = "\n\n".join(filter(None, [notice, demo_notice])) or None
                demo = True
            else:
                sandbox = start_local_sandbox(store, settings.board_delay_s)
    except Exception:
        if sandbox is not None:
            sandbox.stop()
        store.close()
        raise
    ctx = AppContext(store, environment=environment, actor=settings.coordinator_name(), settings=settings,
                     sandbox=sandbox, demo=demo)
    return Session(store=store, sandbox=sandbox, ctx=ctx, notice=notice)


def _build_demo(store: Any, settings: Any, learners: int) -> tuple[Any, str | None]:
    """Fill an empty store with the demo, sent through the sandbox; return the sandbox and what the
    user must be told. A sandbox that does not start leaves the demo's records queued (said in the
    notice, and by every sync until it runs); the window opens all the same."""
    from app.sandbox.process import SandboxUnavailableError
    from app.services.demo import build_demo

    sandbox = start_local_sandbox(store, settings.board_delay_s)
    notice = None
    try:
        try:
            sandbox.wait_ready()
        except SandboxUnavailableError as exc:
            log.warning("local sandbox: %s", exc)
            notice = f"{exc} The demo's records stay queued until it runs."
            build_demo(store, learners=learners, sandbox=None)
        else:
            build_demo(store, learners=learners, sandbox=sandbox)
        store.set_meta(DEMO_META_KEY, "1")
    except Exception:
        sandbox.stop()
        raise
    return sandbox, notice


def make_application(argv: list[str] | None = None) -> Any:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.paths import resource
    from app.ui.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    icon_path = resource("icons", "parsdesk.png")
    if icon_path.is_file():
        app.setWindowIcon(QIcon(str(icon_path)))
    return app


def claim_store(db_path: Path) -> Any:
    """Make this the only ParsDesk on the store. Returns the InstanceGuard; None when a ParsDesk
    already had the store open and was brought to the front instead (this start ends); False when
    that ParsDesk did not answer (said in a message)."""
    from PySide6.QtWidgets import QMessageBox

    from app.ui.single_instance import InstanceGuard

    location = str(Path(db_path).expanduser().resolve())
    guard = InstanceGuard(location)
    if guard.claim():
        return guard
    if guard.activate_running():
        print(f"ParsDesk is already open on {location}; switched to that window.", file=sys.stderr)
        return None
    QMessageBox.warning(
        None, "ParsDesk",
        f"ParsDesk is already running on this store but does not answer:\n{location}\n\n"
        "Wait until it has finished starting, or close it, and try again.",
    )
    return False


def _quiet_when_the_database_is_away() -> None:
    """An action that finds the office database unreachable (a view refreshing, a button pressed)
    ends there: the status bar already says so and the window reconnects by itself, so the error is
    logged in one line instead of a traceback."""
    from app.models import StoreUnavailableError

    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:  # noqa: ANN001 - sys.excepthook's signature
        if isinstance(value, StoreUnavailableError):
            log.warning("office database unreachable: %s", value)
            return
        previous(kind, value, traceback)

    sys.excepthook = hook


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "alembic"):  # a line per request / per migration step is noise here
        logging.getLogger(chatty).setLevel(logging.WARNING)
    app = make_application()

    from PySide6.QtWidgets import QMessageBox

    from app.models import StoreError
    from app.ui.main_window import MainWindow
    from app.ui.settings import AppSettings

    settings = AppSettings.load()
    environment = args.env or settings.environment
    db_path = resolve_db_path(args.db, settings)
    guard = claim_store(db_path)
    if guard is None:
        return 0
    if guard is False:
        return 1
    try:
        session = open_session(db_path, environment, settings)
    except StoreError as exc:
        guard.release()
        print(f"parsdesk: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "ParsDesk", f"ParsDesk cannot open its store.\n\n{exc}")
        return 3  # the environment: see docs/cli.md
    window = MainWindow(session.ctx)
    _quiet_when_the_database_is_away()
    guard.activation_requested.connect(window.bring_to_front)
    window.show()
    if session.notice:
        QMessageBox.information(window, "ParsDesk", session.notice)
    try:
        return int(app.exec())
    finally:
        session.close()
        guard.release()
