"""ParsDesk's icons (drawn by resources/icons/make_icons.py), looked up by name or record status."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QIcon

from app.paths import resource


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """resources/icons/<name>.png as an icon; an empty icon when it is missing (never an error)."""
    path = resource("icons", f"{name}.png")
    return QIcon(str(path)) if path.is_file() else QIcon()


def status_icon(status: str) -> QIcon:
    """The icon of a record status, e.g. "Delete Submitted" -> status-delete-submitted.png."""
    return icon("status-" + status.strip().lower().replace(" ", "-"))


def app_icon() -> QIcon:
    return icon("parsdesk")
