"""What the two learner tabs share: a paged table of learner records and what can be done with a row.

`RecordTableTab` owns the record model and its table (look, sorting, context menu, Del shortcut),
the Delete / History / Download buttons, opening a row, deleting with feedback, the .xlsx download
and keeping the rows current when records change (put off while another tab is on screen).
Learner Summary adds the activity picker and Add learner; Learner Search adds its filter bar. Each
subclass builds its own widgets in its own order (the order is the keyboard focus order), using the
`_make_*` helpers here for the shared ones.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
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

from app.pars.domain import Status
from app.services import learners
from app.services.learners import LearnerRecordView, ResubmitOutcome, SortKey
from app.ui.context import AppContext
from app.ui.export_worker import BackgroundExport
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
        self._export: BackgroundExport | None = None  # a download being written in the background
        self.model: LearnerRecordModel
        self.table: QTableView
        self.delete_button: QPushButton
        self.history_button: QPushButton
        self.download_button: QPushButton
        self.count_label: QLabel
        self.resubmit_button: QPushButton | None = None
        self.next_rejected_button: QPushButton | None = None
        self._walking = False  # "Open next rejected": each saved correction opens the next one

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

    def _make_rejection_buttons(self) -> tuple[QPushButton, QPushButton]:
        """'Resubmit as is' for the ticked/selected rejected records, and 'Open next rejected' to
        correct them one after another in the entry dialog."""
        self.resubmit_button = QPushButton("Resubmit as is", self)
        self.resubmit_button.setObjectName("resubmitAsIsButton")
        self.resubmit_button.setToolTip(
            "Send the ticked (or selected) rejected records again unchanged, each under a new credit ID "
            "linked to the rejected one: for board codes that clear with time, such as 661 before the "
            "board knows the learner"
        )
        self.resubmit_button.clicked.connect(self.resubmit_selected)
        self.next_rejected_button = QPushButton("Open next rejected", self)
        self.next_rejected_button.setObjectName("openNextRejectedButton")
        self.next_rejected_button.setToolTip(
            "Open the next rejected record to correct it; after each Resubmit the following one opens"
        )
        self.next_rejected_button.clicked.connect(self.open_next_rejected)
        return self.resubmit_button, self.next_rejected_button

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
        self.model = LearnerRecordModel(self.ctx.read, columns, parent=self, read_later=self.ctx.read_later)
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
            self._backlog.apply(self.model, self.reload_keeping_selection)
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
        if self.resubmit_button is not None:
            self.resubmit_button.setEnabled(bool(self._resubmittable(self.target_ids())))
        if self.next_rejected_button is not None:
            self.next_rejected_button.setEnabled(self.model.total > 0)

    def _resubmittable(self, ids: list[int]) -> list[int]:
        """Of these records, the rejected ones shown here that were not resubmitted yet."""
        wanted = set(ids)
        return [r.completion_id for r in self.model.records()
                if r.completion_id in wanted and r.is_rejected and r.replaced_by_id is None]

    # --- rejected records ---------------------------------------------------------------------

    def confirm_resubmit(self, count: int) -> bool:
        """Ask before resending unchanged (tests replace this to answer without a modal dialog)."""
        answer = QMessageBox.question(
            self,
            "Resubmit as is",
            f"Send {plural(count, 'rejected record')} again unchanged, each under a new "
            "credit ID? Do this when the reason clears with time (e.g. 661: the board does not know the "
            "learner yet); otherwise correct the record first.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def resubmit_selected(self) -> list[ResubmitOutcome]:
        """'Resubmit as is' for the ticked/selected rejected records; says what it did and what not."""
        ids = self.target_ids()
        rejected = self._resubmittable(ids)
        if not rejected or not self.confirm_resubmit(len(rejected)):
            return []
        outcomes = self.ctx.write(learners.resubmit_unchanged, rejected, self.ctx.actor, date.today())
        changed = [o.completion_id for o in outcomes] + [o.new_id for o in outcomes if o.new_id is not None]
        self.ctx.notify_records_changed(changed)
        done = [o for o in outcomes if o.resubmitted]
        refused = [o for o in outcomes if not o.resubmitted]
        text = f"{len(done)} of {len(outcomes)} rejected records were queued again unchanged (sent at the next sync)."
        box = QMessageBox(
            QMessageBox.Icon.Warning if refused else QMessageBox.Icon.Information, "Resubmit as is", text,
            QMessageBox.StandardButton.Ok, self,
        )
        box.setObjectName("resubmitOutcomeBox")
        if refused:
            box.setInformativeText("\n".join(f"• {o.learner_name or o.completion_id}: {o.reason}" for o in refused))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_dialog = box
        self._update_buttons()
        return outcomes

    def _next_rejected_row(self) -> int | None:
        """The first rejected, not yet resubmitted row after the current one (wrapping round),
        loading further pages as needed."""
        filters = self.model.filters
        if filters is None or not self.ctx.read(
            learners.count_records, dataclasses.replace(filters, status=Status.REJECTED.value)
        ):
            return None  # none at all: no need to page through a large result to find that out
        current = self.table.currentIndex().row() if self.table.currentIndex().isValid() else -1
        row = current + 1
        looked = 0
        while True:
            if row >= self.model.rowCount():
                if self.model.canFetchMore():
                    self.model.fetchMore()
                    continue
                row = 0
            if looked >= self.model.rowCount():
                return None
            record = self.model.record(row)
            if record.is_rejected and record.replaced_by_id is None:
                return row
            row += 1
            looked += 1

    def open_next_rejected(self) -> Any:
        """Open the next rejected record in the correction dialog; once it is resubmitted, the one after
        it opens, until none is left or the dialog is cancelled."""
        row = self._next_rejected_row()
        if row is None:
            self._walking = False
            self.show_note("No rejected record is waiting for a correction here.")
            return None
        self._walking = True
        self.table.selectRow(row)
        self.table.setCurrentIndex(self.model.index(row, 1))
        dialog = self.open_row(row)
        finished = getattr(dialog, "finished", None)
        if finished is not None:
            finished.connect(self._walk_on)
        return dialog

    def _walk_on(self, result: int) -> None:
        if self._walking and result == 1:  # QDialog.Accepted: resubmitted, so on to the next one
            QTimer.singleShot(0, self.open_next_rejected)
        else:
            self._walking = False

    def show_note(self, text: str) -> None:
        """A one-line note for the user (Learner Summary shows it under the table)."""
        box = QMessageBox(QMessageBox.Icon.Information, self.download_title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_dialog = box

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
        if self.resubmit_button is not None and record.is_rejected and record.replaced_by_id is None:
            menu.addAction("Resubmit as is", self.resubmit_selected)
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
        """Start writing every record the model's filters match (all pages, by name) to an .xlsx the
        user picks, in the background with a cancellable progress dialog; returns where, or None when
        there was nothing to save or the user cancelled. `exported` says when the file is written; a
        file that cannot be written is said in a warning."""
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
        if self._export is not None and self._export.running():
            QMessageBox.information(self, self.download_title, "A download is still being written.")
            return None
        export = BackgroundExport(self, self.ctx.store, path, filters, sort=SortKey.NAME, descending=False,
                                  title=self.download_title)
        export.succeeded.connect(self.exported)
        export.failed.connect(lambda message: QMessageBox.warning(self, self.download_title, message))
        export.destroyed.connect(self._forget_export)
        self._export = export
        export.start()
        return path

    def _forget_export(self) -> None:
        self._export = None

    def shutdown_export(self) -> None:
        """Stop a download still being written (the tab is closing); the target file is left untouched."""
        if self._export is not None:
            self._export.stop_and_wait()
