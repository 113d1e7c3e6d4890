"""Writing and finding thousands of rows at once, on either engine (a 5,000-row Batch Upload).

- `insert_rows(session, table, rows, with_ids=...)`: one bulk write per table. The rows get exactly the
  values an ordinary Core INSERT would store (the columns' Python defaults, such as the folded search
  keys, the version and the timestamps, and the columns' own bind conversions) and, when asked, their
  ids, which are taken before the write:
  - PostgreSQL: the ids come from the table's sequence in one round trip (`nextval` over
    `generate_series`: safe with other desks inserting at the same time), and the rows go in through
    `COPY ... FROM STDIN`, one stream per table instead of thousands of parsed INSERTs;
  - SQLite: the transaction first holds the store's write lock, so no other process can insert
    meanwhile, and the ids are the ones SQLite would give (max(id) + 1 onwards: the tables have no
    AUTOINCREMENT); the rows go in through the driver's executemany, without per-row ORM work.
  The rows belong to the caller's transaction: they are committed, or rolled back, with everything
  else it did. The transaction is marked as a writing one, so other processes hear of it
  (app/models/changes.py, app/models/pg_notify.py).
- `update_rows(session, table, changes, versioned=...)`: new values for thousands of rows, each
  named by id (a delete file changes the status of every record it names), in one step:
  - PostgreSQL: the changes go through `COPY` into a temporary table, then one `UPDATE ... FROM` it;
  - SQLite: one prepared `UPDATE ... WHERE id = ?` run by the driver's executemany.
  With `versioned`, each change carries the version it was read at: the row's version goes one up
  (as the ORM's version_id_col does) and a row that someone changed meanwhile fails the whole write
  with StaleDataError (Store.transaction turns it into ConcurrentChangeError).
- `delete_ids(session, table, ids)`: rows deleted by id, a few hundred per statement.
- `key_pairs_join(session, select, col_a, col_b, pairs)`: the rows whose (col_a, col_b) is one of
  `pairs`, in one statement, as an index seek per pair on both engines (SQLite answers
  `(a, b) IN (...)` by scanning the whole index: seconds at a million learners).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Column, Date, DateTime, Select, String, Table, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.models.changes import mark_written
from app.wording import plural


def _table_of(target: Any) -> Table:
    return target if isinstance(target, Table) else target.__table__


class _DefaultContext:
    """What a column default callable may ask of SQLAlchemy's execution context: the row's values."""

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:  # noqa: ARG002
        return self._row


def _default_for(col: Column, row: dict[str, Any]) -> Any:
    default = col.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(_DefaultContext(row))
    raise TypeError(f"{col.table.name}.{col.name}: bulk writes take scalar or callable defaults only")


def _columns(table: Table, rows: Sequence[dict[str, Any]], with_ids: bool) -> list[Column]:
    """The columns an INSERT of these rows writes: every one given, every one with a Python default
    (as a Core INSERT fills them), and the id when it is assigned here. Others keep the server's default."""
    given = set().union(*(row.keys() for row in rows))
    unknown = given - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    return [
        col for col in table.c
        if (col.name == "id" and with_ids) or (col.name != "id" and (col.name in given or col.default is not None))
    ]


def _prepared(columns: list[Column], rows: Sequence[dict[str, Any]], ids: Sequence[int] | None,
              connection: Connection) -> list[tuple[Any, ...]]:
    """Each row as the tuple the driver receives: defaults filled, then each column's bind conversion
    (column by column: the per-value work is a list comprehension)."""
    dialect = connection.dialect
    first_keys = rows[0].keys()
    uniform = all(row.keys() == first_keys for row in rows)  # the usual case: one check for every column
    by_column: list[list[Any]] = []
    for col in columns:
        name = col.name
        if name == "id" and ids is not None:
            by_column.append(list(ids))
            continue
        if name in first_keys if uniform else all(name in row for row in rows):
            found = [row[name] for row in rows]
        else:
            found = [row[name] if name in row else _default_for(col, row) for row in rows]
        process = col.type.dialect_impl(dialect).bind_processor(dialect)
        if process is None:
            by_column.append(found)
        elif isinstance(col.type, (Date, DateTime)):
            by_column.append(_converted_once_per_value(process, found))
        else:
            by_column.append([process(value) for value in found])
    return list(zip(*by_column, strict=True))


