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
from app.paths import ensure_private_file

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """The store cannot be used (locked, unreadable, not a ParsDesk database): an environment problem."""


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

    @classmethod
    def open(cls, path: Path | str, *, migrate_schema: bool = True) -> Store:
        path = Path(path).expanduser().resolve()
        try:
            ensure_private_file(path)
            engine = make_engine(path)
            if migrate_schema:
                migrate(engine)
        except OSError as exc:
            raise StoreError(f"cannot open the store {path}: {exc.strerror or exc}") from exc
        except Exception as exc:  # sqlalchemy/alembic errors about a foreign or damaged file
            if exc.__class__.__module__.startswith(("sqlalchemy", "alembic", "sqlite3")):
                raise StoreError(f"{path} is not a usable ParsDesk store: {exc}") from exc
            raise
        # WAL side files carry data too; keep them owner-only as well.
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.chmod(side, stat.S_IRUSR | stat.S_IWUSR)
        return cls(path, engine)

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
