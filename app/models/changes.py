"""Knowing that the store changed underneath a running app: another process wrote to it.

A coordinator's app stays open all day while a cron `parsdesk import` or `parsdesk sync` (or, on an
office database, another coordinator) writes to the same store. The app's own changes reach its views
through `ctx.notify_records_changed`; this module tells it about everyone else's.

How (engine-neutral): every transaction that writes also bumps one counter, the `store_revision` row
of the `meta` table, in the same transaction. `track_revisions(engine)` installs that as a connection
hook, so ORM units of work, bulk statements, the sync engine, the CLI and migrations are all counted
without any of them knowing. A process remembers the revisions it made itself; a revision it did not
make is another writer's.

The interface the app uses is a ChangeFeed:

    feed = ctx.read(revision_feed)       # once, when the window opens
    if ctx.read(feed.poll):              # on a timer, about once a second: one primary-key read
        ...                              # another process changed the store: refresh the views

Another engine may offer the same interface from a cheaper source (PostgreSQL LISTEN/NOTIFY): `poll`
then ignores the session and drains its notifications. See docs/desktop-app.md, "Changes made
elsewhere".
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Protocol

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.models.schema import Meta

log = logging.getLogger(__name__)

REVISION_KEY = "store_revision"
_WROTE = "parsdesk_wrote"  # connection-info flag: this transaction wrote something
_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# Portable SQL (SQLite 3.35+ and PostgreSQL): the counter is text in meta.value.
_BUMP = (
    f"UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS VARCHAR(20)) WHERE key = '{REVISION_KEY}' "
    "RETURNING value"
)
_SEED = f"INSERT INTO meta (key, value) VALUES ('{REVISION_KEY}', '0') ON CONFLICT (key) DO NOTHING"
_OWN_LIMIT = 50_000  # revisions remembered per store; a feed polls long before this many own commits


class ChangeFeed(Protocol):
    """Where the app learns that another process changed the store."""

    def poll(self, session: Session) -> bool:
        """True when another process changed the store since the previous poll (cheap; call often)."""
        ...


def database_key(url: URL | str) -> str:
    """One name per database (the password left out), shared by every engine on it in this process."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return str(url)


class _OwnRevisions:
    """The revisions this process wrote, per database (engines in several threads share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, set[int]] = {}

    def add(self, key: str, revision: int) -> None:
        with self._lock:
            own = self._by_key.setdefault(key, set())
            own.add(revision)
            if len(own) > _OWN_LIMIT:
                for old in sorted(own)[: len(own) - _OWN_LIMIT]:
                    own.discard(old)

    def foreign_between(self, key: str, after: int, upto: int) -> bool:
        """Whether any revision in (after, upto] was made by someone else."""
        if upto < after or upto - after > _OWN_LIMIT:  # replaced, restored, or far more than we made
            return True
        with self._lock:
            own = self._by_key.get(key, set())
            return any(revision not in own for revision in range(after + 1, upto + 1))


_own = _OwnRevisions()


def mark_written(connection: Connection) -> None:
    """Count this transaction as a writing one although its writes bypassed SQLAlchemy's cursor events
    (a PostgreSQL COPY): its commit then bumps the revision or sends the NOTIFY like any other."""
    connection.info[_WROTE] = True


def track_revisions(engine: Engine) -> None:
    """Count every writing transaction on `engine` in the store's revision (see the module doc)."""
    key = database_key(engine.url)

    @event.listens_for(engine, "before_cursor_execute")
    def _note_write(conn, _cursor, statement, _parameters, _context, _executemany) -> None:  # noqa: ANN001
        if _WRITE_STATEMENT.match(statement):
            conn.info[_WROTE] = True

    @event.listens_for(engine, "commit")
    def _bump(conn) -> None:  # noqa: ANN001 - runs just before the DB-API commit, in the same transaction
        if not conn.info.pop(_WROTE, False):
            return
        cursor = conn.connection.cursor()  # the raw DB-API cursor: no events, same transaction
        try:
            cursor.execute(_BUMP)
            row = cursor.fetchone()
            if row is None:  # the first write to this store: start the counter
                cursor.execute(_SEED)
                cursor.execute(_BUMP)
                row = cursor.fetchone()
        except Exception as exc:
            if conn.dialect.name != "sqlite":
                # elsewhere (PostgreSQL) a failed statement aborts the transaction, and its COMMIT would
                # quietly roll the user's writes back: fail the commit loudly instead
                raise
            # SQLite goes on after a failed statement: e.g. no meta table yet, mid-migration
            log.debug("store revision not bumped: %s", exc.__class__.__name__)
            return
        finally:
            cursor.close()
        if row is not None:
            _own.add(key, int(row[0]))

    @event.listens_for(engine, "rollback")
    def _forget(conn) -> None:  # noqa: ANN001
        conn.info.pop(_WROTE, None)


def current_revision(session: Session) -> int:
    value = session.scalar(select(Meta.value).where(Meta.key == REVISION_KEY))
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class RevisionFeed:
    """A ChangeFeed over the store's revision counter (any engine)."""

    def __init__(self, key: str, revision: int) -> None:
        self._key = key
        self._seen = revision

    @property
    def seen(self) -> int:
        return self._seen

    def poll(self, session: Session) -> bool:
        now = current_revision(session)
        if now == self._seen:
            return False
        changed = _own.foreign_between(self._key, self._seen, now)
        self._seen = now
        return changed


def revision_feed(session: Session) -> RevisionFeed:
    """A feed that reports changes made by other processes from now on."""
    bind = session.get_bind()
    return RevisionFeed(database_key(bind.engine.url if hasattr(bind, "engine") else bind.url),
                        current_revision(session))
