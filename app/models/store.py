"""Opening the local SQLite store: owner-only file, WAL, foreign keys, Alembic migrations.

    store = Store.open(path)                 # creates and migrates if needed
    with store.session() as s, s.begin():    # one unit of work
        ...

Each thread makes its own sessions from the same Store (SQLite connections are per thread here).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from app.models.changes import track_revisions
from app.models.schema import Meta
from app.models import store_file

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.created = False  # Store.open made a new store file

    @classmethod
    def open(
        cls, path: Path | str, *, migrate_schema: bool = True, create: bool = True, for_writing: bool = True
    ) -> Store:
        """Open a ParsDesk store file. A missing one is created (owner-only) when `create` is true and
        its folder exists; anything else at the path that is not a ParsDesk store is refused untouched
        (app/models/store_file.py), and so is a read-only store unless `for_writing` is false.
        `store.created` tells the caller to announce a new store."""
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

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: commits when the block ends, rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self.session() as session:
            value = session.scalar(select(Meta.value).where(Meta.key == key))
        return default if value is None else value

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as session:
            session.merge(Meta(key=key, value=value))

    def close(self) -> None:
        self.engine.dispose()
