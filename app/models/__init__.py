"""The local store: SQLAlchemy 2.0 models over SQLite, plus Alembic migrations. Never imports Qt.

The names below are loaded when first used, so that a module of this package that needs no
SQLAlchemy (search_keys, store_file, sqlite_view: what `parsdesk check --db` reads a store with)
can be imported without paying for SQLAlchemy and the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_SCHEMA_NAMES = frozenset({
    "ActivityBoardRow",
    "ActivityRow",
    "Base",
    "CompletionBoardRow",
    "CompletionRemsRow",
    "CompletionRow",
    "LearnerRow",
    "Meta",
    "OutboxRow",
    "StatusEvent",
    "UploadLine",
    "UploadRow",
})
_STORE_NAMES = frozenset({"ConcurrentChangeError", "Store", "StoreError", "StoreUnavailableError"})

__all__ = sorted(_SCHEMA_NAMES | _STORE_NAMES)

if TYPE_CHECKING:
    from app.models.schema import (
        ActivityBoardRow,
        ActivityRow,
        Base,
        CompletionBoardRow,
        CompletionRemsRow,
        CompletionRow,
        LearnerRow,
        Meta,
        OutboxRow,
        StatusEvent,
        UploadLine,
        UploadRow,
    )
    from app.models.store import ConcurrentChangeError, Store, StoreError, StoreUnavailableError


def __getattr__(name: str) -> Any:
    if name in _SCHEMA_NAMES:
        from app.models import schema as module
    elif name in _STORE_NAMES:
        from app.models import store as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value
