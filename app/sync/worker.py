"""The sync engine in a QThread, for the desktop app.

`SyncWorker` is a thin QObject: it builds the engine *inside* the worker thread (its own store
connection and its own httpx client, through `make_engine`), runs one pass and reports through
signals. Only plain values cross the thread boundary: progress counts, completion ids with their new
status (one signal per batch the engine committed, not one per record: thousands of queued
cross-thread calls would keep the GUI thread busy), one sentence on failure, and the report as a
dict. The GUI reloads what changed from its own session.

`SyncController` owns the thread's lifecycle so widgets never touch QThread:

    controller = SyncController(make_engine_factory(store.path, "local", base_url=url))
    controller.records_changed.connect(on_records_changed)   # [(completion id, status), ...]
    controller.finished.connect(status_bar.on_sync_finished)
    controller.start()            # no-op while a pass is running
    ...
    controller.cancel(); controller.wait_stopped(5000)   # on window close
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.models.store import StoreError, error_text
from app.sync.engine import SyncEngine, SyncReport
from app.wording import plural

log = logging.getLogger(__name__)

EngineFactory = Callable[[], SyncEngine]


def _status_line(report: SyncReport) -> str | None:
    """One sentence for the status bar when the pass did not fully succeed, else None."""
    if report.fatal:
        return report.fatal
    if report.skipped:
        return "Sync skipped: another sync (e.g. `parsdesk sync`) is working on this store right now"
    if report.errors:
        first = report.problems[0] if report.problems else "see the records' details"
        if report.parked == report.errors:
            return (f"Sync finished; {plural(report.parked, 'record')} set aside, not sent ({first}). "
                    "Hover a record's status or open its History for the reason.")
        return f"Sync incomplete: {plural(report.errors, 'record')} not sent or settled ({first})"
    return None


class SyncWorker(QObject):
    progress = Signal(int, int)  # done, total
    records_changed = Signal(list)  # [(completion id, new status), ...] of one committed batch
    failed = Signal(str)  # one sentence for the status bar
    finished = Signal(object)  # the SyncReport as a dict

    def __init__(self, make_engine: EngineFactory, *, poll: bool = True, respect_backoff: bool = False) -> None:
        super().__init__()
        self._make_engine = make_engine
        self._poll = poll
        self._respect_backoff = respect_backoff
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Ask the pass to stop after the batch in progress (thread-safe)."""
        self._stop.set()

    @Slot()
    def run(self) -> None:
        report = SyncReport()
        changes: list[tuple[int, str]] = []

        def changed(completion_id: int, status: str) -> None:
            changes.append((completion_id, status))

        def announce_changes() -> None:
            if changes:
                self.records_changed.emit(changes.copy())
                changes.clear()

        def progressed(done: int, total: int) -> None:
            announce_changes()  # the engine reports progress right after each batch's changes
            self.progress.emit(done, total)

        try:
            engine = self._make_engine()
        except Exception as exc:  # bad configuration, unreadable store: say it, do not kill the thread silently
            report.fatal = f"Sync could not start: {exc}"
            self.failed.emit(report.fatal)
            self.finished.emit(report.as_dict())
            return
        try:
            report = engine.run(
                on_progress=progressed,
                on_change=changed,
                should_stop=self._stop.is_set,
                poll=self._poll,
                respect_backoff=self._respect_backoff,
            )
            line = _status_line(report)
            if line:
                self.failed.emit(line)
        except StoreError as exc:  # the environment (disk full, locked file), not a bug
            report.fatal = f"Sync stopped: the local store could not be used ({error_text(exc)})"
            self.failed.emit(report.fatal)
        except Exception as exc:
            log.exception("sync pass failed")
            report.fatal = f"Sync stopped by an unexpected error: {type(exc).__name__}: {error_text(exc)}"
            self.failed.emit(report.fatal)
        finally:
            try:
                engine.close()
            except Exception:
                log.exception("closing the sync engine failed")
        announce_changes()  # whatever a failed or stopped pass had committed
        self.finished.emit(report.as_dict())


class SyncController(QObject):
    """Starts passes in a fresh QThread, one at a time, and forwards the worker's signals."""

    progress = Signal(int, int)
    records_changed = Signal(list)  # [(completion id, new status), ...]
    failed = Signal(str)
    finished = Signal(object)
    running_changed = Signal(bool)

    def __init__(self, make_engine: EngineFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make_engine = make_engine
        self._thread: QThread | None = None
        self._worker: SyncWorker | None = None
        self._report: object | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def set_engine_factory(self, make_engine: EngineFactory) -> None:
        """Used by the next pass (e.g. after the user switched environment or credentials)."""
        self._make_engine = make_engine

    def start(self, *, poll: bool = True, respect_backoff: bool = False) -> bool:
        """Start a pass; False (and nothing happens) when one is already running."""
        if self.running:
            return False
        thread = QThread()
        thread.setObjectName("parsdesk-sync")
        worker = SyncWorker(self._make_engine, poll=poll, respect_backoff=respect_backoff)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self.progress)
        worker.records_changed.connect(self.records_changed)
        worker.failed.connect(self.failed)
        worker.finished.connect(self._on_worker_finished)
        # direct: quit() is thread-safe, and a queued call would never run while wait_stopped() blocks
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.running_changed.emit(True)
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait_stopped(self, msecs: int = 10_000) -> bool:
        """Block until the running pass has ended (call cancel() first to make that quick).
        True when no pass is running any more."""
        thread = self._thread
        if thread is None:
            return True
        if not thread.wait(msecs):
            return False
        self._release()
        return True

    @Slot(object)
    def _on_worker_finished(self, report: object) -> None:
        if self._thread is None:  # wait_stopped() already released the pass
            self.finished.emit(report)
        else:  # emitted once the thread has ended, so `running` is False for listeners
            self._report = report

    @Slot()
    def _on_thread_finished(self) -> None:
        self._release()

    def _release(self) -> None:
        thread = self._thread
        if thread is None:
            return
        thread.wait()  # `finished` may arrive a moment before the thread has fully returned
        report, self._report = self._report, None
        # Dropping the last references deletes both objects; the thread is no longer running.
        self._thread = self._worker = None
        self.running_changed.emit(False)
        if report is not None:
            self.finished.emit(report)
