"""The table model both learner tabs show: one row per learner record, fetched page by page.

SQLite does the filtering and sorting (services.learners); the model keeps only the rows fetched so
far as frozen `LearnerRecordView`s and asks for the next page when the view scrolls near the end
(`canFetchMore`/`fetchMore`). A status change re-reads just the changed ids and emits `dataChanged`
for their rows; a reset happens only for a new activity, a new filter or a new sort order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import QApplication, QStyle, QWidget

from app.pars import catalog
from app.pars.domain import Status
from app.pars.values import format_amount, format_pars_date
from app.services import learners
from app.services.learners import LearnerRecordView, SearchFilters, SortKey
from app.ui import icons

Index = QModelIndex | QPersistentModelIndex

COL_CHECK = "check"
COL_NAME = "name"
COL_ACTIVITY = "activity"
COL_LICENSE = "license"
COL_BOARD_IDS = "board_ids"
COL_DATE = "date"
COL_CME = "cme"
COL_POINTS = "points"
COL_STATUS = "status"

HEADERS: dict[str, str] = {
    COL_CHECK: "",
    COL_NAME: "Learner",
    COL_ACTIVITY: "Activity",
    COL_LICENSE: "License / NPI",
    COL_BOARD_IDS: "Board IDs",
    COL_DATE: "Completed",
    COL_CME: "CME credits",
    COL_POINTS: "Board points",
    COL_STATUS: "Status",
}
SORT_KEYS: dict[str, str] = {
    COL_NAME: SortKey.NAME,
    COL_LICENSE: SortKey.LICENSE,
    COL_DATE: SortKey.DATE,
    COL_CME: SortKey.CME,
    COL_STATUS: SortKey.STATUS,
}
SUMMARY_COLUMNS = (COL_CHECK, COL_NAME, COL_LICENSE, COL_BOARD_IDS, COL_DATE, COL_CME, COL_POINTS, COL_STATUS)
SEARCH_COLUMNS = (COL_CHECK, COL_NAME, COL_ACTIVITY, COL_LICENSE, COL_BOARD_IDS, COL_DATE, COL_CME, COL_POINTS, COL_STATUS)

# The id of the record in each row, for views and tests.
RecordIdRole = Qt.ItemDataRole.UserRole + 1

_STANDARD_ICONS: dict[str, QStyle.StandardPixmap] = {
    Status.DRAFT.value: QStyle.StandardPixmap.SP_FileIcon,
    Status.QUEUED.value: QStyle.StandardPixmap.SP_BrowserReload,
    Status.SUBMITTED.value: QStyle.StandardPixmap.SP_ArrowUp,
    Status.ACCEPTED.value: QStyle.StandardPixmap.SP_DialogApplyButton,
    Status.REJECTED.value: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Status.DELETE_QUEUED.value: QStyle.StandardPixmap.SP_TrashIcon,
    Status.DELETE_SUBMITTED.value: QStyle.StandardPixmap.SP_TrashIcon,
    Status.UPLOADED.value: QStyle.StandardPixmap.SP_DriveNetIcon,
    Status.DELETE_UPLOADED.value: QStyle.StandardPixmap.SP_TrashIcon,
    Status.DELETED.value: QStyle.StandardPixmap.SP_DialogDiscardButton,
}


@lru_cache(maxsize=None)
def status_icon(status: str) -> QIcon:
    """The status's icon from resources/icons, or the style's nearest standard icon."""
    drawn = icons.status_icon(status)
    if drawn.isNull():
        style = QApplication.style()
        pixmap = _STANDARD_ICONS.get(status)
        drawn = style.standardIcon(pixmap) if style is not None and pixmap is not None else QIcon()
    drawn.pixmap(16)  # read the file now, once, not in the first paint that shows this status
    return drawn


# Roles as plain ints: data() runs for every painted cell and role, so it compares ints only.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_CHECK_STATE = int(Qt.ItemDataRole.CheckStateRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@lru_cache(maxsize=None)
def _brush(color: str) -> QBrush:
    return QBrush(QColor(color))


class _Look(NamedTuple):
    """How one row is painted, worked out once per loaded record (not per cell and role)."""

    display: tuple[str | None, ...]
    foreground: tuple[QBrush | None, ...]
    alignment: tuple[int | None, ...]
    icon: QIcon


def rejection_text(record: LearnerRecordView) -> str:
    """'665 — Diplomate name does not match Board record' plus what to do about it."""
    if record.status_code:
        head = f"{record.status_code} — {record.status_message or catalog.error(record.status_code).message}"
        fix = catalog.error(record.status_code).fix
    else:
        head = record.status_message or "Rejected"
        fix = ""
    who = {"board": "the certifying board", "PARS": "PARS"}.get(record.status_source or "", "")
    lines = [head]
    if who:
        lines.append(f"Rejected by {who}.")
    if fix:
        lines.append(f"Fix: {fix}")
    return "\n".join(lines)


def status_tooltip(record: LearnerRecordView) -> str:
    if record.is_rejected:
        text = rejection_text(record)
        if record.replaced_by_id is not None:
            text += "\nAlready resubmitted as a corrected record."
        else:
            text += "\nDouble-click to correct and resubmit."
        return text
    parts = [record.status]
    if record.status_message:
        parts.append(record.status_message)
    parts.append(f"Last change {record.updated_at:%m-%d-%Y %H:%M} UTC")
    return "\n".join(parts)


_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_CHECK_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemIsUserCheckable


def off_screen_tab(widget: QWidget) -> bool:
    """True for a tab the user cannot see in a window that is on screen (another tab is current).
    A widget never shown on its own (tests, dialogs being built) counts as on screen."""
    window = widget.window()
    return window is not widget and window.isVisible() and not widget.isVisible()


class ChangeBacklog:
    """Record changes a view puts off while it is not on screen, applied in one go when shown: a
    hidden tab then costs nothing while a sync reports thousands of records."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._reload = False

    def add(self, ids: list[int]) -> None:
        """These ids changed; an empty list means "many; reload" (as ctx.records_changed says)."""
        if ids:
            self._ids.update(ids)
        else:
            self._reload = True

    def __bool__(self) -> bool:
        return self._reload or bool(self._ids)

    def apply(self, model: LearnerRecordModel, reload_rows: Callable[[], None] | None = None) -> None:
        """Bring `model` up to date; a full re-read goes through `reload_rows` when given (a tab that
        keeps its selection across it), else `model.reload()`."""
        ids, reload = self._ids, self._reload
        self._ids, self._reload = set(), False
        if model.filters is None:
            return
        if reload:
            (reload_rows or model.reload)()
        elif ids:
            model.update_rows(ids)


