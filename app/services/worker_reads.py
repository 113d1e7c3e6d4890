"""Reads for the desktop app's worker threads.

A worker thread owns its own Session (docs/layering.md): widgets never open one, and a worker that
needs a read-only service (an upload's rejection file, the activities a batch is checked against)
calls it through `read_in_worker`, which opens that thread's Session on the Store and closes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from app.models import Store

R = TypeVar("R")


def read_in_worker(store: Store, use_case: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """`use_case(session, *args, **kwargs)` in a read-only Session of the calling (worker) thread; it
    must return plain values. Raises what the use case raises (OSError for a file it cannot write)."""
    with store.reading() as session:
        return use_case(session, *args, **kwargs)
