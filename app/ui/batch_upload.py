"""The Batch Upload tab: PARS templates, dropping a learner file, the summary before queueing, history.

Flow, as in PARS's own "Batch Upload Learners" page: drop (or choose) an .xlsx/.xml file -> a worker
thread reads and analyses it (progress bar, Cancel) -> the summary shows what would be queued and every
failed row *before* anything is stored -> the uploader ticks the permission attestation and clicks
"Queue valid records" -> a second worker stores and queues in one transaction. "View Upload History"
lists earlier uploads with what became of their records, and writes each one's rejection workbook.

Workers get only paths, dates and the Store; they hand back plain values (BatchAnalysis, UploadSummary)
or a one-line message, and never touch widgets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# What the workers use is imported here, at start-up, not by a worker in the middle of the first upload:
# PySide's import hook reads and tokenizes each newly imported module's source, holding the interpreter
# and import locks meanwhile (the window froze for that long at the first upload).
import app.pars.xlsx_guard  # noqa: F401
import app.services.history  # noqa: F401
import app.services.pars_upload  # noqa: F401
import app.services.worker_reads  # noqa: F401
import app.ui.deadline_warnings  # noqa: F401
from app.models import Store
from app.pars import clock
from app.pars.batch import ACCEPTED_TYPES
from app.services.batch_import import BatchAnalysis, UploadHistoryView, UploadSummary
from app.ui.context import AppContext
from app.ui.garbage import hold_full_collections, release_full_collections
from app.wording import plural

log = logging.getLogger(__name__)

ATTESTATION_TEXT = "These learners gave permission to report their completion to PARS"
SHOWN_PROBLEMS = 200
HISTORY_COLUMNS = ("Uploaded", "File", "Format", "Records", "Queued", "Errors", "Accepted", "Rejected", "Pending", "")
H_REJECTIONS = len(HISTORY_COLUMNS) - 1
PROBLEM_COLUMNS = ("Row", "Column", "Code", "Message")
XML_REJECTIONS_FILTER = "PARS learner XML (*.xml)"
XLSX_REJECTIONS_FILTER = "Excel workbook (*.xlsx)"
PARS_FILE_COLUMNS = ("Prepared", "File", "Format", "Records", "Rejected", "Submitted", "Waiting", "")
F_MARK = len(PARS_FILE_COLUMNS) - 1


def _records(count: int) -> str:
    return plural(count, "record")


def _local_time(at: datetime) -> str:
    """The store keeps UTC; people read their own clock."""
    return at.replace(tzinfo=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")


def _is_batch_file(path: Path) -> bool:
    return path.suffix.lower() in ACCEPTED_TYPES


def _refusal(path: Path) -> str:
    shown = path.suffix or "no extension"
    return f"{path.name}: unsupported file type ({shown}); drop a PARS learner file (.xlsx or .xml)."


class DeadlineNote(NamedTuple):
    text: str  # empty when no valid row is near or past a PARS deadline
    overdue: bool


class AnalysisCounts(NamedTuple):
    records: int
    valid: int  # adds + deletes: what will be queued
    with_errors: int
    adds: int
    deletes: int
    already_reported: int
    still_rejected: int


class AnalysisView(NamedTuple):
    """What the summary shows of an analysis, worked out in the analysis worker: the GUI thread only
    puts it on screen (counting 5,000 verdicts a dozen times and building the problem list took it
    tens of milliseconds)."""

    counts: AnalysisCounts
    problem_rows: list[tuple[str, str, str, str]]  # (row, column, code, message), the first SHOWN_PROBLEMS
    hidden: int  # further problem rows, only in the rejection workbook
    deadline: DeadlineNote


def analysis_view(analysis: BatchAnalysis, activities: dict) -> AnalysisView:
    """The summary's counts, problem rows and deadline note (runs in the analysis worker)."""
    from collections import Counter

    from app.services.batch_import import RowKind

    kinds = Counter(verdict.kind for verdict in analysis.verdicts)
    counts = AnalysisCounts(
        records=len(analysis.verdicts), valid=kinds[RowKind.ADD] + kinds[RowKind.DELETE],
        with_errors=kinds[RowKind.ERROR], adds=kinds[RowKind.ADD], deletes=kinds[RowKind.DELETE],
        already_reported=kinds[RowKind.ALREADY_REPORTED], still_rejected=kinds[RowKind.STILL_REJECTED],
    )
    problems = analysis.problems()
    codes = {row: str(code) for row, code in analysis.rejected_before_codes().items()}
    notes = analysis.rejected_before() + analysis.notes()
    rows: list[tuple[str, str, str, str]] = [
        (str(p.row), p.column, str(p.code), p.message) for p in problems[:SHOWN_PROBLEMS]
    ]
    rows += [
        (str(r), "", codes.get(r, "603" if "(603)" in note else ""), note)
        for r, note in notes[: max(0, SHOWN_PROBLEMS - len(rows))]
    ]
    hidden = len(problems) + len(notes) - len(rows)
    return AnalysisView(counts, rows, hidden, deadline_note(analysis, activities))


def deadline_note(analysis: BatchAnalysis, activities: dict) -> DeadlineNote:
    """The summary's line on the valid rows' PARS deadlines (runs in the analysis worker)."""
    from app.pars.deadlines import record_warnings
    from app.services.batch_import import RowKind
    from app.ui.deadline_warnings import batch_note

    per_record = (
        record_warnings(v.completion, activities.get(v.completion.activity_id or ""), analysis.as_of,
                        deleting=v.kind is RowKind.DELETE)
        for v in analysis.verdicts if v.kind in (RowKind.ADD, RowKind.DELETE)
    )
    return DeadlineNote(*batch_note(per_record))


