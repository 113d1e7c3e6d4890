"""Garbage collection that does not freeze the window.

A full (generation 2) collection walks every container object the process holds, with the interpreter
lock held: with the window open on a store that is 120,000+ objects and 80-190 ms, during which the
GUI thread cannot run a single Python slot. Worker threads trigger them too (any thread that
allocates can), so a Batch Upload or a sync used to freeze the window for that long several times
(bench/bench_ui.py --watch names them). Two measures:

- `freeze_startup_heap()`, once the main window is built: what exists then (modules, classes, the
  Qt wrappers of the window's widgets, SQLAlchemy's mappers and caches) lives until the app quits,
  so gc.freeze() takes it out of the collector's sight. Later full collections walk only what was
  made since.
- `hold_full_collections(owner)` / `release_full_collections(owner)` around bulk work in a worker
  (a Batch Upload's analysis and queueing, a sync pass): young collections go on, so short-lived
  cycles are still freed; full ones wait for the last holder to finish, when the work's objects
  are gone and a full collection has little left to walk.
"""

from __future__ import annotations

import gc

# threshold of generation 2 while held: in effect never (the work ends long before)
HELD_THRESHOLD = 1_000_000

_holders: set[str] = set()
_saved_thresholds: tuple[int, int, int] | None = None
_frozen = False


def freeze_startup_heap() -> bool:
    """Collect once, then move every object alive now out of the collector's sight (once per
    process: the first window's heap). Returns True when it froze now."""
    global _frozen
    if _frozen:
        return False
    gc.collect()  # garbage of the start-up (import-time cycles) is freed, not frozen
    gc.freeze()
    _frozen = True
    return True


def hold_full_collections(owner: str) -> None:
    """No full collection until every owner released its hold (holding twice is holding once)."""
    global _saved_thresholds
    if not _holders:
        _saved_thresholds = gc.get_threshold()
        young, middle, _full = _saved_thresholds
        gc.set_threshold(young, middle, HELD_THRESHOLD)
    _holders.add(owner)


def release_full_collections(owner: str) -> None:
    """End `owner`'s hold (nothing happens when it held none); the last one restores the thresholds."""
    global _saved_thresholds
    if owner not in _holders:
        return
    _holders.discard(owner)
    if not _holders and _saved_thresholds is not None:
        gc.set_threshold(*_saved_thresholds)
        _saved_thresholds = None


def full_collections_held() -> bool:
    return bool(_holders)