def _runs(rows: list[int]) -> Iterable[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of consecutive rows."""
    first: int | None = None
    last: int | None = None
    for row in rows:
        if last is not None and row == last + 1:
            last = row
            continue
        if first is not None and last is not None:
            yield first, last
        first = last = row
    if first is not None and last is not None:
        yield first, last


class Reader(Protocol):
    """Runs a read-only service in a unit of work and returns its plain result (`AppContext.read`)."""

    def __call__(self, use_case: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class LearnerRecordModel(QAbstractTableModel):
    """Learner records matching `filters`, loaded a page at a time, with a check box per row.
    Reads go through `read` (the context's `AppContext.read`); the model never opens a Session."""

    checked_changed = Signal()
    total_changed = Signal(int)

    def __init__(
        self,
        read: Reader,
        columns: tuple[str, ...] = SUMMARY_COLUMNS,
        *,
        page_size: int = 200,
        parent: Any = None,
        read_later: Any = None,
    ) -> None:
        super().__init__(parent)
        self._read = read
        # `AppContext.read_later`, when given: the match count after record changes (a count over
        # every match, long on a large store) is then taken in the background
        self._read_later = read_later
        self._generation = 0  # bumped by every reload: a recount asked before it is stale
        self._recount_generation = -1
        self._columns = columns
        self._page_size = page_size
        self._filters: SearchFilters | None = None  # None: shows nothing (no activity chosen)
        self._sort = SortKey.NAME
        self._descending = False
        self._rows: list[LearnerRecordView] = []
        self._row_of: dict[int, int] = {}
        self._checked: set[int] = set()
        self._total = 0
        self._looks: dict[int, _Look] = {}  # by completion id; dropped whenever its row is re-read
        self._check_column = columns.index(COL_CHECK) if COL_CHECK in columns else -1
        self._status_column = columns.index(COL_STATUS) if COL_STATUS in columns else -1

    # --- queries ------------------------------------------------------------------------------

    @property
    def filters(self) -> SearchFilters | None:
        return self._filters

    @property
    def total(self) -> int:
        """How many records match (fetched or not)."""
        return self._total

    def set_filters(self, filters: SearchFilters | None) -> None:
        self._filters = filters
        self.reload()

    def reload(self) -> None:
        """Re-run the query from the first page (new filter, new sort, or 'many records changed')."""
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._row_of = {}
        self._looks = {}
        if self._filters is None:
            self._total = 0
        else:
            self._total, page = self._read(
                learners.first_page, self._filters, limit=self._page_size,
                sort=self._sort, descending=self._descending,
            )
            self._append(page)
        kept = set(self._row_of)
        self._checked &= kept
        self.endResetModel()
        self.total_changed.emit(self._total)
        self.checked_changed.emit()

    def _append(self, views: Iterable[LearnerRecordView]) -> None:
        for view in views:
            self._row_of[view.completion_id] = len(self._rows)
            self._rows.append(view)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and self._filters is not None and len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        page = self._read(
            learners.search_records, self._filters or SearchFilters(), limit=self._page_size,
            offset=len(self._rows), sort=self._sort, descending=self._descending,
        )
        page = [view for view in page if view.completion_id not in self._row_of]
        if not page:
            self._total = len(self._rows)  # records vanished under us; stop asking
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
        self._append(page)
        self.endInsertRows()

    def fetch_all(self) -> None:
        """Load every remaining row in one query (e.g. before ticking all of them)."""
        if not self.canFetchMore():
            return
        rest = self._read(
            learners.search_records, self._filters or SearchFilters(), limit=None, offset=len(self._rows),
            sort=self._sort, descending=self._descending,
        )
        rest = [view for view in rest if view.completion_id not in self._row_of]
        if rest:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rest) - 1)
            self._append(rest)
            self.endInsertRows()
        self._total = len(self._rows)

    def update_rows(self, ids: Iterable[int]) -> None:
        """Re-read these records: changed rows emit dataChanged, new matches are appended, rows that
        no longer match (e.g. deleted) are removed. Never resets the model.

        Only rows already loaded are re-read (one query per 500 ids): a sync reports thousands of
        records and most are in pages not fetched yet, which show their fresh state when fetched.
        Ids that are not loaded can only matter as new matches: while every match is loaded they
        are looked up (and appended); otherwise one count keeps `total` right and a later
        fetchMore brings them."""
        if self._filters is None:
            return
        wanted = tuple(dict.fromkeys(ids))
        loaded = tuple(i for i in wanted if i in self._row_of)
        outside = tuple(i for i in wanted if i not in self._row_of)
        if not loaded and not outside:
            return
        all_loaded = len(self._rows) >= self._total
        lookup = loaded + outside if all_loaded else loaded
        recount = bool(outside) and not all_loaded
        recount_later = recount and self._read_later is not None
        if lookup or (recount and not recount_later):
            refreshed = self._read(
                learners.refresh_records, self._filters, lookup,
                shown=self._row_of, recount=recount and not recount_later,
            )
        else:  # none of them is loaded: only the count can move, and that is read in the background
            refreshed = learners.RefreshedRecords({})
        if recount_later:
            self._recount_generation = self._generation
            self._read_later(f"recount-{id(self)}", learners.count_records, self._filters,
                             on_result=self._recounted)
        fresh, recounted = refreshed.views, refreshed.total
        gone = sorted((self._row_of[i] for i in loaded if i not in fresh), reverse=True)
        for row in gone:
            self.beginRemoveRows(QModelIndex(), row, row)
            removed = self._rows.pop(row)
            self._checked.discard(removed.completion_id)
            self._looks.pop(removed.completion_id, None)
            self.endRemoveRows()
            self._total -= 1
        if gone:
            self._row_of = {view.completion_id: n for n, view in enumerate(self._rows)}
        new = []
        changed_rows = []
        for completion_id, view in fresh.items():
            row = self._row_of.get(completion_id)
            if row is None:
                new.append(view)
                continue
            self._rows[row] = view
            self._looks.pop(completion_id, None)
            changed_rows.append(row)
        # one dataChanged per run of neighbouring rows, not one per row
        for first, last in _runs(sorted(changed_rows)):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self._columns) - 1))
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._append(new)
            self.endInsertRows()
            self._total += len(new)
        total_moved = recounted is not None and recounted != self._total
        if recounted is not None:
            self._total = max(recounted, len(self._rows))
        if gone or new or total_moved:
            self.total_changed.emit(self._total)
            self.checked_changed.emit()

    def _recounted(self, total: int) -> None:
        """The background recount of update_rows arrived: `total` follows it unless a reload came since."""
        if self._recount_generation != self._generation or self._filters is None:
            return
        total = max(total, len(self._rows))
        if total != self._total:
            self._total = total
            self.total_changed.emit(total)
            self.checked_changed.emit()

    # --- rows ---------------------------------------------------------------------------------

    def record(self, row: int) -> LearnerRecordView:
        return self._rows[row]

    def records(self) -> list[LearnerRecordView]:
        """The rows fetched so far."""
        return list(self._rows)

    def row_of(self, completion_id: int) -> int | None:
        return self._row_of.get(completion_id)

    def column_of(self, name: str) -> int:
        return self._columns.index(name)

    def checked_ids(self) -> list[int]:
        """Checked record ids in row order."""
        return [v.completion_id for v in self._rows if v.completion_id in self._checked]

    def set_checked(self, completion_id: int, checked: bool) -> None:
        row = self._row_of.get(completion_id)
        if row is None:
            return
        (self._checked.add if checked else self._checked.discard)(completion_id)
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checked_changed.emit()

    def set_all_checked(self, checked: bool) -> None:
        self._checked = {v.completion_id for v in self._rows} if checked else set()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, 0), [Qt.ItemDataRole.CheckStateRole]
            )
        self.checked_changed.emit()

    # --- Qt model interface -------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == COL_CHECK:
            return "Tick records to delete or act on several at once"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _CHECK_FLAGS if index.column() == self._check_column else _ROW_FLAGS

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole:
            return False
        if self._columns[index.column()] != COL_CHECK:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        self.set_checked(self._rows[index.row()].completion_id, checked)
        return True

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        row, column = index.row(), index.column()
        if not 0 <= row < len(self._rows) or column < 0:
            return None
        record = self._rows[row]
        if role == RecordIdRole:
            return record.completion_id
        if column == self._check_column:
            if role == _CHECK_STATE:
                return Qt.CheckState.Checked if record.completion_id in self._checked else Qt.CheckState.Unchecked
            return None
        look = self._looks.get(record.completion_id)
        if look is None:
            look = self._looks[record.completion_id] = self._look(record)
        if role == _DISPLAY:
            return look.display[column]
        if role == _FOREGROUND:
            return look.foreground[column]
        if role == _ALIGNMENT:
            return look.alignment[column]
        if role == _DECORATION:
            return look.icon if column == self._status_column else None
        if role == _TOOLTIP:
            return self._tooltip(record, self._columns[column])
        return None

    def _look(self, record: LearnerRecordView) -> _Look:
        deleted = _brush("#888888") if record.status == Status.DELETED.value else None
        foreground: list[QBrush | None] = []
        for column in self._columns:
            if column == COL_CHECK:
                foreground.append(None)
            elif column == COL_STATUS and record.is_rejected and record.replaced_by_id is None:
                foreground.append(_brush("#b3261e"))
            else:
                foreground.append(deleted)
        return _Look(
            display=tuple(None if c == COL_CHECK else self._display(record, c) for c in self._columns),
            foreground=tuple(foreground),
            alignment=tuple(_RIGHT if c in (COL_CME, COL_DATE) else None for c in self._columns),
            icon=status_icon(record.status),
        )

    @staticmethod
    def _tooltip(record: LearnerRecordView, column: str) -> str | None:
        """Only asked when the pointer rests on a cell, so worked out then."""
        if column == COL_STATUS:
            return status_tooltip(record)
        if column == COL_POINTS and record.credit_type_details:
            return record.credit_type_details
        if column == COL_ACTIVITY:
            return f"{record.activity_title} ({record.activity_accme_id or 'not registered'})"
        return None

    def _display(self, record: LearnerRecordView, column: str) -> str:
        if column == COL_NAME:
            return record.learner_name
        if column == COL_ACTIVITY:
            return record.activity_title
        if column == COL_LICENSE:
            if record.license_id and record.licensing_state:
                return f"{record.licensing_state} {record.license_id}"
            return record.license_id or ""
        if column == COL_BOARD_IDS:
            return record.board_ids
        if column == COL_DATE:
            return format_pars_date(record.completion_date)
        if column == COL_CME:
            return format_amount(record.cme_credits) if record.cme_credits is not None else ""
        if column == COL_POINTS:
            return record.board_points
        if column == COL_STATUS:
            if record.is_rejected and record.status_code:
                suffix = " (resubmitted)" if record.replaced_by_id is not None else ""
                return f"Rejected {record.status_code}{suffix}"
            if record.is_rejected and record.replaced_by_id is not None:
                return "Rejected (resubmitted)"
            return record.status
        return ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = SORT_KEYS.get(self._columns[column]) if 0 <= column < len(self._columns) else None
        if key is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) == (self._sort, self._descending):
            return
        self._sort, self._descending = key, descending
        if self._filters is not None:
            self.reload()

    def set_sort(self, key: str, descending: bool) -> None:
        """The initial order, without querying (set before the first set_filters)."""
        self._sort, self._descending = key, descending
