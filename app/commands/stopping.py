"""Stopping a command on Ctrl+C or SIGTERM without deadlocking it.

A Python signal handler runs in the main thread between two of its bytecodes, possibly while that
thread holds a lock; a handler that takes the same lock waits for itself for good. So the handlers
here take none.
"""

from __future__ import annotations

import select
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopRequest:
    """Ctrl+C or SIGTERM asked a command to end: `is_set()` to look (`parsdesk sync`'s engine, between
    batches), `wait(s)` to wait for it (between two passes), ended early by the request.

    `request()` runs inside a signal handler, i.e. in the main thread between two of its bytecodes,
    possibly while that thread holds a lock. So it takes none: a flag and a byte written to a socket
    that `wait` selects on. (threading.Event.set() deadlocked there when the signal came while the
    loop was inside Event.wait(), holding the event's own lock: `parsdesk sync` then ignored
    SIGTERM for good. Starting a thread there is no better: Thread.start takes a module-wide lock.)"""

    def __init__(self) -> None:
        self._requested = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)

    def __enter__(self) -> StopRequest:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._wake_reader.close()
        self._wake_writer.close()

    def is_set(self) -> bool:
        return self._requested

    def request(self) -> None:
        self._requested = True
        try:
            self._wake_writer.send(b"\0")
        except OSError:  # the buffer is full or closed: a wake-up is pending anyway
            pass

    def wait(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds (None: for as long as it takes) for a request; True when one came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._requested:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            select.select([self._wake_reader], [], [], remaining)
        return True


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM request a stop; a second one leaves at once (KeyboardInterrupt: for
    `parsdesk sync`, the outbox is recovered on the next pass). The previous handlers are put back
    on the way out."""

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.request()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
