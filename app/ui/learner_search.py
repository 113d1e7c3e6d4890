"""The Learner Search tab: find learner records across all activities.

Filters (name, license/NPI/board ID, activity, board, status, completion date range) go to SQLite as
one query over its indexes; the results arrive a page at a time through the shared record model, so
the tab opens and filters quickly with 100,000 records. Typing re-runs the search after a short pause.
"Download filtered list" writes exactly the records the filters match (all pages) to .xlsx.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.pars import catalog
from app.pars.domain import Status
from app.services.learners import MAX_FILTER_CHARS, LearnerRecordView, SearchFilters, SortKey, filter_problem
from app.ui.context import AppContext
from app.ui.record_model import COL_DATE, SEARCH_COLUMNS
from app.ui.record_table import RecordTableTab
from app.wording import plural

SEARCH_DELAY_MS = 250
_NO_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "any"


class LearnerSearchTab(RecordTableTab):
    searched = Signal(int)  # number of matching records, after each search
    download_title = "Download filtered list"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("learnerSearchTab")

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
        for edit in (self.name_edit, self.id_edit, self.activity_edit):
            edit.setMaxLength(MAX_FILTER_CHARS)  # a pasted essay is cut at the door
        # why the filters cannot be run (too many words, dates the wrong way round); hidden otherwise
        self.filter_problem = QLabel(self)
        self.filter_problem.setObjectName("filterProblem")
        self.filter_problem.setStyleSheet("color: #b00020;")
        self.filter_problem.setWordWrap(True)
        self.filter_problem.hide()
        self.clear_button = QPushButton("Clear filters", self)
        self.clear_button.setObjectName("clearFilters")
        self.clear_button.clicked.connect(self.clear_filters)
        # set by a click on the attention strip: only the records of that rule (cleared with the filters)
        self._attention = ""
        self.attention_label = QLabel(self)
        self.attention_label.setObjectName("attentionFilter")
        self.attention_label.setVisible(False)

        self._make_download_button("Download filtered list", "Save every record the filters match as an Excel workbook")
        self._make_history_button()
        self._make_delete_button()
        self._make_rejection_buttons()
        self._make_count_label()

        self._make_table("searchTable", SEARCH_COLUMNS, COL_DATE, SortKey.DATE, descending=True)
        # "showing the first N" follows the pages as they are fetched
        self.model.rowsInserted.connect(lambda *_: self._show_count(self.model.total))

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
        actions.addWidget(self.resubmit_button)
        actions.addWidget(self.next_rejected_button)
        actions.addStretch(1)
        actions.addWidget(self.count_label)
        actions.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.filter_problem)
        layout.addWidget(self.attention_label)
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
            attention=self._attention,
        )

    def show_attention(self, rule: str, title: str) -> int:
        """Only the records of one attention item (a click on the strip); returns how many."""
        self._attention = ""
        self.clear_filters()
        self._attention = rule
        self.attention_label.setText(f"Showing the records of “{title}” as of today. "
                                     "<i>Clear filters</i> shows every record again.")
        self.attention_label.setVisible(True)
        return self.search()

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
        self._attention = ""
        self.attention_label.setVisible(False)
        for widget in (self.name_edit, self.id_edit, self.activity_edit, self.board_combo, self.status_combo,
                       self.date_from, self.date_to):
            widget.blockSignals(False)
        self.search()

    def search(self) -> int:
        """Run the filters now (typing waits a moment first); returns the number of matches."""
        self._timer.stop()
        filters = self.filters()
        problem = filter_problem(filters)
        self.filter_problem.setText(problem or "")
        self.filter_problem.setVisible(problem is not None)
        # filters that cannot be run match nothing until they are fixed; the label says why
        self.model.set_filters(None if problem else filters)
        self._update_buttons()
        self.searched.emit(self.model.total)
        return self.model.total

    def _show_count(self, total: int) -> None:
        shown = self.model.rowCount()
        more = f" (showing the first {shown}; scroll for more)" if shown < total else ""
        self.count_label.setText(f"{plural(total, 'matching record')}{more}")

    # --- records ------------------------------------------------------------------------------

    def _add_menu_actions(self, menu: QMenu, record: LearnerRecordView) -> None:
        activity_row_id = record.activity_row_id
        menu.addAction("Show activity's learners", lambda: self.ctx.open_activity_requested.emit(activity_row_id))

    # --- export -------------------------------------------------------------------------------

    def suggested_file_name(self) -> str | None:
        if self.model.total == 0:
            return None
        return f"learners {date.today().isoformat()}.xlsx"
