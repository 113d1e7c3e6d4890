"""The Learner Search tab: find learner records across all activities.

Filters (name, license/NPI/board ID, activity, board, status, completion date range) go to SQLite as
one query over its indexes; the results arrive a page at a time through the shared record model, so
the tab opens and filters quickly with 100,000 records. Typing re-runs the search after a short pause.
"Download filtered list" writes exactly the records the filters match (all pages) to .xlsx.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.pars import catalog
from app.pars.domain import Status
from app.services.export import export_filtered
from app.services.learners import SearchFilters, SortKey
from app.ui.context import AppContext
from app.ui.icons import icon
from app.ui.record_table import configure_record_table
from app.ui.record_details import delete_with_feedback, open_history, open_record
from app.ui.record_model import SEARCH_COLUMNS, ChangeBacklog, LearnerRecordModel, off_screen_tab

SEARCH_DELAY_MS = 250
_NO_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "any"


class LearnerSearchTab(QWidget):
    exported = Signal(str, int)  # path, records written
    searched = Signal(int)  # number of matching records, after each search

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("learnerSearchTab")
        self.last_dialog: Any = None

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("nameFilter")
        self.name_edit.setPlaceholderText("Learner name (first, last or both)")
        self.name_edit.setClearButtonEnabled(True)
        self.id_edit = QLineEdit(self)
        self.id_edit.setObjectName("idFilter")
        self.id_edit.setPlaceholderText("License #, NPI or board ID")
        self.id_edit.setClearButtonEnabled(True)
        self.activity_edit = QLineEdit(self)
        self.activity_edit.setObjectName("activityFilter")
        self.activity_edit.setPlaceholderText("Activity ID or title words")
        self.activity_edit.setClearButtonEnabled(True)
        self.board_combo = QComboBox(self)
        self.board_combo.setObjectName("boardFilter")
        self.board_combo.addItem("Any board", "")
        for code in catalog.board_codes():
            self.board_combo.addItem(code, code)
        self.status_combo = QComboBox(self)
        self.status_combo.setObjectName("statusFilter")
        self.status_combo.addItem("Any status", "")
        for status in Status:
            self.status_combo.addItem(status.value, status.value)
        self.date_from = self._date_edit("dateFrom")
        self.date_to = self._date_edit("dateTo")
        self.clear_button = QPushButton("Clear filters", self)
        self.clear_button.setObjectName("clearFilters")
        self.clear_button.clicked.connect(self.clear_filters)

        self.download_button = QPushButton("Download filtered list", self)
        self.download_button.setObjectName("downloadButton")
        self.download_button.setToolTip("Save every record the filters match as an Excel workbook")
        self.download_button.clicked.connect(self.download)
        self.history_button = QPushButton("History…", self)
        self.history_button.setObjectName("historyButton")
        self.history_button.clicked.connect(self.show_history)
        self.delete_button = QPushButton(icon("delete"), "Delete selected records", self)
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.clicked.connect(self.delete_selected)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("countLabel")

        self.model = LearnerRecordModel(ctx.read, SEARCH_COLUMNS, parent=self)
        self.model.set_sort(SortKey.DATE, descending=True)
        self.table = QTableView(self)
        self.table.setObjectName("searchTable")
        configure_record_table(self.table, self.model)
        self.table.horizontalHeader().setSortIndicator(self.model.column_of("date"), Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.checked_changed.connect(self._update_buttons)
        self.model.total_changed.connect(self._show_total)
        self.model.rowsInserted.connect(lambda *_: self._show_total(self.model.total))
        delete_action = QAction("Delete selected records", self)
        delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete_action.triggered.connect(self.delete_selected)
        self.table.addAction(delete_action)

        filters = QGridLayout()
        filters.addWidget(QLabel("Name:", self), 0, 0)
        filters.addWidget(self.name_edit, 0, 1)
        filters.addWidget(QLabel("ID:", self), 0, 2)
        filters.addWidget(self.id_edit, 0, 3)
        filters.addWidget(QLabel("Activity:", self), 0, 4)
        filters.addWidget(self.activity_edit, 0, 5)
        filters.addWidget(QLabel("Board:", self), 1, 0)
        row = QHBoxLayout()
        row.addWidget(self.board_combo)
        row.addWidget(QLabel("Status:", self))
        row.addWidget(self.status_combo)
        row.addStretch(1)
        filters.addLayout(row, 1, 1)
        filters.addWidget(QLabel("Completed:", self), 1, 2)
        dates = QHBoxLayout()
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to", self))
        dates.addWidget(self.date_to)
        dates.addStretch(1)
        filters.addLayout(dates, 1, 3)
        filters.addWidget(self.clear_button, 1, 5, Qt.AlignmentFlag.AlignRight)
        filters.setColumnStretch(1, 2)
        filters.setColumnStretch(3, 2)
        filters.setColumnStretch(5, 2)

        actions = QHBoxLayout()
        actions.addWidget(self.delete_button)
        actions.addWidget(self.history_button)
        actions.addStretch(1)
        actions.addWidget(self.count_label)
        actions.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(actions)
        layout.addWidget(self.table, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search)
        for edit in (self.name_edit, self.id_edit, self.activity_edit):
            edit.textChanged.connect(self._timer.start)
            edit.returnPressed.connect(self.search)
        for combo in (self.board_combo, self.status_combo):
            combo.currentIndexChanged.connect(self.search)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._timer.start)

        self._backlog = ChangeBacklog()  # changes put off while another tab is on screen
        ctx.records_changed.connect(self._records_changed)
        self.search()

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit(self)
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("MM/dd/yyyy")
        edit.setMinimumDate(_NO_DATE)
        edit.setSpecialValueText("any")  # shown while the date is at its minimum: no limit
        edit.setDate(_NO_DATE)
        return edit

    # --- filters ------------------------------------------------------------------------------

    def focus_search(self) -> None:
        """Ctrl+F: straight into the name box."""
        self.name_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.name_edit.selectAll()

    def filters(self) -> SearchFilters:
        return SearchFilters(
            name=self.name_edit.text(),
            learner_id=self.id_edit.text(),
            activity=self.activity_edit.text(),
            board=self.board_combo.currentData() or "",
            status=self.status_combo.currentData() or "",
            date_from=self._date(self.date_from),
            date_to=self._date(self.date_to),
        )

    @staticmethod
    def _date(edit: QDateEdit) -> date | None:
        value = edit.date()
        return None if value == _NO_DATE else date(value.year(), value.month(), value.day())

    def set_date_range(self, first: date | None, last: date | None) -> None:
        self.date_from.setDate(QDate(first.year, first.month, first.day) if first else _NO_DATE)
        self.date_to.setDate(QDate(last.year, last.month, last.day) if last else _NO_DATE)

    def clear_filters(self) -> None:
        for widget in (self.name_edit, self.id_edit, self.activity_edit, self.board_combo, self.status_combo,
                       self.date_from, self.date_to):
            widget.blockSignals(True)
        self.name_edit.clear()
        self.id_edit.clear()
        self.activity_edit.clear()
        self.board_combo.setCurrentIndex(0)
        self.status_combo.setCurrentIndex(0)
        self.set_date_range(None, None)
        for widget in (self.name_edit, self.id_edit, self.activity_edit, self.board_combo, self.status_combo,
                       self.date_from, self.date_to):
            widget.blockSignals(False)
        self.search()

    def search(self) -> int:
        """Run the filters now (typing waits a moment first); returns the number of matches."""
        self._timer.stop()
        self.model.set_filters(self.filters())
        self._update_buttons()
        self.searched.emit(self.model.total)
        return self.model.total

    def _show_total(self, total: int) -> None:
        shown = self.model.rowCount()
        more = f" (showing the first {shown}; scroll for more)" if shown < total else ""
        self.count_label.setText(f"{total} matching record{'s' if total != 1 else ''}{more}")

    def _records_changed(self, ids: list[int]) -> None:
        if off_screen_tab(self):
            self._backlog.add(ids)
            return
        if ids:
            self.model.update_rows(ids)
        else:
            self.model.reload()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._backlog:
            self._backlog.apply(self.model)

    # --- records ------------------------------------------------------------------------------

    def target_ids(self) -> list[int]:
        ticked = self.model.checked_ids()
        if ticked:
            return ticked
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.record(row).completion_id for row in rows]

    def current_record_id(self) -> int | None:
        index = self.table.currentIndex()
        return self.model.record(index.row()).completion_id if index.isValid() else None

    def _update_buttons(self, *_args: Any) -> None:
        self.download_button.setEnabled(self.model.total > 0)
        self.delete_button.setEnabled(bool(self.target_ids()))
        self.history_button.setEnabled(self.current_record_id() is not None)

    def _double_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and index.column() != 0:
            self.open_row(index.row())

    def open_row(self, row: int) -> Any:
        self.last_dialog = open_record(self.ctx, self, self.model.record(row).completion_id)
        return self.last_dialog

    def show_history(self) -> Any:
        completion_id = self.current_record_id()
        if completion_id is None:
            return None
        self.last_dialog = open_history(self.ctx, self, completion_id)
        return self.last_dialog

    def delete_selected(self) -> QMessageBox | None:
        ids = self.target_ids()
        if not ids or not self.confirm_delete(len(ids)):
            return None
        self.last_dialog = delete_with_feedback(self.ctx, self, ids)
        self._update_buttons()
        return self.last_dialog

    def confirm_delete(self, count: int) -> bool:
        """Ask before deleting (tests replace this to answer without a modal dialog)."""
        answer = QMessageBox.question(
            self,
            "Delete learner records",
            f"Delete {count} learner record{'s' if count != 1 else ''}? Records PARS already has are "
            "deleted there at the next sync.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        record = self.model.record(index.row())
        menu = QMenu(self)
        open_text = "Correct and resubmit…" if record.is_rejected and record.replaced_by_id is None else "Open…"
        menu.addAction(open_text, lambda: self.open_row(index.row()))
        menu.addAction("History…", self.show_history)
        menu.addAction("Show activity's learners", lambda: self.ctx.open_activity_requested.emit(record.activity_row_id))
        menu.addSeparator()
        menu.addAction("Delete", self.delete_selected)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # --- export -------------------------------------------------------------------------------

    def choose_save_path(self, suggested: str) -> str | None:
        """The native save dialog (tests replace this)."""
        path, _ = QFileDialog.getSaveFileName(self, "Download filtered list", suggested, "Excel workbook (*.xlsx)")
        return path or None

    def download(self) -> Path | None:
        filters = self.model.filters
        if filters is None or self.model.total == 0:
            return None
        chosen = self.choose_save_path(str(Path.home() / f"learners {date.today().isoformat()}.xlsx"))
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() != ".xlsx":
            path = path.with_suffix(".xlsx")
        try:
            written = self.ctx.read(export_filtered, path, filters, sort=SortKey.NAME, descending=False)
        except OSError as exc:
            QMessageBox.warning(self, "Download filtered list", f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.exported.emit(str(path), written)
        return path
