"""Opening the store: a local SQLite file (owner-only, WAL, foreign keys) or the office's PostgreSQL
database (app/models/office_db.py), with Alembic migrations on both.

    store = Store.open(path)                                  # creates and migrates if needed
    store = Store.open("postgresql://parsdesk@db.office/pd")  # the office database
    with store.session() as s, s.begin():                     # one unit of work
        ...

Each thread makes its own sessions from the same Store (SQLite connections are per thread here).
`store.location` is what `Store.open` takes to open the same store again (another thread, a subprocess).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.models.changes import track_revisions
from app.models.office_db import OfficeDatabase, OfficeDatabaseError, connect_args, is_database_url, parse_office_url
from app.models.schema import Meta
from app.models import store_file

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: desks starting at once on an empty office database migrate one at a time
MIGRATION_LOCK_KEY = 0x50415253  # "PARS"


class StoreError(Exception):
    """The store cannot be used (locked, unreadable, not a ParsDesk database): an environment problem."""


def database_error_text(exc: BaseException) -> str:
    """A database error as one sentence: the driver's own message, without SQLAlchemy's SQL echo,
    parameters and "Background on this error at: ..." link."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_text(exc: BaseException) -> str:
    """Any exception as text for a person: a database error as its one sentence (database_error_text),
    anything else as it is. For messages in the app and the commands."""
    if type(exc).__module__.startswith("sqlalchemy"):
        return database_error_text(exc)
    return str(exc)


def _remove_new_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            path.with_name(path.name + suffix).unlink()
        except FileNotFoundError:
            pass


class StoreUnavailableError(StoreError):
    """The office database cannot be reached right now (server down, network gone). Nothing of the
    unit of work was saved; the app shows it in the status bar and reconnects by itself."""


class ConcurrentChangeError(Exception):
    """Another coordinator (or process) changed what this unit of work edits since it was read; nothing
    was saved. Raised for SQLAlchemy's version check (version_id_col) and by services that compare
    the version a form was opened with."""

    def __init__(self, message: str = "Someone else changed this meanwhile; nothing was saved. "
                                      "Look at their change and save again.") -> None:
        super().__init__(message)


def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API connection
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", future=True)
    event.listen(engine, "connect", _on_connect)
    track_revisions(engine)  # other processes' apps notice this one's writes (app/models/changes.py)
    return engine


def make_office_engine(office: OfficeDatabase, *, password: str | None = None) -> Engine:
    from app.models.pg_notify import track_notifications

    # pre-ping: a pooled connection the server or the network dropped is replaced, not handed out
    engine = create_engine(office.url, connect_args=connect_args(office, password), pool_pre_ping=True, future=True)
    track_notifications(engine)  # other desks' views learn of this desk's writes (LISTEN/NOTIFY)
    return engine


def _alembic_config():  # noqa: ANN202 - alembic's Config, imported lazily
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


