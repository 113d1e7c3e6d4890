"""The Activities tab: every activity with its boards and learner counts, and the ways to add one.

The table is a QAbstractTableModel of plain `ActivityOverview` values behind a QSortFilterProxyModel.
Learner counts follow sync progress: record changes are coalesced and only the counts are re-read
(one grouped query), updating the rows whose numbers moved.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.models.store import error_text
from app.pars.values import format_pars_date
from app.services.activities_view import ActivityOverview, activity_overview, activity_row_id, learner_counts
from app.ui.activity_status_bar import StatusBarDelegate
from app.ui.context import AppContext
from app.wording import plural

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ID_ROLE = Qt.ItemDataRole.UserRole + 2
COUNTS_ROLE = Qt.ItemDataRole.UserRole + 3  # {status: n}, for the stacked status bar
MARKER_ROLE = Qt.ItemDataRole.UserRole + 4  # (records overdue, records due soon) from the attention list

COLUMNS = ("Activity ID", "Title", "Type", "Start", "End", "CME credits", "Boards", "Learners")
COL_ID, COL_TITLE, COL_TYPE, COL_START, COL_END, COL_CME, COL_BOARDS, COL_LEARNERS = range(len(COLUMNS))

NOT_REGISTERED = "not registered yet"
CHANGES_TO_SEND = "changes to send"
# the order counts are listed in: what went well, what is moving, what needs attention, the rest
_COUNT_ORDER = ("Accepted", "Submitted", "Uploaded by file", "Rejected", "Queued", "Draft", "Delete Queued",
                "Delete uploaded by file", "Delete Submitted", "Deleted")


def format_amount(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def format_boards(boards: tuple[tuple[str, Decimal], ...]) -> str:
    return " · ".join(f"{code} {format_amount(points)}" for code, points in boards)


def format_counts(counts: dict[str, int]) -> str:
    ordered = [s for s in _COUNT_ORDER if counts.get(s)] + sorted(s for s in counts if s not in _COUNT_ORDER and counts[s])
    return " · ".join(f"{counts[s]} {s.lower()}" for s in ordered)


class ActivityTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ActivityOverview] = []
        self._markers: dict[int, tuple[int, int]] = {}  # activity row id -> (overdue, due soon)

    # --- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == ROW_ID_ROLE:
            return row.row_id
        if role == COUNTS_ROLE:
            return row.counts
        if role == MARKER_ROLE:
            return self._markers.get(row.row_id, (0, 0))
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_ID and row.accme_id is None:
                if row.registration_error:
                    return f"Not registered with PARS: {row.registration_error}"
                return "Not registered with PARS yet: the next sync registers it, then sends its learners."
            if column == COL_ID and row.pars_outdated:
                note = row.registration_error or "the next sync sends them to PARS (SaveActivity)"
                return f"Edited here since PARS last saw it: {note}"
            if column == COL_TITLE:
                return row.title
            if column == COL_LEARNERS and row.counts:
                lines = [f"{status}: {n}" for status, n in sorted(row.counts.items())]
                overdue, due = self._markers.get(row.row_id, (0, 0))
                if overdue or due:
                    lines.append(f"Deadlines: {overdue} overdue, {due} due soon (see the attention strip)")
                return "\n".join(lines)
        if role == Qt.ItemDataRole.FontRole and column == COL_ID and row.accme_id is None:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_ID and row.accme_id is None:
                return QBrush(QColor("#777777"))
            if column == COL_LEARNERS and row.counts.get("Rejected"):
                return QBrush(QColor("#b3261e"))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_CME,):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: ActivityOverview, column: int) -> str:
        if column == COL_ID:
            if row.accme_id and row.pars_outdated:
                return f"{row.accme_id} · {CHANGES_TO_SEND}"
            return row.accme_id or NOT_REGISTERED
        if column == COL_TITLE:
            return row.title
        if column == COL_TYPE:
            return row.activity_type
        if column == COL_START:
            return format_pars_date(row.start_date)  # PARS's MM-DD-YYYY, as in the learner tables
        if column == COL_END:
            return format_pars_date(row.end_date)
        if column == COL_CME:
            return format_amount(row.cme_credits)
        if column == COL_BOARDS:
            return format_boards(row.boards)
        if column == COL_LEARNERS:
            return format_counts(row.counts) or "none yet"
        return ""

    @staticmethod
    def _sort_key(row: ActivityOverview, column: int) -> Any:
        if column == COL_ID:
            return row.accme_id or ""
        if column == COL_START:
            return row.start_date.toordinal()
        if column == COL_END:
            return row.end_date.toordinal()
        if column == COL_CME:
            return float(row.cme_credits or 0)
        if column == COL_LEARNERS:
            return row.learner_total
        return ActivityTableModel._display(row, column).casefold()

    # --- updates ---------------------------------------------------------------------------------
    def row_for_id(self, row_id: int) -> int:
        for i, row in enumerate(self._rows):
            if row.row_id == row_id:
                return i
        return -1

    def overview(self, row: int) -> ActivityOverview:
        return self._rows[row]

    def set_rows(self, rows: list[ActivityOverview]) -> None:
        """Merge a fresh list: changed rows are updated, gone rows removed, new rows inserted."""
        fresh = {r.row_id: r for r in rows}
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].row_id not in fresh:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        known = set()
        for i, old in enumerate(self._rows):
            known.add(old.row_id)
            new = fresh[old.row_id]
            if new != old:
                self._rows[i] = new
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        added = [r for r in rows if r.row_id not in known]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()

    def set_markers(self, markers: dict[int, tuple[int, int]]) -> None:
        changed = {row_id for row_id in set(markers) | set(self._markers) if markers.get(row_id) != self._markers.get(row_id)}
        self._markers = dict(markers)
        for i, row in enumerate(self._rows):
            if row.row_id in changed:
                self.dataChanged.emit(self.index(i, COL_LEARNERS), self.index(i, COL_LEARNERS))

    def set_counts(self, counts: dict[int, dict[str, int]]) -> None:
        for i, row in enumerate(self._rows):
            new = counts.get(row.row_id, {})
            if new != row.counts:
                self._rows[i] = _with_counts(row, new)
                self.dataChanged.emit(self.index(i, COL_LEARNERS), self.index(i, COL_LEARNERS))


def _with_counts(row: ActivityOverview, counts: dict[str, int]) -> ActivityOverview:
    return ActivityOverview(
        row_id=row.row_id,
        accme_id=row.accme_id,
        title=row.title,
        activity_type=row.activity_type,
        start_date=row.start_date,
        end_date=row.end_date,
        cme_credits=row.cme_credits,
        boards=row.boards,
        counts=dict(counts),
        registration_error=row.registration_error,
    )


class _FetchSignals(QObject):
    fetched = Signal(object, object)  # the task, the Activity
    failed = Signal(object, str)  # the task, one sentence


class _FetchActivity(QRunnable):
    """Asks PARS for one activity off the GUI thread; hands back a plain Activity value."""

    def __init__(self, make_client: Any, activity_id: str) -> None:
        super().__init__()
        self.signals = _FetchSignals()
        self._make_client = make_client
        self._activity_id = activity_id

    def run(self) -> None:
        try:
            client = self._make_client()
            try:
                activity = client.get_activity(self._activity_id)
            finally:
                close = getattr(client, "close", None)
                if callable(close):
                    close()
        except Exception as exc:  # noqa: BLE001 - any failure becomes one sentence for the user
            self.signals.failed.emit(self, f"Could not fetch activity {self._activity_id} from PARS: {error_text(exc)}")
            return
        self.signals.fetched.emit(self, activity)


class ActivitiesTab(QWidget):
    fetch_finished = Signal(bool, str)  # ok, message (for the status bar and tests)
    counts_refreshed = Signal()  # fresh learner counts are in the table (refresh_counts)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = ActivityTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self._fetches: list[_FetchActivity] = []  # keep the signal carriers alive until they report

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("activitiesFilter")
        self.filter_edit.setPlaceholderText("Filter activities by ID, title, type, board…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)

        self.table = QTableView(self)
        self.table.setObjectName("activitiesTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_START, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # long titles and counts are elided; the tooltip has them in full
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in ((COL_ID, 120), (COL_TITLE, 330), (COL_TYPE, 130), (COL_START, 90), (COL_END, 90),
                              (COL_CME, 85), (COL_BOARDS, 150)):
            header.resizeSection(column, width)
        self.table.doubleClicked.connect(self._view_learners_at)
        self.status_delegate = StatusBarDelegate(self.table, COUNTS_ROLE, MARKER_ROLE)  # a stacked bar, deadline markers
        self.table.setItemDelegateForColumn(COL_LEARNERS, self.status_delegate)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.new_button = QPushButton("New activity…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.import_button = QPushButton("Import JSON…", self)
        self.fetch_button = QPushButton("Fetch from PARS…", self)
        self.view_button = QPushButton("View learners", self)
        self.new_button.clicked.connect(self.new_activity)
        self.edit_button.clicked.connect(self.edit_selected)
        self.import_button.clicked.connect(self.import_json)
        self.fetch_button.clicked.connect(self.fetch_from_pars)
        self.view_button.clicked.connect(self.view_learners)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("activitiesCount")

        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.count_label)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.import_button, self.fetch_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.view_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        # many record changes in a burst (a sync) become one count refresh
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(250)
        self._counts_timer.timeout.connect(self.refresh_counts)
        ctx.activities_changed.connect(self.reload)
        ctx.store_changed.connect(self.reload)  # another process: new activities, new counts
        ctx.records_changed.connect(self._records_changed)
        ctx.upload_finished.connect(self._upload_finished)
        self.proxy.rowsInserted.connect(self._update_count_label)
        self.proxy.rowsRemoved.connect(self._update_count_label)
        self.proxy.modelReset.connect(self._update_count_label)
        self.proxy.layoutChanged.connect(self._update_count_label)
        self.reload()
        self._update_buttons()

    # --- data ------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Every activity with its learner counts. After the first time, the activities are re-read at
        once and the counts in the background (a pass over every record): until they arrive, an
        activity keeps the counts it showed."""
        if self.model.rowCount() == 0:
            self.model.set_rows(self.ctx.read(activity_overview))
        else:
            shown = {self.model.overview(r).row_id: self.model.overview(r).counts for r in range(self.model.rowCount())}
            rows = self.ctx.read(activity_overview, with_counts=False)
            self.model.set_rows([_with_counts(row, shown.get(row.row_id, {})) for row in rows])
            self.refresh_counts()
        self._update_count_label()
        self._update_buttons()

    def refresh_counts(self) -> None:
        """Re-read the learner counts in the background (one GROUP BY over every record: long on a
        large store); the rows whose numbers moved update when it arrives, then `counts_refreshed`."""
        self.ctx.read_later("activity-counts", learner_counts, on_result=self._counts_read)

    def _counts_read(self, counts: dict[int, dict[str, int]]) -> None:
        self.model.set_counts(counts)
        self.counts_refreshed.emit()

    def set_attention_markers(self, markers: dict[int, tuple[int, int]]) -> None:
        self.model.set_markers(markers)

    def model_counts(self) -> dict[str, int]:
        """Learner records by status over all activities, as the table currently shows them."""
        totals: dict[str, int] = {}
        for row in range(self.model.rowCount()):
            for status, number in self.model.overview(row).counts.items():
                totals[status] = totals.get(status, 0) + number
        return totals

    def _records_changed(self, _ids: list[int]) -> None:
        # at most one count refresh per interval, also while a sync keeps reporting changes
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _upload_finished(self, _upload_id: int) -> None:
        self._records_changed([])

    def _update_count_label(self, *_args: Any) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(plural(total, "activity") if shown == total else f"{shown:,} of {plural(total, 'activity')}")

    # --- selection -------------------------------------------------------------------------------
    def current_activity_id(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid():
            rows = self.table.selectionModel().selectedRows()
            if not rows:
                return None
            index = rows[0]
        return int(self.proxy.data(index, ROW_ID_ROLE))

    def select_activity(self, row_id: int) -> bool:
        source_row = self.model.row_for_id(row_id)
        if source_row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
        return True

    def _update_buttons(self, *_args: Any) -> None:
        has = self.current_activity_id() is not None
        self.edit_button.setEnabled(has)
        self.view_button.setEnabled(has)

    # --- actions ---------------------------------------------------------------------------------
    def view_learners(self) -> None:
        row_id = self.current_activity_id()
        if row_id is not None:
            self.ctx.open_activity_requested.emit(row_id)

    def _view_learners_at(self, index: QModelIndex) -> None:
        self.ctx.open_activity_requested.emit(int(self.proxy.data(index, ROW_ID_ROLE)))

    def new_activity(self) -> int | None:
        from app.ui.activity_dialog import ActivityDialog

        dialog = ActivityDialog(self.ctx, self)
        if dialog.exec() and dialog.saved_row_id is not None:
            self.select_activity(dialog.saved_row_id)
            return dialog.saved_row_id
        return None

    def edit_selected(self) -> None:
        from app.ui.activity_dialog import ActivityDialog

        row_id = self.current_activity_id()
        if row_id is None:
            return
        dialog = ActivityDialog(self.ctx, self, activity_row_id=row_id)
        if dialog.exec():
            self.select_activity(row_id)

    def import_json(self, path: str | None = None) -> int:
        """Import activities from a JSON file (asks for it when no path is given); returns how many."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import activities", "", "Activities JSON (*.json);;All files (*)")
            if not path:
                return 0
        try:
            count = self.import_json_file(Path(path))
        except Exception as exc:  # noqa: BLE001 - a bad file is the user's to fix; say what is wrong
            QMessageBox.warning(self, "Import activities", f"Could not import {Path(path).name}:\n{error_text(exc)}")
            return 0
        QMessageBox.information(self, "Import activities", f"Imported {plural(count, 'activity')} from {Path(path).name}.")
        return count

    def import_json_file(self, path: Path) -> int:
        from app.pars.activities_json import read_activities
        from app.services.activities import import_activities

        activities = read_activities(path)
        result = self.ctx.write(import_activities, activities)
        self.ctx.activities_changed.emit()
        return result.total

    def fetch_from_pars(self, activity_id: str | None = None) -> None:
        if activity_id is None:
            activity_id, ok = QInputDialog.getText(self, "Fetch from PARS", "ACCME activity ID (9 digits):")
            if not ok:
                return
        activity_id = activity_id.strip()
        if not (activity_id.isdigit() and len(activity_id) == 9):
            QMessageBox.warning(self, "Fetch from PARS", f"{activity_id!r} is not a 9-digit ACCME activity ID.")
            return
        task = _FetchActivity(self.ctx.client_factory, activity_id)
        task.setAutoDelete(False)
        # bound methods: Qt drops the connections if this tab goes away before PARS answers
        task.signals.fetched.connect(self._fetched)
        task.signals.failed.connect(self._fetch_failed)
        self._fetches.append(task)
        self.fetch_button.setEnabled(False)
        self.fetch_button.setText("Fetching…")
        QThreadPool.globalInstance().start(task)

    def _fetch_done(self, task: _FetchActivity) -> None:
        if task in self._fetches:
            self._fetches.remove(task)
        if not self._fetches:
            self.fetch_button.setEnabled(True)
            self.fetch_button.setText("Fetch from PARS…")

    def _fetched(self, task: _FetchActivity, activity: Any) -> None:
        self._fetch_done(task)
        from app.services.activities import import_activities

        try:
            self.ctx.write(import_activities, [activity])
        except Exception as exc:  # noqa: BLE001
            self._fetch_failed(task, f"Could not store activity {activity.activity_id}: {error_text(exc)}")
            return
        self.ctx.activities_changed.emit()
        row_id = self.ctx.read(activity_row_id, activity.activity_id)
        if row_id is not None:
            self.select_activity(row_id)
        self.fetch_finished.emit(True, f"Fetched activity {activity.activity_id}: {activity.title}")

    def _fetch_failed(self, task: _FetchActivity, message: str) -> None:
        self._fetch_done(task)
        self.fetch_finished.emit(False, message)
        if self.isVisible():
            QMessageBox.warning(self, "Fetch from PARS", message)