def _converted_once_per_value(process: Any, values: list[Any]) -> list[Any]:
    """A date or time column's bind conversion (SQLite formats each one as text), once per distinct
    value: a batch's rows share a handful of dates and one timestamp. The key keeps the tzinfo, so
    equal instants written in different zones are converted apart."""
    done: dict[tuple[Any, Any], Any] = {}
    converted = []
    for value in values:
        key = (value, getattr(value, "tzinfo", None))
        text_ = done.get(key)
        if text_ is None and key not in done:
            text_ = done[key] = process(value)
        converted.append(text_)
    return converted


def _new_ids(connection: Connection, table: Table, count: int) -> list[int]:
    if connection.dialect.name == "postgresql":
        found = connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table.name, "count": count},
        ).scalars().all()
        return sorted(found)
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if not driver.in_transaction:
            # hold the write lock before reading max(id): no other process can insert until we commit
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        highest = connection.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar()
        first = (highest or 0) + 1
        return list(range(first, first + count))
    raise NotImplementedError(f"bulk ids on {connection.dialect.name}")


def insert_rows(session: Session, target: Any, rows: Sequence[dict[str, Any]], *, with_ids: bool = False) -> list[int]:
    """Insert `rows` (column name -> value) into the table of `target` (an ORM class or a Table) in the
    session's transaction. Returns the new rows' ids, in the order of `rows`, when `with_ids`."""
    if not rows:
        return []
    table = _table_of(target)
    connection = session.connection()
    ids = _new_ids(connection, table, len(rows)) if with_ids else None
    columns = _columns(table, rows, with_ids)
    prepared = _prepared(columns, rows, ids, connection)
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(col.name) for col in columns)
    if connection.dialect.name == "postgresql":
        mark_written(connection)  # COPY runs on the driver's cursor, which SQLAlchemy's events do not see
        cursor = connection.connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                for values_ in prepared:
                    copy.write_row(values_)
        finally:
            cursor.close()
    else:
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", prepared)
    return list(ids) if ids is not None else []


def _bound(col: Column, values: list[Any], connection: Connection) -> list[Any]:
    """Values as the driver receives them for this column (its bind conversion, if any)."""
    dialect = connection.dialect
    process = col.type.dialect_impl(dialect).bind_processor(dialect)
    return values if process is None else [process(value) for value in values]


