"""The local store: SQLAlchemy 2.0 models over SQLite, plus Alembic migrations. Never imports Qt."""

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

__all__ = [
    "ActivityBoardRow",
    "ActivityRow",
    "Base",
    "CompletionBoardRow",
    "CompletionRemsRow",
    "CompletionRow",
    "ConcurrentChangeError",
    "LearnerRow",
    "Meta",
    "OutboxRow",
    "StatusEvent",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UploadLine",
    "UploadRow",
]
