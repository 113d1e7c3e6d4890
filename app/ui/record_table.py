"""What the two learner tabs share: a paged table of learner records and what can be done with a row.

`RecordTableTab` owns the record model and its table (look, sorting, context menu, Del shortcut),
the Delete / History / Download buttons, opening a row, deleting with feedback, the .xlsx download
and keeping the rows current when records change (put off while another tab is on screen).
Learner Summary adds the activity picker and Add learner; Learner Search adds its filter bar. Each
subclass builds its own widgets in its own order (the order is the keyboard focus order), using the
`_make_*` helpers here for the shared ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QWidget,
)

from app.services.export import export_filtered
from app.services.learners import LearnerRecordView, SortKey
from app.ui.context import AppContext
from app.ui.icons import icon
from app.ui.record_details import delete_with_feedback, open_history, open_record
from app.ui.record_model import COL_STATUS, ChangeBacklog, LearnerRecordModel, off_screen_tab
from app.wording import plural


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


class RecordTableTab(QWidget):
    """Base of the learner tabs. Subclasses call `_make_table` (and the button helpers) in __init__,
    then say what differs: `_can_download`, `suggested_file_name`, the count text and the hooks."""

    # emitted after an export: path written, number of records (for the status bar and tests)
    exported = Signal(str, int)

    # the save dialog's title, also the title of the warning when the file cannot be written
    download_title = "Download learners"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.last_dialog: Any = None  # the dialog or message box opened last (tests look at it)
        self._backlog = ChangeBacklog()  # changes put off while another tab is on screen
        self.model: LearnerRecordModel
        self.table: QTableView
        self.delete_button: QPushButton
        self.history_button: QPushButton
        self.download_button: QPushButton
        self.count_label: QLabel

    # --- building (called by the subclass, in its focus order) --------------------------------

    def _make_delete_button(self, tooltip: str = "") -> QPushButton:
        self.delete_button = QPushButton(icon("delete"), "Delete selected records", self)
        self.delete_button.setObjectName("deleteButton")
        if tooltip:
            self.delete_button.setToolTip(tooltip)
        self.delete_button.clicked.connect(self.delete_selected)
        return self.delete_button

    def _make_history_button(self, tooltip: str = "") -> QPushButton:
        self.history_button = QPushButton("History…", self)
        self.history_button.setObjectName("historyButton")
        if tooltip:
            self.history_button.setToolTip(tooltip)
        self.history_button.clicked.connect(self.show_history)
        return self.history_button

    def _make_download_button(self, text: str, tooltip: str) -> QPushButton:
        self.download_button = QPushButton(text, self)
        self.download_button.setObjectName("downloadButton")
        self.download_button.setToolTip(tooltip)
        self.download_button.clicked.connect(self.download)
        return self.download_button

    def _make_count_label(self) -> QLabel:
        self.count_label = QLabel(self)
        self.count_label.setObjectName("countLabel")
        return self.count_label

    def _make_table(self, object_name: str, columns: tuple[str, ...], sort_column: str, sort_key: SortKey,
                    descending: bool) -> QTableView:
        """The record model and its table, sorted on `sort_column` to start with, wired to this tab:
        double-click opens, right-click shows the menu, Del deletes, selection and ticks update the
        buttons, a new total updates the count label."""
        self.model = LearnerRecordModel(self.ctx.read, columns, parent=self)
        self.model.set_sort(sort_key, descending=descending)
        self.table = QTableView(self)
        self.table.setObjectName(object_name)
        configure_record_table(self.table, self.model)
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(self.model.column_of(sort_column), order)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.checked_changed.connect(self._update_buttons)
        self.model.total_changed.connect(self._show_count)

        delete_action = QAction("Delete selected records", self)
        delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete_action.triggered.connect(self.delete_selected)
        self.table.addAction(delete_action)
        self.ctx.records_changed.connect(self._records_changed)
        self.ctx.store_changed.connect(self._store_changed)
        return self.table

    # --- what the subclass says ---------------------------------------------------------------

    def _show_count(self, total: int) -> None:
        """The text of the count label for this many matching records."""
        raise NotImplementedError

    def _can_download(self) -> bool:
        return self.model.total > 0

    def suggested_file_name(self) -> str | None:
        """The download's file name offered in the save dialog; None when there is nothing to save."""
        raise NotImplementedError

    def _follow_dialog(self, dialog: Any) -> None:
        """A record dialog was opened from this tab (the Summary shows what its save did)."""

    def _records_updated(self) -> None:
        """The rows on screen were just brought up to date after a change."""

    def _backlog_applied(self) -> None:
        """Changes put off while the tab was hidden were just applied."""

    def _select_row_for_menu(self, row: int) -> None:
        """A right-click on a row that is already part of the selection keeps the whole selection
        (so "Delete" acts on all of it); on any other row it selects just that row."""
        if not self.table.selectionModel().isRowSelected(row, QModelIndex()):
            self.table.selectRow(row)

    def _add_menu_actions(self, menu: QMenu, record: LearnerRecordView) -> None:
        """Entries the subclass adds to a row's context menu, after History."""

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
            self.reload_keeping_selection()
        self._records_updated()

    def _store_changed(self) -> None:
        """Another process changed the store: records may have been added anywhere."""
        self._records_changed([])

    def reload_keeping_selection(self) -> None:
        """Re-read the rows from the first page and put back the selection, the current row, as
        many rows as were loaded and the scroll position."""
        model, table = self.model, self.table
        selection_model = table.selectionModel()
        selected = [model.record(index.row()).completion_id for index in selection_model.selectedRows()]
        current = table.currentIndex()
        current_id = model.record(current.row()).completion_id if current.isValid() else None
        loaded, scroll = model.rowCount(), table.verticalScrollBar().value()
        model.reload()
        while model.rowCount() < loaded and model.canFetchMore():
            model.fetchMore()
        last_column = model.columnCount() - 1
        selection = QItemSelection()
        for completion_id in selected:
            row = model.row_of(completion_id)
            if row is not None:
                selection.select(model.index(row, 0), model.index(row, last_column))
        selection_model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        row = model.row_of(current_id) if current_id is not None else None
        if row is not None:
            selection_model.setCurrentIndex(
                model.index(row, current.column()), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        table.verticalScrollBar().setValue(scroll)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._backlog:
            self._backlog.apply(self.model)
            self._backlog_applied()

    def target_ids(self) -> list[int]:
        """The ticked records, or else the selected rows."""
        ticked = self.model.checked_ids()
        if ticked:
            return ticked
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.record(row).completion_id for row in rows]

    def current_record_id(self) -> int | None:
        """The record History acts on: the current row, or else the only ticked/selected record."""
        index = self.table.currentIndex()
        if index.isValid():
            return self.model.record(index.row()).completion_id
        ids = self.target_ids()
        return ids[0] if len(ids) == 1 else None

    def _update_buttons(self, *_args: Any) -> None:
        self.download_button.setEnabled(self._can_download())
        self.delete_button.setEnabled(bool(self.target_ids()))
        self.history_button.setEnabled(self.current_record_id() is not None)

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
            f"Delete {plural(count, 'learner record')}? Records PARS already has are "
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
        if index.isValid() and index.column() != 0:  # column 0 is the tick box
            self.open_row(index.row())

    def open_row(self, row: int) -> Any:
        dialog = open_record(self.ctx, self, self.model.record(row).completion_id)
        self._follow_dialog(dialog)
        self.last_dialog = dialog
        return dialog

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self._select_row_for_menu(index.row())
        record = self.model.record(index.row())
        menu = QMenu(self)
        open_text = "Correct and resubmit…" if record.is_rejected and record.replaced_by_id is None else "Open…"
        menu.addAction(open_text, lambda: self.open_row(index.row()))
        menu.addAction("History…", self.show_history)
        self._add_menu_actions(menu, record)
        menu.addSeparator()
        menu.addAction("Delete", self.delete_selected)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # --- export -------------------------------------------------------------------------------

    def choose_save_path(self, suggested: str) -> str | None:
        """The native save dialog (tests replace this)."""
        path, _ = QFileDialog.getSaveFileName(self, self.download_title, suggested, "Excel workbook (*.xlsx)")
        return path or None

    def download(self) -> Path | None:
        """Write every record the model's filters match (all pages, by name) to an .xlsx the user
        picks; returns where, or None when there was nothing to save, the user cancelled or the
        file could not be written (said in a warning)."""
        filters = self.model.filters
        if filters is None:
            return None
        suggested = self.suggested_file_name()
        if suggested is None:
            return None
        chosen = self.choose_save_path(str(Path.home() / suggested))
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() != ".xlsx":
            path = path.with_suffix(".xlsx")
        try:
            written = self.ctx.read(export_filtered, path, filters, sort=SortKey.NAME, descending=False)
        except OSError as exc:
            QMessageBox.warning(self, self.download_title, f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.exported.emit(str(path), written)
        return path