def update_rows(session: Session, target: Any, changes: Sequence[dict[str, Any]], *, versioned: bool = False) -> None:
    """Write each change (column name -> new value, plus its row's `id`, and with `versioned` the
    `version` it was read at) to the table of `target`, in the session's transaction. Every change
    names the same columns; each row at most once."""
    if not changes:
        return
    table = _table_of(target)
    names = [name for name in changes[0] if name not in ("id", "version")]
    wanted = {"id", *names} | ({"version"} if versioned else set())
    for change in changes:
        if set(change) != wanted:
            raise KeyError(f"{table.name}: every change names the columns {sorted(wanted)}; one has {sorted(change)}")
    ids = [change["id"] for change in changes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{table.name}: a row is changed twice in one bulk update")
    connection = session.connection()
    columns = [table.c[name] for name in names]
    # the values column by column, in the order of the statement's markers: new values, then the keys
    by_column = [_bound(col, [change[col.name] for change in changes], connection) for col in columns]
    if versioned:
        by_column.append([change["version"] + 1 for change in changes])
    by_column.append(ids)
    if versioned:
        by_column.append([change["version"] for change in changes])
    quote = connection.dialect.identifier_preparer.quote
    assignments = [quote(name) for name in names] + (["version"] if versioned else [])
    if connection.dialect.name == "postgresql":
        matched = _update_from_copy(connection, table, columns, assignments, list(zip(*by_column, strict=True)),
                                    versioned)
    else:
        marks = ", ".join(f"{name} = ?" for name in assignments)
        condition = "id = ?" + (" AND version = ?" if versioned else "")
        result = connection.exec_driver_sql(f"UPDATE {quote(table.name)} SET {marks} WHERE {condition}",
                                            list(zip(*by_column, strict=True)))
        matched = result.rowcount
    if matched != len(changes):
        raise StaleDataError(
            f"{table.name}: {plural(len(changes) - matched, 'row')} of {len(changes)} changed or removed by "
            "someone else since they were read"
        )


def _update_from_copy(connection: Connection, table: Table, columns: list[Column], assignments: list[str],
                      values: list[tuple[Any, ...]], versioned: bool) -> int:
    """PostgreSQL: the changes COPYed into a temporary table, then one UPDATE joined to it. Returns
    how many rows it changed."""
    quote = connection.dialect.identifier_preparer.quote
    scratch = "parsdesk_changes"  # private to this connection; dropped below, or with a failed transaction
    dialect = connection.dialect
    typed = [f"{quote(col.name)} {col.type.compile(dialect=dialect)}" for col in columns]
    typed += (["new_version INTEGER"] if versioned else []) + ["id INTEGER"] + (["version INTEGER"] if versioned else [])
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {scratch} ({', '.join(typed)}) ON COMMIT DROP")
    mark_written(connection)  # the UPDATE below is seen by the events too; COPY is not
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {scratch} FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    finally:
        cursor.close()
    sources = [quote(col.name) for col in columns] + (["new_version"] if versioned else [])
    sets = ", ".join(f"{name} = changes.{source}" for name, source in zip(assignments, sources, strict=True))
    condition = f"{quote(table.name)}.id = changes.id" + (
        f" AND {quote(table.name)}.version = changes.version" if versioned else "")
    result = connection.exec_driver_sql(f"UPDATE {quote(table.name)} SET {sets} FROM {scratch} AS changes WHERE {condition}")
    connection.exec_driver_sql(f"DROP TABLE {scratch}")
    return result.rowcount


_IDS_PER_STATEMENT = 500


def delete_ids(session: Session, target: Any, ids: Sequence[int]) -> int:
    """Delete the rows of `target` with these ids, in the session's transaction; returns how many went."""
    table = _table_of(target)
    wanted = sorted(set(ids))
    deleted = 0
    for start in range(0, len(wanted), _IDS_PER_STATEMENT):
        deleted += session.execute(table.delete().where(table.c.id.in_(wanted[start:start + _IDS_PER_STATEMENT]))).rowcount
    return deleted


def key_pairs_join(session: Session, query: Select, col_a: Any, col_b: Any, pairs: Iterable[tuple[str, str]]) -> Select:
    """`query` joined to `pairs` on (col_a, col_b): one statement whatever the number of pairs, with
    one index seek per pair on both engines. The pairs travel as one parameter or two (a JSON text
    for SQLite's json_each, two text arrays for PostgreSQL's unnest), so the statement stays small and
    SQLAlchemy compiles it once. Keep other indexed conditions out of `query` and filter what it
    finds instead: given one, SQLite's planner may drive from that index and probe the pairs per row."""
    ordered = sorted(set(pairs))
    if session.get_bind().dialect.name == "postgresql":
        firsts = bindparam(None, [a for a, _ in ordered], type_=ARRAY(String))
        seconds = bindparam(None, [b for _, b in ordered], type_=ARRAY(String))
        wanted = func.unnest(firsts, seconds).table_valued("a", "b").render_derived(name="wanted")
        return query.join(wanted, (col_a == wanted.c.a) & (col_b == wanted.c.b))
    wanted = func.json_each(bindparam(None, json.dumps(ordered), type_=String)).table_valued("value", name="wanted")
    return query.join(wanted, (col_a == func.json_extract(wanted.c.value, "$[0]"))
                      & (col_b == func.json_extract(wanted.c.value, "$[1]")))