# --- workers (no widgets here) ------------------------------------------------------------------------


class AnalysisWorker(QObject):
    """Reads and analyses one file in a worker thread, which owns its own Session (analyse_file opens it)."""

    progress = Signal(int, int)  # rows done, rows in file (0, 0 while reading the file)
    analysed = Signal(object, object)  # BatchAnalysis, its AnalysisView (counts, problem rows, deadlines)
    results_taken = Signal(object, object)  # ResultsCheck, ResultsApplied | None: PARS's results for an upload file
    failed = Signal(str)  # one line for the user
    cancelled = Signal()
    finished = Signal()

    def __init__(self, store: Store, path: Path, as_of: date, actor: str | None = None,
                 activities: dict | None = None) -> None:
        super().__init__()
        self._store = store
        self._path = path
        self._as_of = as_of
        self._actor = actor
        # registered activities by ACCME ID, for the deadline note (None: read here, off the GUI thread)
        self._activities = activities
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        from app.pars.batch import BatchFileError, load_batch
        from app.services.batch_import import ImportCancelled, analyse_file

        try:
            self.progress.emit(0, 0)
            if self._path.suffix.lower() == ".xlsx" and self._pars_results():
                return
            batch = load_batch(self._path)
            if self._stop.is_set():
                raise ImportCancelled
            analysis = analyse_file(
                self._store, batch, self._as_of, should_stop=self._stop.is_set, on_progress=self.progress.emit
            )
            activities = self._activities
            if activities is None:
                from app.services.history import load_domain_activities
                from app.services.worker_reads import read_in_worker

                activities = read_in_worker(self._store, load_domain_activities)
            # worked out here: thousands of records' counts and deadlines would freeze the window a moment
            self.analysed.emit(analysis, analysis_view(analysis, activities))
        except BatchFileError as exc:
            self.failed.emit(str(exc))
        except ImportCancelled:
            self.cancelled.emit()
        except Exception:  # a bug or an environment failure: keep the app alive, say it in one line
            log.exception("analysing a batch file failed")
            self.failed.emit(f"{self._path.name} could not be processed; nothing was queued (see the log).")
        finally:
            self.finished.emit()


    def _pars_results(self) -> bool:
        """PARS's rejection workbook for an upload file? Unchanged: a status update, applied here, and no
        batch follows (True). Corrected: the rejections it names are recorded, then it is a new batch."""
        from app.services.pars_upload import take_in_results_in_store

        check, applied = take_in_results_in_store(self._store, self._path, actor=self._actor)
        if check.kind == "batch":
            return False
        self.results_taken.emit(check, applied)
        return check.kind == "results"


class PrepareWorker(QObject):
    """Gathers the queued records into PARS upload files in a worker thread (its own store connection,
    one transaction per file)."""

    prepared = Signal(object)  # PrepareReport
    failed = Signal(str)
    finished = Signal()

    def __init__(self, store: Store, folder: Path, file_format: str, environment: str, actor: str | None) -> None:
        super().__init__()
        self._store = store
        self._folder = folder
        self._format = file_format
        self._environment = environment
        self._actor = actor

    @Slot()
    def run(self) -> None:
        from app.services.pars_upload import UploadRouteError, prepare_upload, store_runner

        try:
            report = prepare_upload(store_runner(self._store), self._folder, file_format=self._format,
                                    environment=self._environment, actor=self._actor)
            self.prepared.emit(report)
        except UploadRouteError as exc:
            self.failed.emit(str(exc))
        except Exception:  # a bug or an environment failure: keep the app alive, say it in one line
            log.exception("preparing PARS upload files failed")
            self.failed.emit("The upload files could not be prepared; every record stays queued (see the log).")
        finally:
            self.finished.emit()


class RejectionsWorker(QObject):
    """Writes an upload's rejection file (workbook or PARS learner XML) in a worker thread, which reads
    the rows through its own Session (read_in_worker opens it)."""

    written = Signal(object, int)  # path, records (XML) or rows (workbook) written
    failed = Signal(str)
    finished = Signal()

    def __init__(self, store: Store, upload_id: int, path: Path) -> None:
        super().__init__()
        self._store = store
        self._upload_id = upload_id
        self._path = path

    @Slot()
    def run(self) -> None:
        from app.services import batch_import
        from app.services.worker_reads import read_in_worker

        try:
            count = read_in_worker(self._store, batch_import.write_upload_rejections, self._upload_id, self._path)
            self.written.emit(self._path, count)
        except OSError as exc:  # a read-only folder, a full disk, a folder that went away
            self.failed.emit(f"Cannot write {self._path}: {exc.strerror or exc}")
        except Exception:  # a bug or an unreachable store: keep the app alive, say it in one line
            log.exception("writing an upload's rejections failed")
            self.failed.emit(f"The rejections could not be saved to {self._path.name} (see the log).")
        finally:
            self.finished.emit()


class CommitWorker(QObject):
    """Stores the upload and queues its valid rows in one transaction, in a worker thread
    (commit_upload opens that thread's own Session)."""

    committed = Signal(object)  # UploadSummary
    failed = Signal(str)
    finished = Signal()

    def __init__(
        self, store: Store, analysis: BatchAnalysis, file_name: str, attested_by: str, *, resend_rejected: bool = False
    ) -> None:
        super().__init__()
        self._store = store
        self._analysis = analysis
        self._file_name = file_name
        self._attested_by = attested_by
        self._resend_rejected = resend_rejected

    @Slot()
    def run(self) -> None:
        from app.services.batch_import import commit_upload

        try:
            summary = commit_upload(
                self._store, self._analysis, self._file_name, attested_by=self._attested_by, actor=self._attested_by,
                resend_rejected=self._resend_rejected,
            )
            self.committed.emit(summary)
        except Exception:
            log.exception("queueing a batch failed")
            self.failed.emit(f"{self._file_name}: queueing failed and was rolled back; nothing was queued.")
        finally:
            self.finished.emit()


