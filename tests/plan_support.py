"""SQLite's query plans for the statements a piece of code runs (EXPLAIN QUERY PLAN), so a test can
say which index answers a lookup: a store has no planner statistics, and a plan that walks every
record of an activity is correct but grows with the store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event

from app.models import Store


def plans_of(store: Store, action: Callable[[], object], *, mentioning: str = "completion") -> list[str]:
    """One line per SELECT that `action` runs on `store` and that names `mentioning`: its plan steps
    joined with ' | '."""
    statements: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and mentioning in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", remember)
    try:
        action()
    finally:
        event.remove(store.engine, "before_cursor_execute", remember)
    with store.engine.connect() as connection:
        raw = connection.connection.driver_connection
        return [" | ".join(str(step[-1]) for step in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                for sql, params in statements]
