"""Moving and keeping a store: copy into the office database, SQLite backup and restore.

- `copy_store(source, target)`: every table of a store (activities, learners, records, history,
  uploads, outbox, the office's settings in `meta`) into an empty store, usually the office's
  PostgreSQL database. One transaction on the target, read from one snapshot of the source; ids are
  kept (records keep their history and links), PostgreSQL's id sequences are moved past them, and the
  counts are compared table by table afterwards. A target holding anything is refused.
- `backup_sqlite(store, out)`: SQLite's online backup API (consistent while the app keeps working) into
  a new owner-only file, checked by reopening it.
- `restore_sqlite(backup, store_path)`: the same API the other way, after checking the backup.

The office database is backed up with PostgreSQL's own tools (pg_dump); see docs/office.md.
No Qt here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Table, func, insert, select, update

from app.models.schema import Base
from app.models.store import Store, StoreError, known_revisions, reset_id_sequences

CHUNK = 2000
# meta keys that describe one store file or one process, not the office's data
LOCAL_META_KEYS = frozenset({"store_revision"})


class TransferError(Exception):
    """The copy, backup or restore was refused or failed; nothing was changed. The message says why."""


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before children


def table_counts(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    with store.engine.connect() as connection:
        for table in _tables():
            query = select(func.count()).select_from(table)
            if table.name == "meta":
                query = query.where(table.c.key.not_in(LOCAL_META_KEYS))
            counts[table.name] = connection.execute(query).scalar() or 0
    return counts


def _self_references(table: Table) -> list[str]:
    """Columns pointing into their own table (completion.replaces_id): filled in a second pass."""
    return [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]


def copy_store(source: Store, target: Store, *, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; the verified counts per table."""
    before = table_counts(target)
    if any(before.values()):
        filled = ", ".join(f"{name} {count:,}" for name, count in before.items() if count)
        raise TransferError(f"the target {target.location} is not empty ({filled}); copy only into an empty database")
    expected = table_counts(source)
    with source.engine.connect() as reading, reading.begin(), target.engine.begin() as writing:
        # one read transaction: a snapshot, even while the source's app keeps working
        for table in _tables():
            later = _self_references(table)
            query = select(table).order_by(*table.primary_key.columns)
            if table.name == "meta":
                query = query.where(table.c.key.not_in(LOCAL_META_KEYS))
            copied = 0
            links: list[dict[str, object]] = []
            for chunk in reading.execute(query).mappings().partitions(CHUNK):
                rows = [dict(row) for row in chunk]
                for row in rows:
                    if any(row.get(name) is not None for name in later):
                        links.append({"pk": row["id"], **{name: row[name] for name in later}})
                        for name in later:
                            row[name] = None
                writing.execute(insert(table), rows)
                copied += len(rows)
                if progress is not None:
                    progress(table.name, copied)
            for name in later:
                pairs = [{"pk": link["pk"], "value": link[name]} for link in links if link[name] is not None]
                if pairs:
                    from sqlalchemy import bindparam

                    writing.execute(
                        update(table).where(table.c.id == bindparam("pk")).values({name: bindparam("value")}),
                        pairs,
                    )
        reset_id_sequences(writing)
    after = table_counts(target)
    if after != expected:
        wrong = ", ".join(f"{name}: {expected[name]:,} → {after.get(name, 0):,}" for name in expected if expected[name] != after.get(name))
        raise TransferError(f"the copy does not match the source ({wrong})")
    return after


# --- SQLite backup and restore ----------------------------------------------------------------------

def _create_private(path: Path) -> None:
    """Create `path` owner-only from the first byte; refuse an existing file."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise TransferError(f"{path} already exists; choose a new file name") from None
    except OSError as exc:
        raise TransferError(f"cannot create {path}: {exc.strerror or exc}") from exc


def check_sqlite_store(path: Path) -> dict[str, int]:
    """Open a SQLite store file read-only-ish (no migration) and check it; its counts per table."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        connection.close()
    except sqlite3.Error as exc:
        raise TransferError(f"{path} is not a ParsDesk store: {exc}") from exc
    if not verdict or verdict[0] != "ok":
        raise TransferError(f"{path} is damaged (integrity check: {verdict[0] if verdict else 'no answer'})")
    if not revision or revision[0] not in known_revisions():
        raise TransferError(f"{path} was made by a newer ParsDesk (schema {revision[0] if revision else '?'})")
    try:
        store = Store.open(path, migrate_schema=False)
    except StoreError as exc:
        raise TransferError(str(exc)) from exc
    try:
        return table_counts(store)
    finally:
        store.close()


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in _tables():
        if table.name == "meta":
            marks = ",".join("?" * len(LOCAL_META_KEYS))
            row = connection.execute(f"SELECT count(*) FROM meta WHERE key NOT IN ({marks})", sorted(LOCAL_META_KEYS))
        else:
            row = connection.execute(f'SELECT count(*) FROM "{table.name}"')
        counts[table.name] = row.fetchone()[0]
    return counts


def backup_sqlite(store: Store, out: Path) -> dict[str, int]:
    """A consistent copy of a SQLite store in the new owner-only file `out`, verified by reopening."""
    if store.path is None:
        raise TransferError(
            "the office database is backed up with PostgreSQL's own tools: pg_dump -Fc (see docs/office.md)"
        )
    out = out.expanduser()
    _create_private(out)
    try:
        source = sqlite3.connect(store.path, isolation_level=None)
        target = sqlite3.connect(out)
        try:
            # one read transaction: the counts and the copied pages are the same snapshot, however
            # much the app or a sync writes meanwhile (WAL)
            source.execute("BEGIN")
            expected = _sqlite_counts(source)
            source.backup(target)
            source.execute("COMMIT")
        finally:
            target.close()
            source.close()
        os.chmod(out, 0o600)
        counts = check_sqlite_store(out)
        if counts != expected:
            raise TransferError("the backup does not match the store: it was not written completely")
    except sqlite3.Error as exc:
        out.unlink(missing_ok=True)
        raise TransferError(f"the backup failed: {exc}") from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return counts


def restore_sqlite(backup: Path, store_path: Path) -> dict[str, int]:
    """Replace the store file's content with a checked backup (the online backup API, so an open
    connection sees the restored data, never a half-written file). Returns the restored counts."""
    backup = backup.expanduser()
    if not backup.is_file():
        raise TransferError(f"no backup at {backup}")
    counts = check_sqlite_store(backup)
    store_path = store_path.expanduser()
    if not store_path.exists():
        _create_private(store_path)
    try:
        source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        target = sqlite3.connect(store_path, timeout=10)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    except sqlite3.Error as exc:
        raise TransferError(f"the restore failed (is a sync or the app writing to {store_path}?): {exc}") from exc
    # a new store file was created owner-only above; an existing store keeps the mode its owner gave it
    restored = check_sqlite_store(store_path)
    if restored != counts:
        raise TransferError("the restored store does not match the backup")
    return restored