# --- widgets ------------------------------------------------------------------------------------------


class DropZone(QFrame):
    """Where a learner file is dropped. Emits the path of an .xlsx/.xml file, or why it was refused."""

    file_dropped = Signal(Path)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._set_hover(False)
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Drop a PARS learner file here")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("Excel (.xlsx) or XML (.xml), up to 5,000 learner records")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.choose_button = QPushButton("Choose file…")
        self.choose_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(6)
        layout.addWidget(self.choose_button, alignment=Qt.AlignmentFlag.AlignCenter)

    def _set_hover(self, hover: bool) -> None:
        color = "#2b7bd6" if hover else "#9aa5b1"
        background = "#eaf3fd" if hover else "palette(base)"
        self.setStyleSheet(
            f"#dropZone {{ border: 2px dashed {color}; border-radius: 8px; background: {background}; }}"
        )

    @staticmethod
    def _local_files(event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> list[Path]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        # Accept any local file so that a wrong type gets a message on drop rather than a silent "no".
        if self._local_files(event):
            self._set_hover(True)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._local_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802, ANN001
        self._set_hover(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_hover(False)
        files = self._local_files(event)
        if not files:
            event.ignore()
            self.refused.emit("Only files can be dropped here: a PARS learner file (.xlsx or .xml).")
            return
        event.acceptProposedAction()
        if len(files) > 1:
            self.refused.emit(f"{plural(len(files), 'file')} were dropped; drop one learner file at a time.")
            return
        path = files[0]
        if not _is_batch_file(path):
            self.refused.emit(_refusal(path))
            return
        self.file_dropped.emit(path)


class BatchUploadTab(QWidget):
    """Batch Upload: templates, drop zone, summary before queueing, upload history and rejections."""

    analysis_ready = Signal()  # the summary is on screen; nothing is queued yet
    processing_failed = Signal(str)  # the file could not be used (message shown in the tab)
    processing_cancelled = Signal()
    upload_committed = Signal(int)  # upload id, after the valid records were queued
    busy_changed = Signal(bool)
    upload_prepared = Signal(object)  # PrepareReport, after "Prepare upload for PARS"
    rejections_saved = Signal(object, int)  # path, records or rows: "Download rejections…" wrote the file
    rejections_failed = Signal(str)  # why it could not be written (shown in the tab)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.as_of: date | None = None  # None: today (tests and demos pin a date)
        self.analysis: BatchAnalysis | None = None
        self._counts: AnalysisCounts | None = None  # of `analysis`, counted in its worker
        self._file: Path | None = None
        self._thread: QThread | None = None
        self._worker: AnalysisWorker | CommitWorker | PrepareWorker | RejectionsWorker | None = None
        self._last_upload_id: int | None = None
        self._results_note = ""  # what a corrected PARS rejection workbook told before its analysis
        self._pars_files: list = []
        self._history: list[UploadHistoryView] = []
        self._history_stale = True  # changed since it was read; read when shown or asked for
        self._gc_hold = f"batch-upload-{id(self)}"  # its hold on full garbage collections (app/ui/garbage.py)
        self._build()
        self._show_idle()

    # -- layout --

    def _build(self) -> None:
        outer = QHBoxLayout(self)

        side = QVBoxLayout()
        templates = QGroupBox("Templates")
        templates_layout = QVBoxLayout(templates)
        explain = QLabel("Start from PARS's CME + MOC Excel template, or see how an XML learner file looks.")
        explain.setWordWrap(True)
        self.template_button = QPushButton("Download template")
        self.template_button.setToolTip("Excel learner template (CME and MOC) with a guidance row and an example")
        self.xml_sample_button = QPushButton("Download XML sample")
        self.xml_sample_button.setToolTip("A small XML learner file in the PARS Activity Report format")
        templates_layout.addWidget(explain)
        templates_layout.addWidget(self.template_button)
        templates_layout.addWidget(self.xml_sample_button)
        side.addWidget(templates)
        self.history_button = QPushButton("View Upload History")
        self.history_button.setCheckable(True)
        side.addWidget(self.history_button)
        website = QGroupBox("PARS website")
        website_layout = QVBoxLayout(website)
        website_explain = QLabel(
            "No web-service credentials? Put the queued records in upload files, upload them on the PARS "
            "website, then drop PARS's rejection workbook here."
        )
        website_explain.setWordWrap(True)
        self.upload_format_combo = QComboBox()
        self.upload_format_combo.addItem("Excel template (.xlsx)", "xlsx")
        self.upload_format_combo.addItem("PARS learner XML (.xml)", "xml")
        self.prepare_button = QPushButton("Prepare upload for PARS…")
        self.prepare_button.setToolTip("Queued records into PARS upload files of at most 5,000 records each")
        self.pars_files_button = QPushButton("Upload files")
        self.pars_files_button.setCheckable(True)
        self.pars_files_button.setToolTip("The files prepared for PARS and what PARS made of their records")
        website_layout.addWidget(website_explain)
        website_layout.addWidget(self.upload_format_combo)
        website_layout.addWidget(self.prepare_button)
        website_layout.addWidget(self.pars_files_button)
        side.addWidget(website)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(250)
        outer.addWidget(side_widget)

        main = QVBoxLayout()
        self.drop_zone = DropZone()
        main.addWidget(self.drop_zone)

        busy = QHBoxLayout()
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        busy.addWidget(self.progress_label)
        busy.addWidget(self.progress_bar, 1)
        busy.addWidget(self.cancel_button)
        self.busy_row = QWidget()
        self.busy_row.setLayout(busy)
        main.addWidget(self.busy_row)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        main.addWidget(self.message_label)
        self.last_rejections_button = QPushButton("Download rejections…")
        self.last_rejections_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        main.addWidget(self.last_rejections_button)

        self.intro_label = QLabel(
            "<b>How a batch upload works</b><ol>"
            "<li>Drop a learner file above (or choose one). It is checked against PARS's rules and the "
            "records already reported; nothing is stored yet.</li>"
            "<li>Read the summary: how many records can be queued, and every row that cannot, with its "
            "PARS error code.</li>"
            "<li>Confirm that the learners gave permission to report, then queue the valid records. "
            "They are sent at the next sync.</li>"
            "<li>Rows that failed, and records a board rejects later, can be downloaded from the upload "
            "history as a workbook (as PARS learner XML for an XML file): fix them there and drop the file "
            "here again.</li></ol>"
            "To delete records, upload them again with Record Action <i>Delete</i>."
        )
        self.intro_label.setWordWrap(True)
        self.intro_label.setTextFormat(Qt.TextFormat.RichText)
        self.intro_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.intro_label.setContentsMargins(4, 8, 4, 4)
        main.addWidget(self.intro_label, 1)  # fills the page until a summary or the history does

        self.summary_box = QGroupBox("Summary — nothing has been queued yet")
        summary_layout = QVBoxLayout(self.summary_box)
        # Counts in a compact grid: the file on top, then three caption/value pairs per line.
        counts = QGridLayout()
        counts.setHorizontalSpacing(12)
        self.summary_labels: dict[str, QLabel] = {}
        cells = (
            ("records", "Records"), ("valid", "Valid (will be queued)"), ("errors", "With errors (not queued)"),
            ("adds", "Adds"), ("deletes", "Deletes"), ("already", "Already reported (skipped)"),
            ("still", "Rejected before (not resent)"),
        )
        file_label = QLabel()
        file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_labels["file"] = file_label
        counts.addWidget(QLabel("File:"), 0, 0)
        counts.addWidget(file_label, 0, 1, 1, 5)
        for index, (key, caption) in enumerate(cells):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setMinimumWidth(48)
            self.summary_labels[key] = label
            line, pair = 1 + index // 3, index % 3
            counts.addWidget(QLabel(caption + ":"), line, pair * 2)
            counts.addWidget(label, line, pair * 2 + 1)
        counts.setColumnStretch(5, 1)
        summary_layout.addLayout(counts)
        self.deadline_label = QLabel()  # valid records already past or near a PARS deadline
        self.deadline_label.setObjectName("deadlineNote")
        self.deadline_label.setWordWrap(True)
        self.deadline_label.setVisible(False)
        summary_layout.addWidget(self.deadline_label)
        self.problems_caption = QLabel()
        summary_layout.addWidget(self.problems_caption)
        self.problems_table = QTableWidget(0, len(PROBLEM_COLUMNS))
        self.problems_table.setHorizontalHeaderLabels(PROBLEM_COLUMNS)
        self.problems_table.verticalHeader().setVisible(False)
        self.problems_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.problems_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.problems_table.setWordWrap(False)
        header = self.problems_table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        summary_layout.addWidget(self.problems_table, 1)
        # Rows repeating a record PARS or a board rejected, unchanged: left alone unless the coordinator
        # asks (a code that clears with time, such as 661 before the board knows the learner).
        self.resend_checkbox = QCheckBox()
        self.resend_checkbox.setObjectName("resendRejected")
        self.resend_checkbox.setToolTip(
            "Each is sent again as it is, under a new credit ID linked to the rejected record. "
            "Leave it unticked to correct them first."
        )
        self.resend_checkbox.setVisible(False)
        summary_layout.addWidget(self.resend_checkbox)
        self.attest_checkbox = QCheckBox(ATTESTATION_TEXT)
        summary_layout.addWidget(self.attest_checkbox)
        actions = QHBoxLayout()
        actions.addStretch(1)
        self.discard_button = QPushButton("Discard")
        self.queue_button = QPushButton("Queue valid records")
        self.queue_button.setDefault(True)
        actions.addWidget(self.discard_button)
        actions.addWidget(self.queue_button)
        summary_layout.addLayout(actions)
        main.addWidget(self.summary_box, 1)

        self.history_box = QGroupBox("Upload history")
        history_layout = QVBoxLayout(self.history_box)
        self.history_table = QTableWidget(0, len(HISTORY_COLUMNS))
        self.history_table.setHorizontalHeaderLabels(HISTORY_COLUMNS)
        self.history_table.verticalHeader().setVisible(False)
        self.history_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        history_header = self.history_table.horizontalHeader()
        history_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        history_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        history_header.setSectionResizeMode(H_REJECTIONS, QHeaderView.ResizeMode.Fixed)
        history_layout.addWidget(self.history_table)
        main.addWidget(self.history_box, 1)

        self.pars_files_box = QGroupBox("Upload files for the PARS website")
        pars_files_layout = QVBoxLayout(self.pars_files_box)
        self.pars_files_table = QTableWidget(0, len(PARS_FILE_COLUMNS))
        self.pars_files_table.setHorizontalHeaderLabels(PARS_FILE_COLUMNS)
        self.pars_files_table.verticalHeader().setVisible(False)
        self.pars_files_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.pars_files_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        files_header = self.pars_files_table.horizontalHeader()
        files_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        files_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        pars_files_layout.addWidget(self.pars_files_table)
        main.addWidget(self.pars_files_box, 1)

        outer.addLayout(main, 1)
        self.prepare_button.clicked.connect(lambda _checked=False: self.prepare_upload())
        self.pars_files_button.toggled.connect(self._toggle_pars_files)

        self.template_button.clicked.connect(self.download_template)
        self.xml_sample_button.clicked.connect(self.download_xml_sample)
        self.history_button.toggled.connect(self._toggle_history)
        self.drop_zone.choose_button.clicked.connect(self.choose_file)
        self.drop_zone.file_dropped.connect(self.load_file)
        self.drop_zone.refused.connect(self._show_refusal)
        self.cancel_button.clicked.connect(self.cancel)
        self.attest_checkbox.toggled.connect(self._update_queue_button)
        self.resend_checkbox.toggled.connect(self._resend_toggled)
        self.queue_button.clicked.connect(self.queue_valid_records)
        self.discard_button.clicked.connect(self.discard)
        self.last_rejections_button.clicked.connect(self._download_last_rejections)
        self.ctx.records_changed.connect(self._records_changed)
        self.ctx.store_changed.connect(lambda: self._records_changed([]))  # e.g. a cron `parsdesk import`
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- states --

    def _show_idle(self) -> None:
        self.busy_row.hide()
        self._show_summary(False)
        self.history_box.setVisible(self.history_button.isChecked())
        self.pars_files_box.setVisible(self.pars_files_button.isChecked())
        self.last_rejections_button.hide()
        self._update_intro()

    def _show_summary(self, shown: bool) -> None:
        self.summary_box.setVisible(shown)
        self._update_intro()

    def _update_intro(self) -> None:
        self.intro_label.setVisible(
            self.summary_box.isHidden() and self.history_box.isHidden() and self.pars_files_box.isHidden()
        )

    def _set_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #b3261e; font-weight: bold;" if error else "")
        self.message_label.setText(text)

    def _set_busy(self, busy: bool, caption: str = "") -> None:
        self.busy_row.setVisible(busy)
        self.progress_label.setText(caption)
        self.cancel_button.setEnabled(busy)
        self.drop_zone.setEnabled(not busy)
        self.queue_button.setEnabled(False if busy else self._can_queue())
        self.discard_button.setEnabled(not busy)
        self.last_rejections_button.setEnabled(not busy)
        self.busy_changed.emit(busy)

    @property
    def is_busy(self) -> bool:
        return self._thread is not None

    # -- choosing and dropping --

    def choose_file_path(self) -> Path | None:
        """Ask for a learner file (tests replace this method)."""
        name, _ = QFileDialog.getOpenFileName(
            self, "Choose a PARS learner file", "", "PARS learner files (*.xlsx *.xml)"
        )
        return Path(name) if name else None

    def save_path(self, caption: str, suggested: str, file_filter: str) -> Path | None:
        """Ask where to save a file (tests replace this method)."""
        name, _ = QFileDialog.getSaveFileName(self, caption, suggested, file_filter)
        return Path(name) if name else None

    @Slot()
    def choose_file(self) -> None:
        path = self.choose_file_path()
        if path is None:
            return
        if not _is_batch_file(path):
            self._show_refusal(_refusal(path))
            return
        self.load_file(path)

    @Slot(str)
    def _show_refusal(self, message: str) -> None:
        self.last_rejections_button.hide()
        self._set_message(message, error=True)
        self.processing_failed.emit(message)

    @Slot(Path)
    def load_file(self, path: Path) -> None:
        """Read and analyse a learner file off the GUI thread; the summary follows."""
        if self.is_busy:
            self._set_message("Another file is still being processed; wait for it or cancel it first.", error=True)
            return
        self.analysis = None
        self._file = Path(path)
        self._show_summary(False)
        self.last_rejections_button.hide()
        self._set_message("")
        self._results_note = ""
        worker = AnalysisWorker(self.ctx.store, self._file, self.as_of or clock.today(), self.ctx.actor)
        worker.results_taken.connect(self._on_results)
        worker.progress.connect(self._on_progress)
        worker.analysed.connect(self._on_analysed)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        self._start(worker, f"Reading {self._file.name}…")

    def _start(self, worker: AnalysisWorker | CommitWorker | PrepareWorker | RejectionsWorker, caption: str) -> None:
        thread = QThread(self)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        # The worker is owned by Python (this tab's reference) and dropped in _on_thread_finished once
        # the thread has ended; a deleteLater as well would let two threads free it.
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self.progress_bar.setRange(0, 0)
        self._set_busy(True, caption)
        # reading, checking and queueing thousands of rows makes objects by the hundred thousand: a full
        # collection in the worker would hold the interpreter lock (and the window) for 100+ ms
        hold_full_collections(self._gc_hold)
        thread.start()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        self._thread = None
        self._worker = None
        release_full_collections(self._gc_hold)
        self._set_busy(False)

    @Slot()
    def shutdown(self) -> None:
        """Stop an analysis and wait for any worker (the app is closing). A running commit is allowed
        to finish: it is one short transaction, and cutting it off would only roll it back."""
        if isinstance(self._worker, AnalysisWorker):
            self._worker.stop()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()

    @Slot()
    def cancel(self) -> None:
        """Stop the file being analysed; the store stays as it was."""
        if isinstance(self._worker, AnalysisWorker):
            self.progress_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self._worker.stop()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if total <= 0:
            self.progress_bar.setRange(0, 0)
            return
        if self._file is not None:
            self.progress_label.setText(f"Checking {self._file.name}…")
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.analysis = None
        self._show_summary(False)
        self._set_message(message, error=True)
        self.processing_failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.analysis = None
        self._show_summary(False)
        name = self._file.name if self._file else "The file"
        self._set_message(f"{name}: cancelled; nothing was queued.")
        self.processing_cancelled.emit()

    # -- summary --

    @Slot(object, object)
    def _on_analysed(self, analysis: BatchAnalysis, view: AnalysisView) -> None:
        self.analysis = analysis
        counts = self._counts = view.counts
        name = self._file.name if self._file else ""
        values = {
            "file": f"{name} ({analysis.format.upper()})",
            "records": f"{counts.records:,}",
            "valid": f"{counts.valid:,}",
            "errors": f"{counts.with_errors:,}",
            "adds": f"{counts.adds:,}",
            "deletes": f"{counts.deletes:,}",
            "already": f"{counts.already_reported:,}",
            "still": f"{counts.still_rejected:,}",
        }
        for key, text in values.items():
            self.summary_labels[key].setText(text)
        self.summary_labels["errors"].setStyleSheet("color: #b3261e; font-weight: bold;" if counts.with_errors else "")
        self._fill_problems(view)
        self._show_deadlines(view.deadline)
        self.resend_checkbox.blockSignals(True)
        self.resend_checkbox.setChecked(False)
        self.resend_checkbox.blockSignals(False)
        still = counts.still_rejected
        self.resend_checkbox.setText(
            f"Also send the {plural(still, 'row')} PARS or a board rejected before, unchanged"
        )
        self.resend_checkbox.setVisible(still > 0)
        self.attest_checkbox.blockSignals(True)  # one queue-button update below, not one per change
        self.attest_checkbox.setChecked(False)
        self.attest_checkbox.blockSignals(False)
        self.attest_checkbox.setEnabled(counts.valid > 0)
        self._show_summary(True)
        note = f"{self._results_note} " if self._results_note else ""
        if counts.valid:
            self._set_message(
                f"{note}{name}: {counts.valid:,} of {_records(counts.records)} can be queued. Review the rows "
                "below, confirm the learners' permission, then queue them."
            )
        elif counts.still_rejected:
            self._set_message(
                f"{name}: nothing new to queue. {_records(counts.still_rejected)} "
                f"{'repeats' if counts.still_rejected == 1 else 'repeat'} what PARS or a board rejected before: "
                "correct them and upload again, or tick the box below to send them unchanged."
            )
        else:
            self._set_message(f"{note}{name}: no record can be queued; fix the rows listed below and upload the "
                              "file again.", error=counts.with_errors > 0)
        self._update_queue_button()
        self.analysis_ready.emit()

    def _show_deadlines(self, note: DeadlineNote) -> None:
        """Before anything is queued: how many of the valid rows are already past (or near) a deadline."""
        from app.ui.deadline_warnings import style_for

        self.deadline_label.setText(note.text)
        self.deadline_label.setStyleSheet(style_for(note.overdue))
        self.deadline_label.setVisible(bool(note.text))

    def _queueable(self) -> int:
        """Rows the Queue button would queue: the valid ones, plus the rejected-before ones when asked."""
        if self.analysis is None or self._counts is None:
            return 0
        resend = self.resend_checkbox.isChecked()
        return self._counts.valid + (self._counts.still_rejected if resend else 0)

    @Slot(bool)
    def _resend_toggled(self, _checked: bool) -> None:
        self.attest_checkbox.setEnabled(self._queueable() > 0)
        self._update_queue_button()

    def _fill_problems(self, view: AnalysisView) -> None:
        rows, hidden = view.problem_rows, view.hidden
        if not rows:
            self.problems_caption.setText("Every row passed PARS's checks.")
        else:
            caption = "Rows that will not be queued (fix them in the rejection workbook after queueing):"
            if hidden > 0:
                caption += f" first {len(rows):,} shown, {hidden:,} more in the rejection workbook."
            self.problems_caption.setText(caption)
        table = self.problems_table
        table.setUpdatesEnabled(False)  # one layout and paint for the whole list, not one per cell
        table.clearContents()
        table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setToolTip(text)
                table.setItem(r, c, item)
        table.setUpdatesEnabled(True)
        table.setVisible(bool(rows))

    def _can_queue(self) -> bool:
        return (
            self.analysis is not None
            and self._queueable() > 0
            and self.attest_checkbox.isChecked()
            and not self.is_busy
        )

    @Slot()
    def _update_queue_button(self) -> None:
        self.queue_button.setEnabled(self._can_queue())
        if self.analysis is not None and self._queueable():
            self.queue_button.setText(f"Queue {_records(self._queueable())}".replace(" record", " valid record", 1))
        else:
            self.queue_button.setText("Queue valid records")

    @Slot()
    def discard(self) -> None:
        self.analysis = None
        self._show_summary(False)
        self._set_message("The file was discarded; nothing was queued.")

    @Slot()
    def queue_valid_records(self) -> None:
        """Store the upload and queue its valid rows (needs the attestation)."""
        if self.analysis is None or self.is_busy:
            return
        if not self.attest_checkbox.isChecked():
            self._set_message("Confirm that these learners gave permission to report their completion first.",
                              error=True)
            return
        file_name = self._file.name if self._file else "upload"
        worker = CommitWorker(self.ctx.store, self.analysis, file_name, self.ctx.actor,
                              resend_rejected=self.resend_checkbox.isChecked())
        worker.committed.connect(self._on_committed)
        worker.failed.connect(self._on_failed)
        self._start(worker, f"Queueing {_records(self._queueable())}…")

    @Slot(object)
    def _on_committed(self, summary: UploadSummary) -> None:
        self.analysis = None
        self._show_summary(False)
        self._last_upload_id = summary.upload_id
        parts = [f"{summary.file_name}: {_records(summary.queued)} queued ({summary.adds:,} to add, "
                 f"{summary.deletes:,} to delete); they are sent at the next sync."]
        if summary.already_reported:
            parts.append(f"Already reported, skipped: {summary.already_reported:,}.")
        if summary.resent:
            parts.append(f"Rejected before and sent again unchanged: {summary.resent:,}.")
        if summary.still_rejected:
            parts.append(f"Rejected before, left alone: {summary.still_rejected:,}.")
        if summary.errors:
            parts.append(f"Failed: {summary.errors:,}; download the rejections, fix them there and upload that file.")
        self._set_message(" ".join(parts))
        self.last_rejections_button.setVisible(summary.errors > 0)
        self._history_changed()
        self.upload_committed.emit(summary.upload_id)
        self.ctx.upload_finished.emit(summary.upload_id)
        self.ctx.notify_records_changed(list(summary.completion_ids))

    # -- templates --

    @Slot()
    def download_template(self) -> None:
        from app.pars.excel import write_template

        path = self.save_path("Save the PARS learner template", "pars-learner-template.xlsx", "Excel (*.xlsx)")
        if path is not None:
            self._write_file(path, write_template, "The Excel learner template")

    @Slot()
    def download_xml_sample(self) -> None:
        from app.pars.xml_codec import write_xml_sample

        path = self.save_path("Save the XML learner sample", "pars-learner-sample.xml", "XML (*.xml)")
        if path is not None:
            self._write_file(path, write_xml_sample, "The XML learner sample")

    def _write_file(self, path: Path, write: Callable[[Path], None], what: str) -> None:
        try:
            write(path)
        except OSError as exc:
            self._set_message(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return
        self._set_message(f"{what} was saved to {path}.")

    # -- history --

    @Slot(bool)
    def _toggle_history(self, shown: bool) -> None:
        if shown:
            self.refresh_history()
        self.history_box.setVisible(shown)
        self._update_intro()

    def show_history(self) -> None:
        self.history_button.setChecked(True)

    @Slot(list)
    def _records_changed(self, _ids: list) -> None:
        self._history_changed()

    def _history_changed(self) -> None:
        """Re-read the upload history now if it is on screen, else when it is next shown or asked for
        (it counts every upload's records: no reason to do it on the GUI thread unseen)."""
        if self.history_box.isVisible():
            self.refresh_history()
        else:
            self._history_stale = True

    def refresh_history(self) -> None:
        from app.services.batch_import import upload_history

        self._history_stale = False
        self._history = self.ctx.read(upload_history)
        table = self.history_table
        table.setRowCount(len(self._history))
        for r, view in enumerate(self._history):
            cells = (
                _local_time(view.at),
                view.file_name,
                view.file_format.upper(),
                f"{view.records:,}",
                f"{view.queued:,}",
                f"{view.errors:,}",
                f"{view.accepted:,}",
                f"{view.rejected:,}",
                f"{view.pending:,}",
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 8 and view.pending:
                    item.setToolTip(f"{view.submitted:,} with PARS or the board, {view.pending - view.submitted:,} "
                                    "waiting for the next sync")
                if c == 1 and view.attested_by:
                    item.setToolTip(f"Uploaded by {view.attested_by}, who confirmed the learners' permission")
                table.setItem(r, c, item)
            failed = view.errors + view.rejected
            button = QPushButton("Rejections…")
            button.setEnabled(failed > 0)
            kind = "PARS learner XML file" if view.file_format == "xml" else "workbook"
            button.setToolTip(
                f"Save the {failed:,} failed records as a {kind} to fix and upload again" if failed
                else "No rejected rows"
            )
            button.clicked.connect(lambda _checked=False, upload_id=view.upload_id: self.download_rejections(upload_id))
            table.setCellWidget(r, H_REJECTIONS, button)
        if self._history:
            table.setColumnWidth(H_REJECTIONS, table.cellWidget(0, H_REJECTIONS).sizeHint().width() + 8)

    @property
    def history(self) -> list[UploadHistoryView]:
        if self._history_stale:
            self.refresh_history()
        return list(self._history)

    @Slot()
    def _download_last_rejections(self) -> None:
        if self._last_upload_id is not None:
            self.download_rejections(self._last_upload_id)

    def download_rejections(self, upload_id: int) -> Path | None:
        """Write an upload's rejections where the user chooses, in a worker thread; returns the path being
        written (None when nothing was started), and `rejections_saved` or `rejections_failed` follows.
        An XML upload's are PARS learner XML by default (the workbook is offered too); an Excel
        upload's, a workbook."""
        from app.services.batch_import import rejections_suffix

        if self.is_busy:
            self._set_message("Another file is still being processed; wait for it or cancel it first.", error=True)
            return None
        view = next((v for v in self.history if v.upload_id == upload_id), None)
        stem = Path(view.file_name).stem if view else f"upload-{upload_id}"
        suffix = self.ctx.read(rejections_suffix, upload_id)
        if suffix == ".xml":
            path = self.save_path("Save the rejected records", f"{stem}-rejections.xml",
                                  f"{XML_REJECTIONS_FILTER};;{XLSX_REJECTIONS_FILTER}")
        else:
            path = self.save_path("Save the rejected rows", f"{stem}-rejections.xlsx", XLSX_REJECTIONS_FILTER)
        if path is None:
            return None
        if path.suffix.lower() not in (".xml", ".xlsx"):
            path = path.with_name(path.name + suffix)
        # thousands of rows take a moment to read, build and compress: never on the GUI thread
        self._set_message("")
        worker = RejectionsWorker(self.ctx.store, upload_id, path)
        worker.written.connect(self._on_rejections_written)
        worker.failed.connect(self._on_rejections_failed)
        kind = "rejected records" if path.suffix.lower() == ".xml" else "rejected rows"
        self._start(worker, f"Saving the {kind} to {path.name}…")
        self.cancel_button.setEnabled(False)  # a write of a few seconds at most; it finishes or leaves nothing
        return path

    @Slot(str)
    def _on_rejections_failed(self, message: str) -> None:
        self._set_message(message, error=True)
        self.rejections_failed.emit(message)

    @Slot(object, int)
    def _on_rejections_written(self, path: Path, count: int) -> None:
        if path.suffix.lower() == ".xml":
            self._set_message(
                f"{plural(count, 'rejected record')} saved to {path} as PARS learner XML. Correct them in your "
                "LMS or an editor (each says why it was rejected) and drop the file here again."
            )
        else:
            self._set_message(
                f"{plural(count, 'rejected row')} saved to {path}. Fix them there and drop the file here again; "
                "the Error Code and Error Message columns are ignored."
            )
        self.rejections_saved.emit(path, count)

    # -- the upload-file route (PARS website) --

    def choose_folder(self) -> Path | None:
        """Ask for the folder to write upload files in (tests replace this method)."""
        folder = QFileDialog.getExistingDirectory(self, "Folder for the PARS upload files")
        return Path(folder) if folder else None

    def prepare_upload(self, folder: Path | None = None) -> bool:
        """Queued records into PARS upload files (the chosen format), in a worker thread; `upload_prepared`
        follows. Returns False when nothing was started."""
        if self.is_busy:
            self._set_message("Another file is still being processed; wait for it or cancel it first.", error=True)
            return False
        folder = folder or self.choose_folder()
        if folder is None:
            return False
        self._set_message("")
        worker = PrepareWorker(self.ctx.store, folder, str(self.upload_format_combo.currentData()),
                               self.ctx.environment, self.ctx.actor)
        worker.prepared.connect(self._on_prepared)
        worker.failed.connect(self._on_failed)
        self._start(worker, "Preparing the upload files for PARS…")
        self.cancel_button.setEnabled(False)  # one short transaction per file: it finishes or changes nothing
        return True

    @Slot(object)
    def _on_prepared(self, report: object) -> None:
        from app.services.pars_upload import file_record_ids

        self._set_message(report.summary())  # type: ignore[attr-defined]
        self.pars_files_button.setChecked(True)
        self.refresh_pars_files()
        changed: list[int] = []
        for prepared in report.files:  # type: ignore[attr-defined]
            changed.extend(self.ctx.read(file_record_ids, prepared.file_id))
        if changed:
            self.ctx.notify_records_changed(changed)
        self.upload_prepared.emit(report)

    @Slot(bool)
    def _toggle_pars_files(self, shown: bool) -> None:
        if shown:
            self.refresh_pars_files()
        self.pars_files_box.setVisible(shown)
        self._update_intro()

    def refresh_pars_files(self) -> None:
        from app.services.pars_upload import upload_files

        self._pars_files = self.ctx.read(upload_files)
        table = self.pars_files_table
        table.setRowCount(len(self._pars_files))
        for r, view in enumerate(self._pars_files):
            cells = (_local_time(view.at), view.file_name, view.file_format.upper(), f"{view.records:,}",
                     f"{view.rejected:,}", f"{view.submitted:,}", f"{view.waiting:,}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 1:
                    item.setToolTip(f"PARS's results taken in from {view.results_file}" if view.results_file
                                    else "PARS's rejection workbook not taken in yet: drop it on this tab")
                table.setItem(r, c, item)
            button = QPushButton("Mark the rest Submitted")
            button.setEnabled(view.waiting > 0)
            button.setToolTip(
                f"The {view.waiting:,} records PARS did not reject passed its validation: mark them Submitted"
                if view.waiting else "Every record of this file has its result"
            )
            button.clicked.connect(lambda _checked=False, file_id=view.file_id: self.mark_rest_submitted(file_id))
            table.setCellWidget(r, F_MARK, button)

    @property
    def pars_files(self) -> list:
        return list(getattr(self, "_pars_files", []))

    def mark_rest_submitted(self, file_id: int) -> int:
        from app.services.pars_upload import file_record_ids, mark_rest_submitted

        count = self.ctx.write(mark_rest_submitted, file_id, actor=self.ctx.actor)
        name = next((v.file_name for v in self.pars_files if v.file_id == file_id), "the upload file")
        self._set_message(f"{_records(count)} of {name} that PARS did not reject marked as passed "
                          "(Submitted to the boards, or Accepted when no board processes them).")
        self.refresh_pars_files()
        self.ctx.notify_records_changed(self.ctx.read(file_record_ids, file_id))
        return count

    @Slot(object, object)
    def _on_results(self, check: object, applied: object) -> None:
        """PARS's rejection workbook was taken in (unchanged), or a corrected one told its rejections."""
        text = check.describe()  # type: ignore[attr-defined]
        if applied is not None:
            text = f"{text} {applied.summary()}"  # type: ignore[attr-defined]
            self.ctx.notify_records_changed(list(applied.record_ids))  # type: ignore[attr-defined]
        if check.kind == "results":  # type: ignore[attr-defined]
            self._set_message(text)
            self.pars_files_button.setChecked(True)
            self.refresh_pars_files()
        else:
            self._results_note = text
