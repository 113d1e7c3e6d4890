"""Colours and small painting helpers the pictures share (status bars, the overview, the strip).

Colours are mid-tone so they read on a light and on a dark window; text drawn on top of them uses
the palette's own text colour, and tints are mixed with the palette's base colour, never fixed.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

STATUS_COLORS: dict[str, str] = {
    "Accepted": "#2e9d5b",
    "Submitted": "#3b82c4",
    "Rejected": "#d9483b",
    "Queued": "#e0a526",
    "Draft": "#a08f78",
    "Delete Queued": "#b38ad6",
    "Delete Submitted": "#8e6bb0",
    "Deleted": "#808080",
}
# left to right in a stacked bar: done, moving, needs work, not sent, leaving
STATUS_ORDER = ("Accepted", "Submitted", "Rejected", "Queued", "Draft", "Delete Queued", "Delete Submitted", "Deleted")

LEVEL_COLORS: dict[str, str] = {"overdue": "#d9483b", "due": "#e0a526", "follow-up": "#3b82c4", "clear": "#2e9d5b"}


def status_color(status: str) -> QColor:
    return QColor(STATUS_COLORS.get(status, "#808080"))


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tint(palette: QPalette, color: str | QColor, amount: float) -> QColor:
    """`color` mixed into the palette's base colour: a soft background that keeps text readable."""
    base = palette.color(QPalette.ColorRole.Base)
    accent = QColor(color)
    mix = lambda a, b: round(a + (b - a) * amount)  # noqa: E731
    return QColor(mix(base.red(), accent.red()), mix(base.green(), accent.green()), mix(base.blue(), accent.blue()))
