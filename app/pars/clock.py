"""Today's date for everything that judges dates against "now": deadlines, the attention list,
future completion dates. One place, so tests pin a calendar and a demo can show a chosen day.

`PARSDESK_TODAY=YYYY-MM-DD` pins the date for a whole process (a demo, a cron dry run);
`pinned(day)` pins it inside a `with` block (tests). Otherwise it is the computer's date.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

ENV_TODAY = "PARSDESK_TODAY"

_pinned: list[date] = []  # innermost pin last


class ClockError(ValueError):
    """PARSDESK_TODAY holds something that is not a date."""


def today() -> date:
    if _pinned:
        return _pinned[-1]
    configured = os.environ.get(ENV_TODAY, "").strip()
    if configured:
        try:
            return date.fromisoformat(configured)
        except ValueError as exc:
            raise ClockError(f"{ENV_TODAY}={configured!r} is not a date like 2026-12-20") from exc
    return date.today()


@contextmanager
def pinned(day: date) -> Iterator[date]:
    """Within the block, today() is `day`."""
    _pinned.append(day)
    try:
        yield day
    finally:
        _pinned.pop()
