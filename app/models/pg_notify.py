"""Changes made at other desks, on the office's PostgreSQL database: LISTEN/NOTIFY.

The engine-neutral feed of app/models/changes.py bumps one counter row in every writing transaction;
on a database shared by several coordinators, a cron import and syncs, that one row would make every
writer in the office wait for the others' commits. PostgreSQL has a message channel for this instead:

- `track_notifications(engine)`: every transaction that writes sends `NOTIFY parsdesk_changes` with this
  process's token, inside the same transaction, so the message is delivered if and only if the write
  commits;
- `NotifyFeed`: the ChangeFeed the app polls about once a second. It keeps one connection of its own
  that LISTENs; `poll` drains what arrived (one round trip, which also finds a dropped connection) and
  says True when another process wrote. After a lost connection it reconnects on a later poll and then
  reports a change, since notifications sent meanwhile are gone.

No Qt here.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from app.models.changes import _WRITE_STATEMENT, _WROTE
from app.models.office_db import OfficeDatabase, connect_args

log = logging.getLogger(__name__)

CHANNEL = "parsdesk_changes"
# who wrote: this process (all its threads and engines); other processes have other tokens
PROCESS_TOKEN = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"


def track_notifications(engine: Engine) -> None:
    """Send NOTIFY from every writing transaction on `engine` (delivered only if it commits)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note_write(conn, _cursor, statement, _parameters, _context, _executemany) -> None:  # noqa: ANN001
        if _WRITE_STATEMENT.match(statement):
            conn.info[_WROTE] = True

    @event.listens_for(engine, "commit")
    def _notify(conn) -> None:  # noqa: ANN001 - runs just before the DB-API commit, in the same transaction
        if not conn.info.pop(_WROTE, False):
            return
        cursor = conn.connection.cursor()  # raw DB-API cursor: no events, same transaction
        try:
            cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, PROCESS_TOKEN))
        finally:
            cursor.close()

    @event.listens_for(engine, "rollback")
    def _forget(conn) -> None:  # noqa: ANN001
        conn.info.pop(_WROTE, None)


class NotifyFeed:
    """A ChangeFeed over LISTEN parsdesk_changes (the session given to poll is not needed)."""

    def __init__(self, office: OfficeDatabase) -> None:
        self._office = office
        self._lock = threading.Lock()
        self._connection = None  # psycopg.Connection, opened lazily
        self._foreign = False
        self._missed = False  # the listening connection was lost: something may have been missed
        self.listening = False

    def _connect(self) -> None:
        import psycopg

        url = self._office.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(url, autocommit=True, **connect_args(self._office))
        connection.add_notify_handler(self._received)
        connection.execute(f"LISTEN {CHANNEL}")
        self._connection = connection
        self.listening = True

    def _received(self, notification) -> None:  # noqa: ANN001 - psycopg.Notify
        if notification.payload != PROCESS_TOKEN:
            self._foreign = True

    def start(self) -> NotifyFeed:
        """Listen from now on (a failure is not fatal: poll tries again)."""
        with self._lock:
            try:
                self._connect()
            except Exception as exc:  # noqa: BLE001 - the database may be unreachable right now
                log.info("change notifications not available yet: %s", exc.__class__.__name__)
                self._missed = True
        return self

    def poll(self, _session: Session | None = None) -> bool:
        with self._lock:
            if self._connection is None:
                try:
                    self._connect()
                except Exception as exc:  # noqa: BLE001 - still unreachable: ask again next time
                    log.debug("change notifications: reconnect failed: %s", exc.__class__.__name__)
                    return False
            try:
                self._connection.execute("SELECT 1")  # delivers what arrived; finds a dropped link
            except Exception as exc:  # noqa: BLE001 - the server or the network went away
                log.info("change notifications: connection lost (%s)", exc.__class__.__name__)
                self._drop()
                self._missed = True
                return False
            changed = self._foreign or self._missed
            self._foreign = self._missed = False
            return changed

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self.listening = False
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()


def notify_feed(office: OfficeDatabase) -> NotifyFeed:
    return NotifyFeed(office).start()
