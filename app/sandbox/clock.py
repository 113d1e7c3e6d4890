"""How far the sandbox's clock may be moved forward at once (`advance`, `/_sandbox/advance`), in one
place for the in-process server and the app's sandbox process."""

from __future__ import annotations

import math

MAX_ADVANCE_SECONDS = 10 * 366 * 24 * 3600.0  # ten years: beyond any board delay or deadline


def advance_allowed(seconds: float) -> bool:
    """A finite number of seconds from 0 to ten years (never inf or nan, which would stop its clock)."""
    return math.isfinite(seconds) and 0 <= seconds <= MAX_ADVANCE_SECONDS