class NewerSchemaError(Exception):
    """The database was made by a newer ParsDesk: this one must not touch it."""


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision.

    Refuses a database whose revision this ParsDesk does not know (a newer ParsDesk made it: using it
    would write rows the newer schema does not expect), and a non-empty PostgreSQL database that is not
    a ParsDesk one."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = _alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # concurrent first starts: the second waits here, then finds the schema made
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        current = MigrationContext.configure(connection).get_current_revision()
        if current is not None and current not in known_revisions():
            raise NewerSchemaError(
                f"this database was made by a newer ParsDesk (schema revision {current}); update ParsDesk "
                "on this desk before using it"
            )
        if current is None and connection.dialect.name == "postgresql":
            tables = inspect(connection).get_table_names()
            if tables:
                raise StoreError(
                    f"the database is not empty and is not a ParsDesk database (it holds {len(tables)} "
                    f"tables, e.g. {sorted(tables)[0]!r}); give ParsDesk a database of its own"
                )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    def __init__(self, path: Path | None, engine: Engine, *, office: OfficeDatabase | None = None) -> None:
        self.path = path  # the SQLite file; None for the office database
        self.office = office  # the PostgreSQL database; None for a SQLite file
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.created = False  # Store.open made a new store file

    @property
    def is_office(self) -> bool:
        """True on the shared PostgreSQL database, False on a coordinator's own SQLite file."""
        return self.office is not None

    @property
    def location(self) -> str:
        """What Store.open takes to open this store again; safe to show (never holds a password)."""
        return self.office.display if self.office is not None else str(self.path)

    @classmethod
    def open(
        cls, path: Path | str, *, migrate_schema: bool = True, password: str | None = None, create: bool = True,
        for_writing: bool = True,
    ) -> Store:
        """Open a ParsDesk store: the office database for a URL, else a store file. A missing file is
        created (owner-only) when `create` is true and its folder exists; anything else at the path that
        is not a ParsDesk store is refused untouched (app/models/store_file.py), and so is a read-only
        store unless `for_writing` is false. `store.created` tells the caller to announce a new store."""
        if is_database_url(path):
            assert isinstance(path, str)
            if path.strip().lower().startswith("sqlite:///"):
                path = path.strip()[len("sqlite:///"):]
            else:
                return cls.open_office(path, migrate_schema=migrate_schema, password=password)
        try:
            prepared = store_file.prepare(path, create=create, for_writing=for_writing)
        except store_file.StoreFileError as exc:
            raise StoreError(str(exc)) from None
        path = prepared.path
        try:
            engine = make_engine(path)
            if migrate_schema:
                migrate(engine)
        except Exception as exc:
            if prepared.created:  # leave nothing half-made behind
                _remove_new_store(path)
            if isinstance(exc, OSError):
                raise StoreError(f"cannot open the store {path}: {exc.strerror or exc}") from exc
            if isinstance(exc, NewerSchemaError):
                raise StoreError(f"{path}: {exc}") from exc
            # sqlalchemy/alembic errors about a damaged or locked file
            if exc.__class__.__module__.startswith(("sqlalchemy", "alembic", "sqlite3")):
                raise StoreError(f"{path} is not a usable ParsDesk store: {database_error_text(exc)}") from exc
            raise
        # WAL side files carry data too; SQLite gives them the store's mode, and a new store is 0600.
        if prepared.created:
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists():
                    os.chmod(side, stat.S_IRUSR | stat.S_IWUSR)
        store = cls(path, engine)
        store.created = prepared.created
        return store

    @classmethod
    def open_office(cls, url: str, *, migrate_schema: bool = True, password: str | None = None) -> Store:
        """The office's PostgreSQL database; an empty one gets the schema on first use."""
        try:
            office = parse_office_url(url)
        except OfficeDatabaseError as exc:
            raise StoreError(str(exc)) from exc
        engine = make_office_engine(office, password=password)
        try:
            if migrate_schema:
                migrate(engine)
            else:
                with engine.connect():
                    pass  # reach the server now, so an unreachable database is reported here
        except StoreError:
            engine.dispose()
            raise
        except NewerSchemaError as exc:
            engine.dispose()
            raise StoreError(f"the office database {office}: {exc}") from exc
        except Exception as exc:
            engine.dispose()
            if exc.__class__.__module__.startswith(("sqlalchemy", "alembic", "psycopg")):
                raise StoreError(f"cannot use the office database {office}: {describe_database_error(exc)}") from exc
            raise
        return cls(None, engine, office=office)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: commits when the block ends, rolls back on error. An update
        of a row someone else changed meanwhile raises ConcurrentChangeError (nothing is saved); an
        office database that cannot be reached raises StoreUnavailableError."""
        from sqlalchemy.exc import InterfaceError, OperationalError
        from sqlalchemy.orm.exc import StaleDataError

        try:
            with self._sessions() as session, session.begin():
                yield session
        except StaleDataError as exc:
            raise ConcurrentChangeError() from exc
        except (OperationalError, InterfaceError) as exc:
            if self.office is None:
                raise
            raise StoreUnavailableError(self._unreachable(exc)) from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reading; an office database that cannot be reached raises StoreUnavailableError."""
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            with self._sessions() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            if self.office is None:
                raise
            raise StoreUnavailableError(self._unreachable(exc)) from exc

    def _unreachable(self, exc: BaseException) -> str:
        return f"The office database {self.location} cannot be reached ({describe_database_error(exc)})."

    def ping(self) -> bool:
        """True when the store answers now (the app's reconnection check)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False
        return True

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self.session() as session:
            value = session.scalar(select(Meta.value).where(Meta.key == key))
        return default if value is None else value

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as session:
            session.merge(Meta(key=key, value=value))

    def close(self) -> None:
        self.engine.dispose()


def describe_database_error(exc: BaseException) -> str:
    """One line from a driver error: the server's own first line, without SQLAlchemy's SQL echo."""
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()
    return first[0] if first else type(original).__name__


@dataclass(frozen=True)
class OfficeProbe:
    """What "Test connection" found: usable or not, in one or two sentences for the user."""

    ok: bool
    message: str


def probe_office_database(url: str, password: str | None = None) -> OfficeProbe:
    """Connect to the office database without changing anything and say what ParsDesk would do."""
    from alembic.runtime.migration import MigrationContext

    try:
        office = parse_office_url(url)
    except OfficeDatabaseError as exc:
        return OfficeProbe(False, str(exc))
    engine = make_office_engine(office, password=password)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
            encrypted = connection.execute(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).scalar()
            revision = MigrationContext.configure(connection).get_current_revision()
            tables = inspect(connection).get_table_names()
            can_create = connection.execute(
                text("SELECT has_schema_privilege(current_user, current_schema(), 'CREATE')")
            ).scalar()
            records = (
                connection.execute(text("SELECT count(*) FROM completion")).scalar()
                if revision in known_revisions() else None
            )
    except Exception as exc:
        if exc.__class__.__module__.startswith(("sqlalchemy", "psycopg")):
            return OfficeProbe(False, f"Cannot connect to {office}: {describe_database_error(exc)}")
        raise
    finally:
        engine.dispose()
    where = f"Connected to PostgreSQL {version} at {office.host or 'this computer'} as {office.role}"
    where += " over TLS." if encrypted else " without TLS."
    if revision is None and tables:
        return OfficeProbe(False, f"{where} The database holds other tables and is not a ParsDesk database; "
                                  "give ParsDesk a database of its own.")
    if revision is None:
        if not can_create:
            return OfficeProbe(False, f"{where} The database is empty and {office.role} may not create tables "
                                      "in it; grant CREATE on the schema (docs/office.md).")
        return OfficeProbe(True, f"{where} The database is empty: ParsDesk sets it up on first use.")
    if records is None:
        return OfficeProbe(False, f"{where} This database was made by a newer ParsDesk (schema revision "
                                  f"{revision}); update ParsDesk on this desk first.")
    return OfficeProbe(True, f"{where} ParsDesk office database with {records:,} learner records.")


def reset_id_sequences(connection: Connection) -> None:
    """After rows were inserted with their ids given (a copy, a bulk load), make PostgreSQL's id
    sequences continue after the highest id, so the next ordinary insert gets a free one. SQLite
    needs nothing: its next rowid is always max(rowid) + 1."""
    if connection.dialect.name != "postgresql":
        return
    from app.models.schema import Base

    for table in Base.metadata.sorted_tables:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
            f"FROM {table.name}"
        ))
