"""The learner entry dialog (Ctrl+N): one completion for CME, MOC boards and/or REMS.

As the coordinator types, the record is judged by the same `app.pars.validation` the batch importer
and the sandbox use (debounced, ~150 ms after the last keystroke) and each problem is shown next to
its field with its PARS code ("675 — ABIM points 1.3 are not in steps of 0.25"), plus a summary.
A learner match (PARS's GetLearnerMatch when it can be reached, else the learners already in the
store) pre-fills the rest of a learner's identity once it is unambiguous.

Three modes: a new record; editing a Draft (never sent, changed in place); correcting a Rejected
record, which is queued as a new record with a new creditID linked to the rejected attempt.
Everything works offline: saving only queues; the sync sends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models.store import ConcurrentChangeError, StoreUnavailableError
from app.pars import catalog
from app.pars.catalog import LOCAL_CHECK
from app.pars.domain import (
    F_ACTIVITY_ID,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_COMPLETION_DATE,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_DOB,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    F_PERMISSION,
    F_REMS_PROFESSION,
    F_STATE,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    Issue,
    Learner,
    RemsPart,
    Status,
)
from app.pars.error_fields import fields_for_code
from app.pars.values import format_amount, format_pars_date, normalize_birth_date, parse_amount, parse_pars_date
from app.services import learners
from app.services.learners import ActivityOption, LearnerMatch, LearnerRecordView, SaveResult
from app.ui.context import AppContext
from app.wording import plural

log = logging.getLogger(__name__)

VALIDATE_DELAY_MS = 150
MATCH_DELAY_MS = 450
ERROR_COLOR = "#b3261e"
OK_COLOR = "#1b6e2d"

_STYLE = f"""
QLineEdit[error="true"], QComboBox[error="true"], QDoubleSpinBox[error="true"] {{
    border: 1px solid {ERROR_COLOR}; background: #fdecea;
}}
QLabel[role="fieldError"] {{ color: {ERROR_COLOR}; }}
QLabel[role="matchNote"] {{ color: #8a5300; }}
QLabel#rejectionBanner {{
    background: #fdecea; color: #5f1410; border: 1px solid #f1a7a0; border-radius: 4px; padding: 6px 8px;
}}
QLabel#modeBanner {{
    background: #eef3fb; color: #1d3557; border: 1px solid #b8cbe8; border-radius: 4px; padding: 6px 8px;
}}
"""


# identity fields of the form -> the Learner attribute holding them
_LEARNER_ATTRIBUTES = {
    F_FIRST_NAME: "first_name", F_LAST_NAME: "last_name", F_DOB: "birth_date", F_STATE: "licensing_state",
    F_LICENSE_ID: "license_id",
}


def today() -> date:
    """The date records are judged against (future dates, reporting deadlines): the one clock."""
    from app.pars import clock

    return clock.today()


def issue_text(issue: Issue) -> str:
    """'675 — ABIM points 1.3 ...'; ParsDesk's own checks carry no PARS code."""
    return issue.message if issue.code == LOCAL_CHECK else f"{issue.code} — {issue.message}"


