"""Downloads of learner lists run in a worker thread, with a progress dialog and Cancel.

An export of every record can take seconds at 100,000 records and more beyond; on the GUI thread it
would freeze the window. The worker owns its own Session (export_filtered_in_worker opens it) and
hands back only the path and the count.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.models import Store
from app.services.learners import SearchFilters
from app.wording import plural

log = logging.getLogger(__name__)


class ExportWorker(QObject):
    progress = Signal(int, int)  # records written, records to write
    done = Signal(int)  # records written
    failed = Signal(str)  # one line for the user
    cancelled = Signal()
    finished = Signal()

    def __init__(self, store: Store, path: Path, filters: SearchFilters, sort: str, descending: bool) -> None:
        super().__init__()
        self._store = store
        self._path = path
        self._filters = filters
        self._sort = sort
        self._descending = descending
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        from app.services.export import ExportCancelled, export_filtered_in_worker

        try:
            written = export_filtered_in_worker(
                self._store, self._path, self._filters, sort=self._sort, descending=self._descending,
                should_stop=self._stop.is_set, on_progress=self.progress.emit,
            )
            self.done.emit(written)
        except ExportCancelled:
            self.cancelled.emit()
        except OSError as exc:
            self.failed.emit(f"Could not write {self._path}: {exc.strerror or exc}")
        except Exception:  # a bug or an environment failure: keep the app alive, say it in one line
            log.exception("exporting learner records failed")
            self.failed.emit(f"Could not write {self._path.name} (see the log).")
        finally:
            self.finished.emit()


class BackgroundExport(QObject):
    """One running export: its thread, its worker and the progress dialog the coordinator can cancel."""

    succeeded = Signal(str, int)  # path, records written
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget, store: Store, path: Path, filters: SearchFilters, *,
                 sort: str, descending: bool, title: str) -> None:
        super().__init__(parent)
        self.path = path
        self.worker = ExportWorker(store, path, filters, sort, descending)
        self.dialog = QProgressDialog(f"Writing {path.name}…", "Cancel", 0, 0, parent)
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(300)  # quick exports finish before the dialog would show
        # direct: the worker's thread is busy writing, a queued call would only arrive when it is done
        self.dialog.canceled.connect(self.worker.stop, Qt.ConnectionType.DirectConnection)
        self._thread = QThread(self)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.done.connect(lambda written: self.succeeded.emit(str(self.path), written))
        self.worker.failed.connect(self.failed)
        self.worker.cancelled.connect(self.cancelled)
        self.worker.finished.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self._thread.start()

    def running(self) -> bool:
        return self._thread.isRunning()

    def stop_and_wait(self) -> None:
        self.worker.stop()
        self._thread.quit()
        self._thread.wait()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self.dialog.wasCanceled():
            return
        self.dialog.setMaximum(max(total, 1))
        self.dialog.setValue(min(done, max(total, 1)))
        self.dialog.setLabelText(f"Writing {self.path.name}: {done:,} of {plural(total, 'record')}…")

    @Slot()
    def _on_thread_finished(self) -> None:
        self.dialog.reset()
        self.dialog.hide()
        self.deleteLater()
