"""The Learner Summary tab: one activity's learner records, and what a coordinator does with them.

Pick an activity (a searchable combo), see its records with their PARS status (a Rejected record's
tooltip says the code, the message and the fix), add a learner (Ctrl+N), delete the ticked records
(Del), open a record's history, download the list as .xlsx. Double-clicking a Rejected record opens it
to be corrected and resubmitted; a Draft opens to be edited; others open read-only with history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.services import learners
from app.services.export import export_filtered
from app.services.learners import ActivityOption, SearchFilters, SortKey
from app.ui.context import AppContext
from app.ui.icons import icon
from app.ui.record_details import delete_with_feedback, open_history, open_record
from app.ui.record_model import COL_STATUS, SUMMARY_COLUMNS, ChangeBacklog, LearnerRecordModel, off_screen_tab

_COUNT_REFRESH_MS = 300  # status counts under the table: at most one refresh per interval during a sync


def configure_record_table(table: QTableView, model: LearnerRecordModel) -> None:
    """The look both learner tables share: row selection, SQL-side sorting, sensible widths."""
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(24)
    table.setSortingEnabled(True)
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
    table.setColumnWidth(0, 28)
    widths = {"name": 190, "activity": 220, "license": 120, "board_ids": 150, "date": 90, "cme": 80, "points": 130, "status": 150}
    for number, column in enumerate(model._columns):  # noqa: SLF001 - the model's own column list
        if column in widths:
            table.setColumnWidth(number, widths[column])
    header.setSectionResizeMode(model.column_of(COL_STATUS), QHeaderView.ResizeMode.Stretch)


class LearnerSummaryTab(QWidget):
    # emitted after an export: path written, number of records (for the status bar and tests)
    exported = Signal(str, int)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("learnerSummaryTab")
        self._options: list[ActivityOption] = []
        self.last_dialog: Any = None  # the dialog or message box opened last (tests look at it)

        self.activity_combo = QComboBox(self)
        self.activity_combo.setObjectName("activityCombo")
        self.activity_combo.setEditable(True)
        self.activity_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.activity_combo.setMinimumContentsLength(40)
        self.activity_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.activity_combo.lineEdit().setPlaceholderText("Type to find an activity by title or ID")
        completer = self.activity_combo.completer()
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.activity_combo.currentIndexChanged.connect(self._activity_chosen)

        self.show_deleted = QCheckBox("Show deleted", self)
        self.show_deleted.setObjectName("showDeleted")
        self.show_deleted.toggled.connect(self._apply_filters)

        self.add_button = QPushButton(icon("new-learner"), "Add learner", self)
        self.add_button.setObjectName("addLearnerButton")
        self.add_button.setToolTip("Add a learner to this activity (Ctrl+N)")
        self.add_button.clicked.connect(self.new_learner)
        self.delete_button = QPushButton(icon("delete"), "Delete selected records", self)
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.setToolTip("Delete the ticked (or selected) records (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.history_button = QPushButton("History…", self)
        self.history_button.setObjectName("historyButton")
        self.history_button.setToolTip("Every status the selected record went through")
        self.history_button.clicked.connect(self.show_history)
        self.download_button = QPushButton("Download learners", self)
        self.download_button.setObjectName("downloadButton")
        self.download_button.setToolTip("Save this activity's learners as an Excel workbook")
        self.download_button.clicked.connect(self.download)
        self.select_all = QCheckBox("Tick all", self)
        self.select_all.setObjectName("tickAll")
        self.select_all.toggled.connect(self._tick_all)

        self.model = LearnerRecordModel(ctx.read, SUMMARY_COLUMNS, parent=self)
        self.model.set_sort(SortKey.NAME, descending=False)
        self.table = QTableView(self)
        self.table.setObjectName("summaryTable")
        configure_record_table(self.table, self.model)
        self.table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.AscendingOrder)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.checked_changed.connect(self._update_buttons)
        self.model.total_changed.connect(self._update_count)
        self.model.modelReset.connect(self._update_buttons)

        delete_action = QAction("Delete selected records", self)
        delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete_action.triggered.connect(self.delete_selected)
        self.table.addAction(delete_action)

        self.count_label = QLabel(self)
        self.count_label.setObjectName("countLabel")
        self.empty_label = QLabel(
            "No activities yet. Add or import one on the Activities tab, then report its learners here.", self
        )
        self.empty_label.setWordWrap(True)
        self.empty_label.setVisible(False)
        self.note_label = QLabel(self)  # what the last save did ("saved as a Draft: no permission")
        self.note_label.setObjectName("noteLabel")
        self.note_label.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Activity:", self))
        top.addWidget(self.activity_combo, 1)
        top.addWidget(self.show_deleted)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.history_button)
        buttons.addStretch(1)
        buttons.addWidget(self.download_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.select_all)
        bottom.addWidget(self.note_label, 1)
        bottom.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

        self._backlog = ChangeBacklog()  # changes put off while another tab is on screen
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(_COUNT_REFRESH_MS)
        self._count_timer.timeout.connect(self._refresh_count)
        ctx.records_changed.connect(self._records_changed)
        ctx.activities_changed.connect(self.reload_activities)
        self.reload_activities()

    # --- activity -----------------------------------------------------------------------------

    def reload_activities(self) -> None:
        current = self.current_activity_id()
        self._options = self.ctx.read(learners.activity_options)
        self.activity_combo.blockSignals(True)
        self.activity_combo.clear()
        for option in self._options:
            self.activity_combo.addItem(option.label, option.row_id)
        self.activity_combo.blockSignals(False)
        self.empty_label.setVisible(not self._options)
        wanted = current if current is not None else (self._options[0].row_id if self._options else None)
        if wanted is None or not self.show_activity(wanted):
            self.activity_combo.setCurrentIndex(-1)
            self.model.set_filters(None)
        self._update_buttons()

    def current_activity_id(self) -> int | None:
        data = self.activity_combo.currentData()
        return int(data) if data is not None else None

    def show_activity(self, activity_row_id: int) -> bool:
        """Show this activity's learners (the Activities tab's 'View learners')."""
        position = self.activity_combo.findData(activity_row_id)
        if position < 0:
            self.reload_activities_if_missing(activity_row_id)
            position = self.activity_combo.findData(activity_row_id)
            if position < 0:
                return False
        if position == self.activity_combo.currentIndex():
            self._apply_filters()
        else:
            self.activity_combo.setCurrentIndex(position)
        return True

    def reload_activities_if_missing(self, activity_row_id: int) -> None:
        if any(o.row_id == activity_row_id for o in self._options):
            return
        if self.ctx.read(learners.activity_option, activity_row_id) is None:
            return
        self.reload_activities()

    def _activity_chosen(self, _position: int) -> None:
        self.select_all.blockSignals(True)
        self.select_all.setChecked(False)
        self.select_all.blockSignals(False)
        self._apply_filters()

    def _apply_filters(self, *_args: Any) -> None:
        activity = self.current_activity_id()
        if activity is None:
            self.model.set_filters(None)
        else:
            self.model.set_filters(
                SearchFilters(activity_row_id=activity, include_deleted=self.show_deleted.isChecked())
            )
        self._update_buttons()

    def current_option(self) -> ActivityOption | None:
        activity = self.current_activity_id()
        return next((o for o in self._options if o.row_id == activity), None)

    # --- records ------------------------------------------------------------------------------

    def _records_changed(self, ids: list[int]) -> None:
        if self.model.filters is None:
            return
        if off_screen_tab(self):
            self._backlog.add(ids)
            return
        if ids:
            self.model.update_rows(ids)
        else:
            self.model.reload()
        # statuses changed even when the total did not: the counts under the table follow
        if not self._count_timer.isActive():
            self._count_timer.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._backlog:
            self._backlog.apply(self.model)
            self._refresh_count()

    def target_ids(self) -> list[int]:
        """The ticked records, or else the selected rows."""
        ticked = self.model.checked_ids()
        if ticked:
            return ticked
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.record(row).completion_id for row in rows]

    def current_record_id(self) -> int | None:
        index = self.table.currentIndex()
        if index.isValid():
            return self.model.record(index.row()).completion_id
        ids = self.target_ids()
        return ids[0] if len(ids) == 1 else None

    def _update_buttons(self, *_args: Any) -> None:
        has_activity = self.current_activity_id() is not None
        self.add_button.setEnabled(has_activity)
        self.download_button.setEnabled(has_activity and self.model.total > 0)
        self.delete_button.setEnabled(bool(self.target_ids()))
        self.history_button.setEnabled(self.current_record_id() is not None)

    def _refresh_count(self) -> None:
        self._update_count(self.model.total)

    def _update_count(self, total: int) -> None:
        if self.model.filters is None:
            self.count_label.setText("")
            return
        counts = self.ctx.read(learners.status_counts, self.model.filters)
        detail = ", ".join(f"{n} {status}" for status, n in counts)
        self.count_label.setText(f"{total} record{'s' if total != 1 else ''}" + (f": {detail}" if detail else ""))

    def _tick_all(self, checked: bool) -> None:
        if checked:
            self.model.fetch_all()
        self.model.set_all_checked(checked)

    def new_learner(self) -> Any:
        """Ctrl+N: the entry dialog for the shown activity."""
        from app.ui.learner_dialog import open_new_learner

        dialog = open_new_learner(self.ctx, self, self.current_activity_id())
        # no lambda holding the dialog: it deletes itself on close
        dialog.reported.connect(self.note_label.setText)
        self.last_dialog = dialog
        return dialog

    def delete_selected(self) -> QMessageBox | None:
        """Del: delete the ticked/selected records; Submitted ones are refused with the reason."""
        ids = self.target_ids()
        if not ids or not self.confirm_delete(len(ids)):
            return None
        box = delete_with_feedback(self.ctx, self, ids)
        self.last_dialog = box
        self._update_buttons()
        return box

    def confirm_delete(self, count: int) -> bool:
        """Ask before deleting (tests replace this to answer without a modal dialog)."""
        answer = QMessageBox.question(
            self,
            "Delete learner records",
            f"Delete {count} learner record{'s' if count != 1 else ''}? Records PARS already has are "
            "deleted there at the next sync.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def show_history(self) -> Any:
        completion_id = self.current_record_id()
        if completion_id is None:
            return None
        self.last_dialog = open_history(self.ctx, self, completion_id)
        return self.last_dialog

    def _double_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and index.column() != 0:
            self.open_row(index.row())

    def open_row(self, row: int) -> Any:
        dialog = open_record(self.ctx, self, self.model.record(row).completion_id)
        reported = getattr(dialog, "reported", None)
        if reported is not None:
            reported.connect(self.note_label.setText)
        self.last_dialog = dialog
        return dialog

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        if not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.table.selectRow(index.row())
        record = self.model.record(index.row())
        menu = QMenu(self)
        open_text = "Correct and resubmit…" if record.is_rejected and record.replaced_by_id is None else "Open…"
        menu.addAction(open_text, lambda: self.open_row(index.row()))
        menu.addAction("History…", self.show_history)
        menu.addSeparator()
        menu.addAction("Delete", self.delete_selected)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # --- export -------------------------------------------------------------------------------

    def choose_save_path(self, suggested: str) -> str | None:
        """The native save dialog (tests replace this)."""
        path, _ = QFileDialog.getSaveFileName(self, "Download learners", suggested, "Excel workbook (*.xlsx)")
        return path or None

    def download(self) -> Path | None:
        option = self.current_option()
        if option is None or self.model.filters is None:
            return None
        safe_title = "".join(c if c.isalnum() or c in " -_" else "_" for c in option.activity.title).strip()
        suggested = f"{option.activity.activity_id or 'activity'} {safe_title[:60]} learners.xlsx"
        chosen = self.choose_save_path(str(Path.home() / suggested))
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() != ".xlsx":
            path = path.with_suffix(".xlsx")
        try:
            written = self.ctx.read(export_filtered, path, self.model.filters, sort=SortKey.NAME, descending=False)
        except OSError as exc:
            QMessageBox.warning(self, "Download learners", f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.exported.emit(str(path), written)
        return path