def _set_error(widget: QWidget, on: bool) -> None:
    if bool(widget.property("error")) == on:
        return
    widget.setProperty("error", on)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _error_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setProperty("role", "fieldError")
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def _match_note_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setProperty("role", "matchNote")
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def _show_note(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def _comparable(field_name: str, value: str | None) -> str:
    text = " ".join((value or "").split())
    if field_name == F_DOB:
        text = normalize_birth_date(text) or text
    return text.casefold()


def difference_note(source: str, theirs: str | None, ours: str | None, field_name: str = "") -> str:
    """'PARS has 11/07 on file for this learner; this record sends 01/01.' when a learner match holds
    another value than the record (empty when either is blank or they agree). The record's value wins:
    it is what is sent."""
    if not theirs or not ours or _comparable(field_name, theirs) == _comparable(field_name, ours):
        return ""
    who = "PARS" if source == "PARS" else "Your learner list"
    return f"{who} has {theirs} on file for this learner; this record sends {ours}."


def _show_errors(label: QLabel, issues: list[Issue]) -> None:
    label.setText("\n".join(issue_text(i) for i in issues))
    label.setVisible(bool(issues))


# --- one certifying board -------------------------------------------------------------------------


class CreditTypeRow:
    """A credit type the activity is registered for: ticked to report it, with its amount."""

    def __init__(self, name: str, max_points: Decimal, parent: QWidget) -> None:
        self.name = name
        self.check = QCheckBox(name, parent)
        self.check.setChecked(True)
        self.amount = QDoubleSpinBox(parent)
        self.amount.setDecimals(2)
        self.amount.setSingleStep(0.25)
        self.amount.setRange(0.0, float(max(max_points, Decimal("0.25"))) * 4)
        self.amount.setToolTip(f"{name} points; follows the total until you change it (may be lower)")
        self.amount.setAccessibleName(f"{name} points")
        self.amount.setMaximumWidth(100)
        self.edited = False  # the user changed the amount: it no longer follows the total
        self._following = False
        self.amount.valueChanged.connect(self._value_changed)
        self.check.toggled.connect(self.amount.setEnabled)

    def _value_changed(self, _value: float) -> None:
        if not self._following:
            self.edited = True

    def follow(self, total: Decimal | None) -> None:
        if self.edited or total is None:
            return
        self._following = True
        self.amount.setValue(float(total))
        self._following = False

    def value(self) -> Decimal | None:
        """None while it follows the total (PARS's default), else the amount typed."""
        if not self.edited:
            return None
        return Decimal(str(round(self.amount.value(), 2)))

    def load(self, amount: Decimal | str | None, total: Decimal | None) -> None:
        self.check.setChecked(True)
        explicit = parse_amount(amount) if amount not in (None, "") else None
        if explicit is not None and (total is None or explicit != total):
            self._following = True
            self.amount.setValue(float(explicit))
            self._following = False
            self.edited = True
        else:
            self.edited = False
            self.follow(total)


class BoardEditor(QFrame):
    """One certifying board of the record: board, diplomate ID, total points, credit types."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, registrations: tuple[BoardRegistration, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("boardEditor")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._registrations = registrations
        self.type_rows: list[CreditTypeRow] = []
        # fields the user has edited or left: only their problems are shown until a save is tried
        self.touched: set[str] = set()

        self.board_combo = QComboBox(self)
        self.board_combo.setObjectName("boardCombo")
        self.board_combo.setAccessibleName("Certifying board")
        self.board_id = QLineEdit(self)
        self.board_id.setObjectName("boardId")
        self.board_id.setPlaceholderText("Diplomate ID")
        self.board_id.setAccessibleName("Certifying board ID")
        self.points = QLineEdit(self)
        self.points.setObjectName("boardPoints")
        self.points.setPlaceholderText("e.g. 8 or 2.25")
        self.points.setAccessibleName("Total board points")
        self.points.setMaximumWidth(110)
        self.remove_button = QToolButton(self)
        self.remove_button.setObjectName("removeBoard")
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Remove this board from the record")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))

        self.board_error = _error_label(self)
        self.id_error = _error_label(self)
        self.points_error = _error_label(self)
        self.types_error = _error_label(self)
        # what the learner match holds for this board's diplomate ID when the record says otherwise
        self.match_note = _match_note_label(self)
        self.max_label = QLabel(self)
        self.max_label.setStyleSheet("color: palette(mid);")

        self.types_box = QWidget(self)
        self.types_layout = QGridLayout(self.types_box)
        self.types_layout.setContentsMargins(0, 0, 0, 0)

        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.addWidget(QLabel("Board:", self), 0, 0)
        grid.addWidget(self.board_combo, 0, 1)
        grid.addWidget(QLabel("Board ID:", self), 0, 2)
        grid.addWidget(self.board_id, 0, 3)
        grid.addWidget(self.remove_button, 0, 4)
        grid.addWidget(self.board_error, 1, 1)
        id_notes = QVBoxLayout()
        id_notes.setContentsMargins(0, 0, 0, 0)
        id_notes.addWidget(self.id_error)
        id_notes.addWidget(self.match_note)
        grid.addLayout(id_notes, 1, 3)
        grid.addWidget(QLabel("Total points:", self), 2, 0)
        points_row = QHBoxLayout()
        points_row.addWidget(self.points)
        points_row.addWidget(self.max_label, 1)
        grid.addLayout(points_row, 2, 1, 1, 3)
        grid.addWidget(self.points_error, 3, 1, 1, 3)
        grid.addWidget(QLabel("Credit types:", self), 4, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.types_box, 4, 1, 1, 3)
        grid.addWidget(self.types_error, 5, 1, 1, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        self.set_registrations(registrations)
        self.board_combo.currentIndexChanged.connect(self._board_chosen)
        self.board_id.textChanged.connect(self.changed)
        self.points.textChanged.connect(self._points_changed)
        self.board_combo.activated.connect(lambda *_: self._touch(F_BOARD))
        for edit, field_name in ((self.board_id, F_BOARD_ID), (self.points, F_BOARD_POINTS)):
            edit.textEdited.connect(lambda *_, name=field_name: self._touch(name))
            edit.editingFinished.connect(lambda name=field_name: self._touch(name))

    def _touch(self, field_name: str) -> None:
        if field_name not in self.touched:
            self.touched.add(field_name)
            self.changed.emit()

    # the board's catalogue name makes the combo readable: "ABIM — American Board of Internal Medicine"
    def set_registrations(self, registrations: tuple[BoardRegistration, ...], keep: str | None = None) -> None:
        wanted = keep or self.board_code()
        self._registrations = registrations
        self.board_combo.blockSignals(True)
        self.board_combo.clear()
        for registration in registrations:
            info = catalog.board(registration.board)
            label = f"{registration.board} — {info.name}" if info else registration.board
            self.board_combo.addItem(label, registration.board)
        position = self.board_combo.findData(wanted) if wanted else -1
        self.board_combo.setCurrentIndex(position if position >= 0 else (0 if registrations else -1))
        self.board_combo.blockSignals(False)
        self._board_chosen()

    def board_code(self) -> str | None:
        data = self.board_combo.currentData()
        return str(data) if data else None

    def registration(self) -> BoardRegistration | None:
        code = self.board_code()
        return next((r for r in self._registrations if r.board == code), None)

    def _board_chosen(self, *_args: Any) -> None:
        for row in self.type_rows:
            row.check.deleteLater()
            row.amount.deleteLater()
        self.type_rows = []
        registration = self.registration()
        if registration is None:
            self.max_label.setText("")
            self.changed.emit()
            return
        self.max_label.setText(f"of {format_amount(registration.max_points)} the activity offers")
        total = parse_amount(self.points.text())
        for number, name in enumerate(registration.credit_types):
            row = CreditTypeRow(name, registration.max_points, self.types_box)
            row.follow(total)
            row.check.toggled.connect(self.changed)
            row.amount.valueChanged.connect(self.changed)
            row.check.clicked.connect(lambda *_: self._touch(F_CREDIT_TYPE))
            row.amount.editingFinished.connect(lambda: self._touch(F_CREDIT_TYPE))
            self.types_layout.addWidget(row.check, number, 0)
            self.types_layout.addWidget(row.amount, number, 1)
            self.type_rows.append(row)
        self.types_layout.setColumnStretch(2, 1)
        if not registration.credit_types:
            self.types_layout.addWidget(QLabel("none registered", self.types_box), 0, 0)
        self.changed.emit()

    def _points_changed(self, text: str) -> None:
        total = parse_amount(text)
        for row in self.type_rows:
            row.follow(total)
        self.changed.emit()

    def part(self) -> BoardPart:
        text = self.points.text().strip()
        amount = parse_amount(text)
        return BoardPart(
            board=self.board_code() or "",
            board_id=self.board_id.text().strip() or None,
            points=amount if amount is not None else (text or None),
            credit_types={row.name: row.value() for row in self.type_rows if row.check.isChecked()},
        )

    def load(self, part: BoardPart) -> None:
        position = self.board_combo.findData(part.board.upper())
        if position >= 0:
            self.board_combo.setCurrentIndex(position)
        self.board_id.setText(part.board_id or "")
        total = parse_amount(part.points)
        self.points.setText(format_amount(total) if total is not None else str(part.points or ""))
        if part.credit_types:
            for row in self.type_rows:
                if row.name in part.credit_types:
                    row.load(part.credit_types[row.name], total)
                else:
                    row.check.setChecked(False)

    def show_issues(self, issues: list[Issue], show_all: bool = False) -> None:
        by_field: dict[str, list[Issue]] = {}
        for issue in issues:
            field_name = F_CREDIT_TYPE if issue.field == F_CREDIT_TYPE_AMOUNT else issue.field
            if show_all or field_name in self.touched:
                by_field.setdefault(issue.field, []).append(issue)
        _show_errors(self.board_error, by_field.get(F_BOARD, []))
        _show_errors(self.id_error, by_field.get(F_BOARD_ID, []))
        _show_errors(self.points_error, by_field.get(F_BOARD_POINTS, []))
        _show_errors(self.types_error, by_field.get(F_CREDIT_TYPE, []) + by_field.get(F_CREDIT_TYPE_AMOUNT, []))
        _set_error(self.board_combo, F_BOARD in by_field)
        _set_error(self.board_id, F_BOARD_ID in by_field)
        _set_error(self.points, F_BOARD_POINTS in by_field)


# --- learner match off the GUI thread -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    kind: str  # unique | ambiguous | none | unavailable
    match: LearnerMatch | None
    source: str  # "PARS" or "stored learners"
    message: str = ""


class _MatchSignals(QObject):
    done = Signal(int, object)  # request number, MatchOutcome


class _OnlineMatch(QRunnable):
    """Asks PARS's GetLearnerMatch in a pool thread; reports 'unavailable' on any failure so the
    dialog falls back to the store's learners. Only plain values cross back to the GUI thread."""

    def __init__(self, ctx: AppContext, number: int, learner: Learner, board: str | None, board_id: str | None) -> None:
        super().__init__()
        self.signals = _MatchSignals()
        self._ctx = ctx
        self.number = number
        self._learner = learner
        self._board = board
        self._board_id = board_id

    def run(self) -> None:
        try:
            client = self._ctx.client_factory()
            try:
                result = client.learner_match(self._learner, board=self._board, board_id=self._board_id)
            finally:
                close = getattr(client, "close", None)
                if callable(close):
                    close()
        except Exception as exc:  # noqa: BLE001 - offline, no credentials, PARS down: all mean "ask locally"
            log.info("learner match via PARS unavailable (%s); using stored learners", type(exc).__name__)
            self.signals.done.emit(self.number, MatchOutcome("unavailable", None, "PARS", str(exc)))
            return
        match = None
        if result.kind == "unique" and result.learner is not None:
            match = LearnerMatch(result.learner, dict(result.board_ids or {}))
        self.signals.done.emit(self.number, MatchOutcome(str(result.kind), match, "PARS", result.message or ""))


# --- the dialog -----------------------------------------------------------------------------------


class LearnerDialog(QDialog):
    saved = Signal(int, str)  # completion id, status
    reported = Signal(str)  # what the save did, in one sentence (for the tab's note line)
    validated = Signal(list)  # the issues of the latest check
    match_finished = Signal(str)  # unique | ambiguous | none

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        activity_row_id: int | None = None,
        *,
        edit_id: int | None = None,
        resubmit_id: int | None = None,
        as_of: date | None = None,
        online_match: bool = True,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.as_of = as_of or today()
        self.edit_id = edit_id
        self.resubmit_id = resubmit_id
        self.online_match = online_match
        self.issues: list[Issue] = []
        self.last_result: SaveResult | None = None
        self.saved_ids: list[int] = []
        self.board_editors: list[BoardEditor] = []
        self._match_number = 0
        self._prefilling = False
        self._loading = False
        self._rejected: LearnerRecordView | None = None
        self._remembered_board_ids: dict[str, str] = {}  # from a learner match, for boards added later
        self._matched: MatchOutcome | None = None  # the last unique learner match, compared with the fields
        self.rejection_fields: tuple[str, ...] = ()  # fields a rejection points at, until edited
        self._rejection_text = ""
        self.outcome = ""  # what the last save did, in one sentence
        self._match_tasks: set[_OnlineMatch] = set()
        self._clean_form: Completion | None = None  # the form as opened or last saved (see reject)
        self._discard_confirmed = False
        self.discard_box: QMessageBox | None = None  # the "Discard what you entered?" question, while open
        self.discard_button: Any = None
        self.keep_editing_button: Any = None
        # Problems are shown next to a field once it was edited or left, and next to every field once
        # a save was tried (or when an existing record is opened); the summary always lists them all.
        self._touched: set[str] = set()
        self._show_all = edit_id is not None or resubmit_id is not None
        self.setObjectName("learnerDialog")
        self.setStyleSheet(_STYLE)
        self.setWindowTitle("New learner")
        self.resize(720, 820)

        form_data = ctx.read(learners.entry_form_data, edit_id or resubmit_id)
        self._options = form_data.options
        self._version = form_data.version  # what another coordinator's change is detected against
        self.conflict_message = ""  # set when a save found the record changed elsewhere
        loaded: Completion | None = form_data.completion
        if form_data.record is not None:
            self._rejected = form_data.record
            activity_row_id = form_data.record.activity_row_id

        self._build()
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.validate_now)
        self._match_timer = QTimer(self)
        self._match_timer.setSingleShot(True)
        self._match_timer.setInterval(MATCH_DELAY_MS)
        self._match_timer.timeout.connect(self.start_match)

        position = self.activity_combo.findData(activity_row_id) if activity_row_id is not None else -1
        self.activity_combo.setCurrentIndex(position if position >= 0 else (0 if self._options else -1))
        self._activity_chosen()
        if loaded is not None:
            self._load(loaded)
        self._connect_changes()
        self._apply_mode()
        self.validate_now()
        if self.resubmit_id is not None:
            # a rejected record: show at once where it differs from what PARS (or the store) holds
            self._match_timer.start()

    # --- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        outer.addWidget(self.banner)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(scroll)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        layout = QVBoxLayout(body)
        self.field_errors: dict[str, QLabel] = {}
        self.field_widgets: dict[str, QWidget] = {}
        self.match_notes: dict[str, QLabel] = {}  # identity field -> what the learner match holds instead

        # activity and date
        top = QFormLayout()
        self.activity_combo = QComboBox(body)
        self.activity_combo.setObjectName("activityCombo")
        self.activity_combo.setEditable(True)
        self.activity_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        completer = self.activity_combo.completer()
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        for option in self._options:
            self.activity_combo.addItem(option.label, option.row_id)
        self.activity_combo.setMinimumContentsLength(36)
        self.activity_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._add_row(top, "Activity:", self.activity_combo, F_ACTIVITY_ID, body)
        self.activity_info = QLabel(body)
        self.activity_info.setStyleSheet("color: palette(mid);")
        top.addRow("", self.activity_info)
        self.completion_date = QLineEdit(body)
        self.completion_date.setObjectName("completionDate")
        self.completion_date.setPlaceholderText("MM/DD/YYYY")
        self.completion_date.setMaximumWidth(140)
        self._add_row(top, "Completion date:", self.completion_date, F_COMPLETION_DATE, body)
        layout.addLayout(top)

        # learner identity
        learner_box = QGroupBox("Learner", body)
        form = QFormLayout(learner_box)
        self.first_name = QLineEdit(learner_box)
        self.first_name.setObjectName("firstName")
        self.last_name = QLineEdit(learner_box)
        self.last_name.setObjectName("lastName")
        self.birth_date = QLineEdit(learner_box)
        self.birth_date.setObjectName("birthDate")
        self.birth_date.setPlaceholderText("MM/DD")
        self.birth_date.setMaximumWidth(90)
        self.state_combo = QComboBox(learner_box)
        self.state_combo.setObjectName("stateCombo")
        self.state_combo.addItem("— none: the ID below is an NPI —", "")
        for info in sorted(catalog.states().values(), key=lambda s: s.name):
            self.state_combo.addItem(f"{info.name} ({info.code})", info.code)
        self.license_id = QLineEdit(learner_box)
        self.license_id.setObjectName("licenseId")
        self.license_id.setPlaceholderText("State license number or 10-digit NPI")
        self._add_row(form, "First name:", self.first_name, F_FIRST_NAME, learner_box, match_note=True)
        self._add_row(form, "Last name:", self.last_name, F_LAST_NAME, learner_box, match_note=True)
        self._add_row(form, "Date of birth:", self.birth_date, F_DOB, learner_box, match_note=True)
        self._add_row(form, "Licensing state:", self.state_combo, F_STATE, learner_box, match_note=True)
        self._add_row(form, "License # or NPI:", self.license_id, F_LICENSE_ID, learner_box, match_note=True)
        self.match_label = QLabel("Type the learner's name and license or board ID to look them up.", learner_box)
        self.match_label.setObjectName("matchLabel")
        self.match_label.setWordWrap(True)
        self.match_label.setStyleSheet("color: palette(mid);")
        form.addRow("", self.match_label)
        layout.addWidget(learner_box)

        # CME
        self.cme_group = QGroupBox("Report for CME credit (AMA PRA Category 1)", body)
        self.cme_group.setObjectName("cmeGroup")
        self.cme_group.setCheckable(True)
        cme_form = QFormLayout(self.cme_group)
        self.cme_credits = QLineEdit(self.cme_group)
        self.cme_credits.setObjectName("cmeCredits")
        self.cme_credits.setMaximumWidth(110)
        self._add_row(cme_form, "CME credits:", self.cme_credits, F_CME_CREDITS, self.cme_group)
        layout.addWidget(self.cme_group)

        # boards
        self.boards_group = QGroupBox("MOC / Continuing Certification", body)
        self.boards_group.setObjectName("boardsGroup")
        boards_layout = QVBoxLayout(self.boards_group)
        self.boards_container = QVBoxLayout()
        boards_layout.addLayout(self.boards_container)
        self.add_board_button = QPushButton("+ Add a certifying board", self.boards_group)
        self.add_board_button.setObjectName("addBoardButton")
        self.add_board_button.clicked.connect(lambda: self.add_board())
        self.no_boards_label = QLabel("This activity is not registered with any certifying board.", self.boards_group)
        self.no_boards_label.setStyleSheet("color: palette(mid);")
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_board_button)
        add_row.addWidget(self.no_boards_label)
        add_row.addStretch(1)
        boards_layout.addLayout(add_row)
        layout.addWidget(self.boards_group)

        # REMS
        self.rems_group = QGroupBox("Report REMS participation", body)
        self.rems_group.setObjectName("remsGroup")
        self.rems_group.setCheckable(True)
        rems_form = QFormLayout(self.rems_group)
        self.rems_profession = QComboBox(self.rems_group)
        self.rems_profession.setObjectName("remsProfession")
        self.rems_profession.addItem("— choose —", "")
        for name in catalog.rems_professions():
            self.rems_profession.addItem(name, name)
        self.rems_state = QComboBox(self.rems_group)
        self.rems_state.addItem("", "")
        for info in sorted(catalog.states().values(), key=lambda s: s.name):
            self.rems_state.addItem(f"{info.name} ({info.code})", info.code)
        self.rems_dea = QComboBox(self.rems_group)
        self.rems_dea.addItem("", "")
        for name in catalog.dea_registrations():
            self.rems_dea.addItem(name, name)
        self.rems_area = QLineEdit(self.rems_group)
        self.rems_surgery = QComboBox(self.rems_group)
        for text, value in (("", None), ("Yes", True), ("No", False)):
            self.rems_surgery.addItem(text, value)
        self.rems_time = QComboBox(self.rems_group)
        self.rems_time.addItem("", "")
        for name in catalog.time_in_practice_values():
            self.rems_time.addItem(name, name)
        self._add_row(rems_form, "Profession (required):", self.rems_profession, F_REMS_PROFESSION, self.rems_group)
        rems_form.addRow("State of primary practice:", self.rems_state)
        rems_form.addRow("DEA registration:", self.rems_dea)
        rems_form.addRow("Practice area:", self.rems_area)
        rems_form.addRow("Performs surgical procedures:", self.rems_surgery)
        rems_form.addRow("Time in practice:", self.rems_time)
        layout.addWidget(self.rems_group)

        # permission
        self.permission = QCheckBox("The learner gave permission to report this completion to PARS", body)
        self.permission.setObjectName("permission")
        layout.addWidget(self.permission)
        self.field_errors[F_PERMISSION] = _error_label(body)
        layout.addWidget(self.field_errors[F_PERMISSION])
        layout.addStretch(1)

        # summary and buttons (outside the scroll area: always visible)
        self.summary = QLabel(self)
        self.summary.setObjectName("summaryLabel")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        outer.addWidget(self.summary)
        self.deadline_note = QLabel(self)  # past or near a PARS deadline (app/pars/deadlines.py)
        self.deadline_note.setObjectName("deadlineNote")
        self.deadline_note.setWordWrap(True)
        self.deadline_note.setTextFormat(Qt.TextFormat.PlainText)
        self.deadline_note.setVisible(False)
        self.deadline_warnings: list[Any] = []
        outer.addWidget(self.deadline_note)
        self.note = QLabel(self)
        self.note.setObjectName("noteLabel")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        outer.addWidget(self.note)
        buttons = QHBoxLayout()
        self.submit_button = QPushButton("Submit", self)
        self.submit_button.setObjectName("submitButton")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(lambda: self.submit())
        self.submit_another_button = QPushButton("Submit and add another", self)
        self.submit_another_button.setObjectName("submitAnotherButton")
        self.submit_another_button.clicked.connect(lambda: self.submit(add_another=True))
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        buttons.addStretch(1)
        buttons.addWidget(self.submit_another_button)
        buttons.addWidget(self.submit_button)
        buttons.addWidget(self.cancel_button)
        outer.addLayout(buttons)

    def _add_row(
        self, form: QFormLayout, label: str, widget: QWidget, field_name: str, parent: QWidget,
        *, match_note: bool = False,
    ) -> None:
        error = _error_label(parent)
        box = QWidget(parent)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        column.addWidget(error)
        if match_note:
            note = _match_note_label(parent)
            note.setObjectName(f"matchNote{field_name.title().replace(' ', '')}")
            column.addWidget(note)
            self.match_notes[field_name] = note
        form.addRow(label, box)
        self.field_errors[field_name] = error
        self.field_widgets[field_name] = widget

    def _connect_changes(self) -> None:
        for edit in (self.first_name, self.last_name, self.birth_date, self.license_id):
            edit.textChanged.connect(self._identity_changed)
        self.state_combo.currentIndexChanged.connect(self._identity_changed)
        for edit in (self.completion_date, self.cme_credits, self.rems_area):
            edit.textChanged.connect(self.schedule_validation)
        self.cme_group.toggled.connect(self.schedule_validation)
        self.rems_group.toggled.connect(self.schedule_validation)
        for combo in (self.rems_profession, self.rems_state, self.rems_dea, self.rems_surgery, self.rems_time):
            combo.currentIndexChanged.connect(self.schedule_validation)
        self.permission.toggled.connect(self.schedule_validation)
        self.activity_combo.currentIndexChanged.connect(self._activity_chosen)
        for edit, field_name in (
            (self.first_name, F_FIRST_NAME), (self.last_name, F_LAST_NAME), (self.birth_date, F_DOB),
            (self.license_id, F_LICENSE_ID), (self.completion_date, F_COMPLETION_DATE),
            (self.cme_credits, F_CME_CREDITS),
        ):
            edit.textEdited.connect(lambda *_, name=field_name: self._touch(name))
            edit.editingFinished.connect(lambda name=field_name: self._touch(name))
        for combo, field_name in (
            (self.state_combo, F_STATE), (self.rems_profession, F_REMS_PROFESSION),
            (self.activity_combo, F_ACTIVITY_ID),
        ):
            combo.activated.connect(lambda *_, name=field_name: self._touch(name))
        self.permission.clicked.connect(lambda *_: self._touch(F_PERMISSION))

    def _touch(self, field_name: str) -> None:
        if field_name not in self._touched:
            self._touched.add(field_name)
            self.schedule_validation()

    def _apply_mode(self) -> None:
        record = self._rejected
        if self.resubmit_id is not None and record is not None:
            self.setWindowTitle(f"Correct and resubmit — {record.learner_name}")
            self.banner.setObjectName("rejectionBanner")
            from app.ui.record_model import rejection_text

            self.banner.setText(
                "This record was rejected:\n" + rejection_text(record)
                + "\nCorrect it and submit: it is sent as a new record with a new credit ID;"
                " the rejected one stays in the history."
            )
            self.banner.setVisible(True)
            self.submit_button.setText("Resubmit")
            self.submit_another_button.setVisible(False)
            self.activity_combo.setEnabled(False)
            self.highlight_rejection(record.status_code, rejection_text(record).splitlines()[0])
        elif self.edit_id is not None and record is not None:
            self.setWindowTitle(f"Edit Draft — {record.learner_name}")
            self.banner.setObjectName("modeBanner")
            self.banner.setText(
                "This record is a Draft: it has not been sent. "
                + (record.status_message or "")
            )
            self.banner.setVisible(True)
            self.submit_another_button.setVisible(False)
            self.activity_combo.setEnabled(False)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)

    # --- activity -----------------------------------------------------------------------------

    def current_option(self) -> ActivityOption | None:
        row_id = self.activity_combo.currentData()
        return next((o for o in self._options if o.row_id == row_id), None)

    def _activity_chosen(self, *_args: Any) -> None:
        option = self.current_option()
        activity = option.activity if option else None
        if activity is None:
            self.activity_info.setText("Choose the activity the learner completed.")
            registrations: tuple[BoardRegistration, ...] = ()
        else:
            parts = [f"{format_pars_date(activity.start_date)} to {format_pars_date(activity.end_date)}"]
            if activity.cme_credits:
                parts.append(f"{format_amount(activity.cme_credits)} CME credits")
            parts.extend(f"{b.board} {format_amount(b.max_points)} points" for b in activity.boards)
            if activity.rems:
                parts.append("REMS")
            self.activity_info.setText(" · ".join(parts))
            registrations = activity.boards
        if not self._loading:
            if activity is not None and not self.completion_date.text().strip():
                self.completion_date.setText(
                    min(activity.end_date, self.as_of).strftime("%m/%d/%Y")
                )
            offers_cme = bool(activity and activity.cme_credits)
            self.cme_group.setChecked(offers_cme)
            self.cme_credits.setText(format_amount(activity.cme_credits) if offers_cme and activity else "")
        for editor in list(self.board_editors):
            if not any(r.board == editor.board_code() for r in registrations):
                self.remove_board(editor)
            else:
                editor.set_registrations(registrations)
        self.add_board_button.setEnabled(bool(registrations))
        self.no_boards_label.setVisible(activity is not None and not registrations)
        self.rems_group.setVisible(bool(activity and activity.rems))
        if not self._loading:
            self.rems_group.setChecked(bool(activity and activity.rems))
        self.schedule_validation()

    # --- boards -------------------------------------------------------------------------------

    def add_board(self, code: str | None = None) -> BoardEditor | None:
        option = self.current_option()
        if option is None or not option.activity.boards:
            return None
        editor = BoardEditor(option.activity.boards, self.boards_group)
        used = {e.board_code() for e in self.board_editors}
        wanted = code or next((r.board for r in option.activity.boards if r.board not in used), None)
        if wanted:
            position = editor.board_combo.findData(wanted)
            if position >= 0:
                editor.board_combo.setCurrentIndex(position)
        if not self._loading:
            registration = editor.registration()
            if registration is not None:
                editor.points.setText(format_amount(registration.max_points))
            if self._remembered_board_ids and editor.board_code() in self._remembered_board_ids:
                editor.board_id.setText(self._remembered_board_ids[editor.board_code() or ""])
        editor.changed.connect(self.schedule_validation)
        editor.board_id.textChanged.connect(self._identity_changed)
        editor.remove_requested.connect(self.remove_board)
        self.boards_container.addWidget(editor)
        self.board_editors.append(editor)
        self.schedule_validation()
        return editor

    def remove_board(self, editor: BoardEditor) -> None:
        if editor in self.board_editors:
            self.board_editors.remove(editor)
            self.boards_container.removeWidget(editor)
            editor.deleteLater()
            self.schedule_validation()

    # --- the record ---------------------------------------------------------------------------

    def completion(self) -> Completion:
        """The record as typed (unparseable text kept as text, so validation can say what is wrong)."""
        option = self.current_option()
        date_text = self.completion_date.text().strip()
        completed: date | str | None = parse_pars_date(date_text) or (date_text or None)
        birth_text = self.birth_date.text().strip()
        learner = Learner(
            first_name=self.first_name.text().strip() or None,
            last_name=self.last_name.text().strip() or None,
            birth_date=normalize_birth_date(birth_text) or (birth_text or None),
            licensing_state=self.state_combo.currentData() or None,
            license_id=self.license_id.text().strip() or None,
        )
        cme = None
        if self.cme_group.isChecked():
            text = self.cme_credits.text().strip()
            amount = parse_amount(text)
            cme = CmePart(amount if amount is not None else (text or None))
        rems = None
        if self.rems_group.isVisible() and self.rems_group.isChecked():
            rems = RemsPart(
                profession=self.rems_profession.currentData() or None,
                state_of_practice=self.rems_state.currentData() or None,
                dea_registration=self.rems_dea.currentData() or None,
                practice_area=self.rems_area.text().strip() or None,
                performs_surgery=self.rems_surgery.currentData(),
                time_in_practice=self.rems_time.currentData() or None,
            )
        return Completion(
            activity_id=option.activity.activity_id if option else None,
            learner=learner,
            completion_date=completed,
            cme=cme,
            boards=[editor.part() for editor in self.board_editors],
            rems=rems,
            permission=self.permission.isChecked(),
        )

    def _load(self, completion: Completion) -> None:
        self._loading = True
        try:
            learner = completion.learner
            self.first_name.setText(learner.first_name or "")
            self.last_name.setText(learner.last_name or "")
            self.birth_date.setText(learner.birth_date or "")
            position = self.state_combo.findData(learner.licensing_state or "")
            self.state_combo.setCurrentIndex(max(position, 0))
            self.license_id.setText(learner.license_id or "")
            completed = completion.completion_date
            self.completion_date.setText(completed.strftime("%m/%d/%Y") if isinstance(completed, date) else str(completed or ""))
            self.cme_group.setChecked(completion.cme is not None)
            if completion.cme is not None:
                amount = parse_amount(completion.cme.credits)
                self.cme_credits.setText(format_amount(amount) if amount is not None else "")
            for part in completion.boards:
                editor = self.add_board(part.board)
                if editor is not None:
                    editor.load(part)
            if completion.rems is not None:
                r = completion.rems
                self.rems_group.setChecked(True)
                for combo, value in (
                    (self.rems_profession, r.profession), (self.rems_state, r.state_of_practice),
                    (self.rems_dea, r.dea_registration), (self.rems_time, r.time_in_practice),
                ):
                    combo.setCurrentIndex(max(combo.findData(value or ""), 0))
                self.rems_area.setText(r.practice_area or "")
                self.rems_surgery.setCurrentIndex(max(self.rems_surgery.findData(r.performs_surgery), 0))
            else:
                self.rems_group.setChecked(False)
            self.permission.setChecked(completion.permission)
        finally:
            self._loading = False

    def clear_learner(self) -> None:
        """After 'Submit and add another': keep activity, date and boards; clear who."""
        self._prefilling = True
        try:
            for edit in (self.first_name, self.last_name, self.birth_date, self.license_id):
                edit.clear()
            self.state_combo.setCurrentIndex(0)
            for editor in self.board_editors:
                editor.board_id.clear()
            self.rems_area.clear()
            for combo in (self.rems_profession, self.rems_state, self.rems_dea, self.rems_surgery, self.rems_time):
                combo.setCurrentIndex(0)
            self.permission.setChecked(False)
        finally:
            self._prefilling = False
        self._remembered_board_ids = {}
        self._matched = None
        self._show_match_differences()
        self._touched = set()  # a new learner: no complaints about fields not reached yet
        self._show_all = False
        for editor in self.board_editors:
            editor.touched.discard(F_BOARD_ID)
        self.match_label.setText("Type the learner's name and license or board ID to look them up.")
        self.match_label.setStyleSheet("color: palette(mid);")
        self.first_name.setFocus()
        self.schedule_validation()

    # --- validation ---------------------------------------------------------------------------

    def schedule_validation(self, *_args: Any) -> None:
        if not self._loading:
            self._validate_timer.start()

    def validate_now(self) -> list[Issue]:
        self._validate_timer.stop()
        option = self.current_option()
        if option is None:
            self.issues = [Issue(630, F_ACTIVITY_ID, "Choose the activity the learner completed")]
        else:
            exclude = self.edit_id or self.resubmit_id
            self.issues = self.ctx.read(
                learners.check_record, self._for_check(), option.row_id, self.as_of, exclude_id=exclude
            )
        self._show_issues()
        self._show_deadlines(option)
        self.validated.emit(list(self.issues))
        return self.issues

    def _for_check(self) -> Completion:
        completion = self.completion()
        if self.edit_id is not None and self._rejected is not None:
            completion.credit_id = self._rejected.credit_id  # a Draft keeps its creditID
        return completion

    def _show_issues(self) -> None:
        by_field: dict[str, list[Issue]] = {}
        board_issues: dict[int, list[Issue]] = {}
        board_fields = (F_BOARD, F_BOARD_ID, F_BOARD_POINTS, F_CREDIT_TYPE, F_CREDIT_TYPE_AMOUNT)
        for issue in self.issues:
            if issue.field in board_fields and self.board_editors:
                board_issues.setdefault(self._editor_for(issue), []).append(issue)
            else:
                by_field.setdefault(issue.field, []).append(issue)
        for field_name, label in self.field_errors.items():
            shown = by_field.get(field_name, []) if self._show_all or field_name in self._touched else []
            _show_errors(label, shown)
            widget = self.field_widgets.get(field_name)
            if widget is not None:
                _set_error(widget, bool(shown))
        for number, editor in enumerate(self.board_editors):
            editor.show_issues(board_issues.get(number, []), self._show_all)
        if self.rejection_fields:
            self._mark_rejection()

        no_permission = not self.permission.isChecked()
        if self.resubmit_id is not None:
            self.submit_button.setText("Resubmit" if not no_permission else "Save as Draft")
        else:
            self.submit_button.setText("Save as Draft" if no_permission else "Submit")
        if self.issues:
            lines = [f"{plural(len(self.issues), 'thing')} to fix before saving:"]
            lines += [f"• {issue.field}: {issue_text(issue)}" for issue in self.issues]
            self.summary.setText("\n".join(lines))
            # red once the coordinator has typed something or tried to save; a fresh form just informs
            loud = self._show_all or bool(self._touched) or any(e.touched for e in self.board_editors)
            self.summary.setStyleSheet(f"color: {ERROR_COLOR};" if loud else "color: palette(text);")
        elif no_permission:
            self.summary.setText(
                "Ready, but without the learner's permission to report it is saved as a Draft and not sent. "
                "Tick the permission box to queue it for PARS."
            )
            self.summary.setStyleSheet("color: #8a5300;")
        else:
            self.summary.setText("Ready: PARS's checks pass. It is queued and sent at the next sync.")
            self.summary.setStyleSheet(f"color: {OK_COLOR};")

    def _show_deadlines(self, option: Any) -> None:
        from app.pars.deadlines import OVERDUE, record_warnings
        from app.ui.deadline_warnings import record_note, style_for

        warnings = record_warnings(self.completion(), option.activity, self.as_of) if option is not None else []
        self.deadline_warnings = warnings
        self.deadline_note.setText(record_note(warnings))
        self.deadline_note.setStyleSheet(style_for(any(w.state == OVERDUE for w in warnings)))
        self.deadline_note.setVisible(bool(warnings))

    def _editor_for(self, issue: Issue) -> int:
        """Which board's editor an issue belongs to: the board code its message names, else the first."""
        for number, editor in enumerate(self.board_editors):
            code = editor.board_code()
            if code and (issue.message.startswith(code) or f" {code} " in f" {issue.message} "):
                return number
        return 0

    def highlight_rejection(self, code: int | None, text: str) -> None:
        """Mark the fields a PARS/board rejection points at (the form's own checks may pass), with
        the rejection next to them, until the coordinator edits one of them."""
        self.rejection_fields = fields_for_code(code)
        self._rejection_text = text
        for widget in self._rejection_widgets():
            signal = getattr(widget, "textEdited", None) or getattr(widget, "activated", None)
            if signal is not None:
                signal.connect(self._rejection_addressed)
        self._mark_rejection()

    def _rejection_widgets(self) -> list[QWidget]:
        widgets: list[QWidget] = []
        for field_name in self.rejection_fields:
            if field_name in (F_BOARD, F_BOARD_ID, F_BOARD_POINTS):
                for editor in self.board_editors:
                    widgets.append(
                        {F_BOARD: editor.board_combo, F_BOARD_ID: editor.board_id, F_BOARD_POINTS: editor.points}[field_name]
                    )
            elif field_name in self.field_widgets:
                widgets.append(self.field_widgets[field_name])
        return widgets

    def _mark_rejection(self) -> None:
        for widget in self._rejection_widgets():
            _set_error(widget, True)
            widget.setToolTip(self._rejection_text)
        for field_name in self.rejection_fields:
            label = self.field_errors.get(field_name)
            if label is not None and not label.isVisibleTo(self) and not label.text():
                label.setText(self._rejection_text)
                label.setVisible(True)

    def _rejection_addressed(self, *_args: Any) -> None:
        for widget in self._rejection_widgets():
            widget.setToolTip("")
        self.rejection_fields = ()
        self.validate_now()

    # --- learner match ------------------------------------------------------------------------

    def _identity_changed(self, *_args: Any) -> None:
        self.schedule_validation()
        if not self._loading:
            self._show_match_differences()
        if not self._prefilling and not self._loading:
            self._match_timer.start()

    def _partial(self) -> tuple[Learner, str | None, str | None]:
        """What the learner is looked up by. With a license/NPI or a board ID, the names and that ID
        identify them: the birth date and state are left out of the question so that a record
        differing there still finds its learner, and the difference can be shown."""
        learner = self.completion().learner
        board, board_id = None, None
        for editor in self.board_editors:
            if editor.board_id.text().strip():
                board, board_id = editor.board_code(), editor.board_id.text().strip()
                break
        if learner.license_id or board_id:
            learner = Learner(learner.first_name, learner.last_name, license_id=learner.license_id)
        return learner, board, board_id

    def start_match(self) -> None:
        learner, board, board_id = self._partial()
        if not learner.last_name or not (learner.first_name or learner.license_id or board_id):
            return
        self._match_number += 1
        number = self._match_number
        self.match_label.setText("Looking up the learner…")
        self.match_label.setStyleSheet("color: palette(mid);")
        if self.online_match:
            task = _OnlineMatch(self.ctx, number, learner, board, board_id)
            # Python owns the task (and its signals) until it reports; Qt must not delete it under us
            task.setAutoDelete(False)
            task.signals.done.connect(self._match_done)
            self._match_tasks.add(task)
            QThreadPool.globalInstance().start(task)
        else:
            self._match_done(number, MatchOutcome("unavailable", None, "PARS"))

    def _match_done(self, number: int, outcome: MatchOutcome) -> None:
        self._match_tasks = {t for t in self._match_tasks if t.number != number}
        if number != self._match_number:
            return  # the learner was edited since; a newer lookup is on its way
        if outcome.kind == "unavailable":
            outcome = self._local_match()
        self._matched = outcome if outcome.kind == "unique" and outcome.match is not None else None
        if outcome.kind == "unique" and outcome.match is not None:
            self._prefill(outcome.match)
            who = outcome.match.learner
            self.match_label.setText(
                f"✓ Learner matched ({outcome.source}): {who.first_name} {who.last_name}"
                + (f", {who.licensing_state}" if who.licensing_state else "")
                + ". Empty fields were filled in."
            )
            self.match_label.setStyleSheet(f"color: {OK_COLOR};")
        elif outcome.kind == "ambiguous":
            self.match_label.setText(
                f"Several learners match ({outcome.source}): add the license number or the board ID."
            )
            self.match_label.setStyleSheet("color: #8a5300;")
        else:
            self.match_label.setText(f"No matching learner found ({outcome.source}); check the spelling.")
            self.match_label.setStyleSheet("color: palette(mid);")
        self._show_match_differences()
        self.match_finished.emit(outcome.kind)

    def match_differences(self) -> dict[str, str]:
        """Field -> the note shown where the matched learner holds another value than the record
        (board fields are named 'Certifying Board ID ABIM')."""
        notes = {name: label.text() for name, label in self.match_notes.items() if label.text()}
        for editor in self.board_editors:
            if editor.match_note.text():
                notes[f"{F_BOARD_ID} {editor.board_code()}"] = editor.match_note.text()
        return notes

    def _show_match_differences(self) -> None:
        """Next to each identity field: what the matched learner holds when the record says otherwise.
        Nothing is overwritten; the record's value is what is sent."""
        outcome = self._matched
        match = outcome.match if outcome is not None else None
        source = outcome.source if outcome is not None else ""
        typed = self.completion().learner
        for field_name, label in self.match_notes.items():
            text = ""
            if match is not None:
                attribute = _LEARNER_ATTRIBUTES[field_name]
                text = difference_note(source, getattr(match.learner, attribute), getattr(typed, attribute), field_name)
            _show_note(label, text)
        for editor in self.board_editors:
            theirs = match.board_ids.get(editor.board_code() or "") if match is not None else None
            _show_note(editor.match_note, difference_note(source, theirs, editor.board_id.text().strip()))

    def _local_match(self) -> MatchOutcome:
        learner, _board, board_id = self._partial()
        found = self.ctx.read(learners.local_learner_matches, learner)
        if board_id:
            narrowed = [m for m in found if board_id in m.board_ids.values()]
            found = narrowed or found
        if len(found) == 1:
            return MatchOutcome("unique", found[0], "stored learners")
        return MatchOutcome("ambiguous" if found else "none", None, "stored learners")

    def _prefill(self, match: LearnerMatch) -> None:
        """Fill only what is still empty: never overwrite what the coordinator typed."""
        self._prefilling = True
        try:
            who = match.learner
            for edit, value in (
                (self.first_name, who.first_name), (self.last_name, who.last_name),
                (self.birth_date, who.birth_date), (self.license_id, who.license_id),
            ):
                if value and not edit.text().strip():
                    edit.setText(value)
            if who.licensing_state and not self.state_combo.currentData():
                position = self.state_combo.findData(who.licensing_state)
                if position >= 0:
                    self.state_combo.setCurrentIndex(position)
            self._remembered_board_ids = dict(match.board_ids)
            for editor in self.board_editors:
                code = editor.board_code()
                if code in match.board_ids and not editor.board_id.text().strip():
                    editor.board_id.setText(match.board_ids[code])
        finally:
            self._prefilling = False
        self.schedule_validation()

    # --- leaving without saving ---------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._clean_form is None:
            self._mark_clean()  # what the form held when it opened (parts depend on what is visible)

    def _mark_clean(self) -> None:
        self._clean_form = self.completion()

    def has_unsaved_input(self) -> bool:
        """Whether something was typed or chosen since the form opened (or since the last save)."""
        return self._clean_form is not None and self.completion() != self._clean_form

    def reject(self) -> None:
        """Esc, Cancel and the window's close button: a half-filled form asks before it is discarded."""
        if self._discard_confirmed or not self.has_unsaved_input():
            super().reject()
            return
        if self.discard_box is not None:
            self.discard_box.raise_()
            return
        box = QMessageBox(
            QMessageBox.Icon.Question, self.windowTitle(),
            "Discard what you entered? The learner record is not saved.", QMessageBox.StandardButton.NoButton, self,
        )
        box.setObjectName("discardBox")
        self.discard_button = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        self.keep_editing_button = box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(self.keep_editing_button)  # Enter or a second Esc keeps the form
        box.setEscapeButton(self.keep_editing_button)
        box.finished.connect(lambda _result: self._discard_answered(box))
        self.discard_box = box
        box.open()  # window-modal, without a nested event loop

    def _discard_answered(self, box: QMessageBox) -> None:
        self.discard_box = None
        box.deleteLater()
        if box.clickedButton() is self.discard_button:
            self._discard_confirmed = True
            self.reject()

    def done(self, result: int) -> None:
        """Closing: stop pending checks and stop listening to lookups still running."""
        self._validate_timer.stop()
        self._match_timer.stop()
        for task in list(self._match_tasks):
            try:
                task.signals.done.disconnect()
            except (RuntimeError, TypeError):
                pass
        super().done(result)

    # --- saving -------------------------------------------------------------------------------

    def reload_after_conflict(self, message: str) -> None:
        """Someone else saved this record while it was open here: show their values and say so.
        What was typed here is replaced (the message says so); saving again applies to their version."""
        record_id = self.edit_id or self.resubmit_id
        try:
            form_data = self.ctx.read(learners.entry_form_data, record_id)
        except LookupError:
            message = "This record was deleted by another coordinator while you were editing it; nothing was saved."
            form_data = None
        if form_data is not None and form_data.completion is not None:
            for editor in list(self.board_editors):
                self.remove_board(editor)
            self._rejected = form_data.record
            self._version = form_data.version
            self._load(form_data.completion)
            self._apply_mode()
            self.validate_now()
        self.conflict_message = message
        self.note.setText(message)
        self.note.setStyleSheet(f"color: {ERROR_COLOR};")
        self.note.setVisible(True)
        self.ctx.notify_records_changed([record_id] if record_id is not None else [])

    def submit(self, add_another: bool = False) -> SaveResult | None:
        self._show_all = True
        option = self.current_option()
        if option is None:
            self.validate_now()
            return None
        completion = self.completion()
        try:
            result = self.ctx.write(
                learners.save_entry, completion, option.row_id, self.ctx.actor, self.as_of,
                edit_id=self.edit_id, resubmit_id=self.resubmit_id, expected_version=self._version,
            )
        except ConcurrentChangeError as exc:  # another coordinator saved this record meanwhile
            self.reload_after_conflict(str(exc))
            return None
        except StoreUnavailableError:  # the office database is away: keep everything typed here
            self.note.setText(
                "The office database cannot be reached, so nothing was saved. What you entered stays here: "
                "save again once the status bar says the database answers again."
            )
            self.note.setStyleSheet(f"color: {ERROR_COLOR};")
            self.note.setVisible(True)
            return None
        except ValueError as exc:  # e.g. resubmitted meanwhile from another window
            self.summary.setText(str(exc))
            self.summary.setStyleSheet(f"color: {ERROR_COLOR};")
            return None
        self.last_result = result
        if not result.saved:
            self.issues = list(result.issues)
            self._show_issues()
            return result
        assert result.completion_id is not None
        changed = [result.completion_id] + ([self.resubmit_id] if self.resubmit_id is not None else [])
        self.saved_ids.append(result.completion_id)
        name = f"{completion.learner.first_name or ''} {completion.learner.last_name or ''}".strip()
        if result.status == Status.DRAFT.value:
            self.outcome = (
                f"{name} was saved as a Draft: the learner's permission to report is not recorded, so it is not sent."
            )
        elif self.resubmit_id is not None:
            self.outcome = f"{name} was queued for resubmission under a new credit ID (sent at the next sync)."
        else:
            self.outcome = f"{name} was queued for PARS (sent at the next sync)."
        outcome = self.outcome
        self.ctx.notify_records_changed(changed)
        self.saved.emit(result.completion_id, result.status or "")
        self.reported.emit(self.outcome)
        if add_another and self.edit_id is None and self.resubmit_id is None:
            self.note.setText(outcome + " Enter the next learner.")
            self.note.setStyleSheet(f"color: {OK_COLOR};" if result.status != Status.DRAFT.value else "color: #8a5300;")
            self.note.setVisible(True)
            self.clear_learner()
            self._mark_clean()  # what is left (activity, date, boards) belongs to the saved record
        else:
            self.accept()
        return result


def open_new_learner(ctx: AppContext, parent: QWidget | None, activity_row_id: int | None) -> LearnerDialog:
    """Ctrl+N: open the entry dialog for an activity (non-blocking; returns the dialog)."""
    dialog = LearnerDialog(ctx, parent, activity_row_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    dialog.first_name.setFocus()
    return dialog
