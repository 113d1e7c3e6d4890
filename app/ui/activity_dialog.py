"""Create or edit an activity: title, type, dates, CME credits, REMS, state collaboration, boards.

Every change is checked at once by `app.pars.validation.validate_activity` (the same verdict an
imported activity gets); its messages appear under the field they concern and in the problems list,
and OK stays disabled until there are none. Saving goes through the activities service.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.models.store import ConcurrentChangeError, error_text
from app.pars import catalog
from app.pars.domain import Activity, BoardRegistration, Issue
from app.pars.validation import (
    A_ACTIVITY_TYPE,
    A_CME_CREDITS,
    A_END_DATE,
    A_START_DATE,
    A_TITLE,
    validate_activity,
)
from app.services.activities_view import (
    ActivityChangeImpact,
    activity_change_impact,
    activity_version,
    load_activity,
    save_activity_by_id,
)
from app.ui.context import AppContext
from app.wording import plural

ERROR_STYLE = "color: #b3261e;"
NO_CLAIM_DATE = QDate(2000, 1, 1)  # the date edit's minimum, shown as "none"
BOARD_COLUMNS = ("Board", "Max points", "Credit types", "Credit claim date")


def to_qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def to_date(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _amount(spin: QDoubleSpinBox) -> Decimal:
    # the spin box holds a float; round-trip through its text precision so 0.25 steps stay exact
    value = Decimal(f"{spin.value():.2f}")
    return value.to_integral_value() if value == value.to_integral_value() else value.normalize()


def _top_aligned(editor: QWidget) -> QWidget:
    """A one-line editor kept at its natural height at the top of a tall table row."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(2, 2, 2, 2)
    column.addWidget(editor)
    column.addStretch(1)
    return holder


class BoardRowWidgets:
    """The editors of one board registration row."""

    def __init__(self, table: QTableWidget, on_change: Any) -> None:
        self.board = QComboBox(table)
        for code, info in catalog.boards().items():
            self.board.addItem(f"{code} — {info.name}", code)
        self.points = QDoubleSpinBox(table)
        self.points.setRange(0, 999)
        self.points.setSingleStep(0.25)
        self.points.setDecimals(2)
        self.credit_types = QListWidget(table)
        self.credit_types.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.claim_date = QDateEdit(table)
        self.claim_date.setCalendarPopup(True)
        self.claim_date.setDisplayFormat("MM-dd-yyyy")
        self.claim_date.setMinimumDate(NO_CLAIM_DATE)
        self.claim_date.setSpecialValueText("none")
        self.claim_date.setDate(NO_CLAIM_DATE)
        self.board.currentIndexChanged.connect(lambda _i: self._fill_credit_types())
        self.board.currentIndexChanged.connect(lambda _i: on_change())
        self.points.valueChanged.connect(lambda _v: on_change())
        self.credit_types.itemChanged.connect(lambda _item: on_change())
        self.claim_date.dateChanged.connect(lambda _d: on_change())
        self._fill_credit_types()

    def code(self) -> str:
        return str(self.board.currentData())

    def set_code(self, code: str) -> None:
        index = self.board.findData(code.upper())
        if index < 0:  # a board the catalogue no longer knows: keep it visible so validation can say so
            self.board.addItem(code, code)
            index = self.board.count() - 1
        self.board.setCurrentIndex(index)

    def _fill_credit_types(self, checked: tuple[str, ...] = ()) -> None:
        info = catalog.board(self.code())
        names = list(info.credit_types) if info else []
        names += [name for name in checked if name not in names]  # unknown ones stay, for validation to flag
        self.credit_types.blockSignals(True)
        self.credit_types.clear()
        for name in names:
            item = QListWidgetItem(name, self.credit_types)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked)
        self.credit_types.blockSignals(False)

    def set_credit_types(self, names: tuple[str, ...]) -> None:
        self._fill_credit_types(names)

    def checked_credit_types(self) -> tuple[str, ...]:
        return tuple(
            self.credit_types.item(i).text()
            for i in range(self.credit_types.count())
            if self.credit_types.item(i).checkState() == Qt.CheckState.Checked
        )

    def set_credit_type_checked(self, name: str, checked: bool = True) -> None:
        for i in range(self.credit_types.count()):
            item = self.credit_types.item(i)
            if item.text() == name:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return
        raise KeyError(f"{name!r} is not a credit type of {self.code()}")

    def registration(self) -> BoardRegistration:
        claim = self.claim_date.date()
        return BoardRegistration(
            board=self.code(),
            max_points=_amount(self.points),
            credit_types=self.checked_credit_types(),
            credit_claim_date=None if claim == NO_CLAIM_DATE else to_date(claim),
        )


class ActivityDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None, activity_row_id: int | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.activity_row_id = activity_row_id
        self.saved_row_id: int | None = None
        self.impact_box: QMessageBox | None = None  # the "no longer fit" question while it is open
        self.issues: list[Issue] = []
        self._accme_id: str | None = None
        self._rows: list[BoardRowWidgets] = []
        self.setWindowTitle("Edit activity" if activity_row_id else "New activity")
        self.setObjectName("activityDialog")
        self.resize(820, 640)

        self.title_edit = QLineEdit(self)
        self.title_edit.setObjectName("activityTitle")
        self.id_label = QLabel(self)
        self.type_combo = QComboBox(self)
        self.type_combo.addItems(list(catalog.activity_types()))
        self.start_edit = self._date_edit()
        self.end_edit = self._date_edit()
        self.cme_spin = QDoubleSpinBox(self)
        self.cme_spin.setRange(0, 999)
        self.cme_spin.setSingleStep(0.25)
        self.cme_spin.setDecimals(2)
        self.cme_spin.setSpecialValueText("none")  # 0 = the activity offers no AMA PRA Category 1 credit
        for editor in (self.start_edit, self.end_edit, self.cme_spin):
            editor.setMaximumWidth(180)
        self.rems_check = QCheckBox("Opioid analgesic REMS activity", self)
        self.state_check = QCheckBox("Report CME to state medical boards (state collaboration)", self)

        self.field_errors: dict[str, QLabel] = {}
        form = QFormLayout()
        form.addRow("ACCME activity ID:", self.id_label)
        form.addRow("Title:", self._with_error(self.title_edit, A_TITLE))
        form.addRow("Type:", self._with_error(self.type_combo, A_ACTIVITY_TYPE))
        form.addRow("Start date:", self._with_error(self.start_edit, A_START_DATE))
        form.addRow("End date:", self._with_error(self.end_edit, A_END_DATE))
        form.addRow("AMA PRA Category 1 credits:", self._with_error(self.cme_spin, A_CME_CREDITS))
        form.addRow("", self.rems_check)
        form.addRow("", self.state_check)

        self.boards_table = QTableWidget(0, len(BOARD_COLUMNS), self)
        self.boards_table.setObjectName("boardsTable")
        self.boards_table.setHorizontalHeaderLabels(list(BOARD_COLUMNS))
        self.boards_table.verticalHeader().setVisible(False)
        self.boards_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.boards_table.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 250), (1, 95), (3, 135)):
            header.resizeSection(column, width)
        self.add_board_button = QPushButton("Add board", self)
        self.remove_board_button = QPushButton("Remove board", self)
        self.add_board_button.clicked.connect(lambda: self.add_board())
        self.remove_board_button.clicked.connect(self.remove_selected_board)
        boards_box = QGroupBox("MOC: certifying boards this activity is registered with", self)
        board_buttons = QHBoxLayout()
        board_buttons.addWidget(self.add_board_button)
        board_buttons.addWidget(self.remove_board_button)
        board_buttons.addStretch(1)
        boards_layout = QVBoxLayout(boards_box)
        boards_layout.addWidget(self.boards_table)
        boards_layout.addLayout(board_buttons)

        self.problems_list = QListWidget(self)
        self.problems_list.setObjectName("activityProblems")
        self.problems_list.setMaximumHeight(90)
        self.problems_list.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(boards_box, 1)
        layout.addWidget(QLabel("Problems:", self))
        layout.addWidget(self.problems_list)
        layout.addWidget(self.buttons)

        self._version: int | None = None  # the stored version this form shows (several coordinators)
        if activity_row_id is not None:
            self.set_activity(ctx.read(load_activity, activity_row_id))
            self._version = ctx.read(activity_version, activity_row_id)
        else:
            today = QDate.currentDate()
            self.start_edit.setDate(today)
            self.end_edit.setDate(today)
            self.id_label.setText("assigned by PARS when the activity is registered at the next sync")

        for signal in (self.title_edit.textChanged, self.type_combo.currentIndexChanged, self.start_edit.dateChanged,
                       self.end_edit.dateChanged, self.cme_spin.valueChanged, self.rems_check.toggled,
                       self.state_check.toggled):
            signal.connect(self.revalidate)
        self.revalidate()

    # --- construction helpers --------------------------------------------------------------------
    def _date_edit(self) -> QDateEdit:
        edit = QDateEdit(self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("MM-dd-yyyy")
        return edit

    def _with_error(self, editor: QWidget, field_name: str) -> QWidget:
        holder = QWidget(self)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        column.addWidget(editor)
        error = QLabel(holder)
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.setVisible(False)
        column.addWidget(error)
        self.field_errors[field_name] = error
        return holder

    # --- boards ----------------------------------------------------------------------------------
    def add_board(self, registration: BoardRegistration | None = None) -> BoardRowWidgets:
        row = self.boards_table.rowCount()
        self.boards_table.insertRow(row)
        widgets = BoardRowWidgets(self.boards_table, self.revalidate)
        if registration is not None:
            widgets.set_code(registration.board)
            widgets.points.setValue(float(registration.max_points))
            widgets.set_credit_types(tuple(registration.credit_types))
            if registration.credit_claim_date is not None:
                widgets.claim_date.setDate(to_qdate(registration.credit_claim_date))
        else:
            used = {r.code() for r in self._rows}
            free = [code for code in catalog.board_codes() if code not in used]
            if free:
                widgets.set_code(free[0])
        self.boards_table.setCellWidget(row, 0, _top_aligned(widgets.board))
        self.boards_table.setCellWidget(row, 1, _top_aligned(widgets.points))
        self.boards_table.setCellWidget(row, 2, widgets.credit_types)
        self.boards_table.setCellWidget(row, 3, _top_aligned(widgets.claim_date))
        self.boards_table.setRowHeight(row, 78)
        self._rows.append(widgets)
        self.revalidate()
        return widgets

    def board_rows(self) -> list[BoardRowWidgets]:
        return list(self._rows)

    def remove_selected_board(self) -> None:
        row = self.boards_table.currentRow()
        if row < 0 and self._rows:
            row = len(self._rows) - 1
        if row < 0:
            return
        self.boards_table.removeRow(row)
        del self._rows[row]
        self.revalidate()

    # --- values ----------------------------------------------------------------------------------
    def set_activity(self, activity: Activity) -> None:
        self._accme_id = activity.activity_id
        self.id_label.setText(activity.activity_id or "assigned by PARS when the activity is registered")
        self.title_edit.setText(activity.title)
        index = self.type_combo.findText(activity.activity_type)
        if index < 0:
            self.type_combo.addItem(activity.activity_type)
            index = self.type_combo.count() - 1
        self.type_combo.setCurrentIndex(index)
        self.start_edit.setDate(to_qdate(activity.start_date))
        self.end_edit.setDate(to_qdate(activity.end_date))
        self.cme_spin.setValue(float(activity.cme_credits or 0))
        self.rems_check.setChecked(activity.rems)
        self.state_check.setChecked(activity.state_collaboration)
        while self._rows:  # a reload (another coordinator's version) replaces the boards shown
            self.boards_table.removeRow(len(self._rows) - 1)
            self._rows.pop()
        for registration in activity.boards:
            self.add_board(registration)

    def activity(self) -> Activity:
        credits = _amount(self.cme_spin)
        return Activity(
            activity_id=self._accme_id,
            title=self.title_edit.text().strip(),
            activity_type=self.type_combo.currentText(),
            start_date=to_date(self.start_edit.date()),
            end_date=to_date(self.end_edit.date()),
            cme_credits=credits if credits > 0 else None,
            boards=tuple(r.registration() for r in self._rows),
            rems=self.rems_check.isChecked(),
            state_collaboration=self.state_check.isChecked(),
        )

    def revalidate(self, *_args: Any) -> list[Issue]:
        self.issues = validate_activity(self.activity())
        for label in self.field_errors.values():
            label.clear()
            label.setVisible(False)
        self.problems_list.clear()
        for issue in self.issues:
            label = self.field_errors.get(issue.field)
            if label is not None:
                label.setText("\n".join(filter(None, [label.text(), issue.message])))
                label.setVisible(True)
            code = f" ({issue.code})" if issue.code and issue.code >= 600 else ""
            self.problems_list.addItem(f"{issue.field}: {issue.message}{code}")
        if not self.issues:
            self.problems_list.addItem("None — ready to save.")
            self.problems_list.setStyleSheet("color: #2e7d32;")
        else:
            self.problems_list.setStyleSheet(ERROR_STYLE)
        self.ok_button.setEnabled(not self.issues)
        return self.issues

    def accept(self) -> None:
        if self.revalidate():
            return
        if self.activity_row_id is not None and not self._reported_records_still_fit():
            return
        try:
            self.saved_row_id = self.ctx.write(
                save_activity_by_id, self.activity(), self.activity_row_id, expected_version=self._version
            )
        except ConcurrentChangeError as exc:  # another coordinator saved it meanwhile: show theirs
            assert self.activity_row_id is not None
            self.set_activity(self.ctx.read(load_activity, self.activity_row_id))
            self._version = self.ctx.read(activity_version, self.activity_row_id)
            self.ctx.activities_changed.emit()
            QMessageBox.warning(self, self.windowTitle(), str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a locked store: tell the user, keep the dialog open
            QMessageBox.warning(self, self.windowTitle(), f"The activity was not saved: {error_text(exc)}")
            return
        self.ctx.activities_changed.emit()
        super().accept()

    def _reported_records_still_fit(self) -> bool:
        """Shrinking dates, credits or boards below what reported records use: say how many, and ask."""
        impact = self.ctx.read(activity_change_impact, self.activity_row_id, self.activity(), date.today())
        return impact.records == 0 or self.confirm_impact(impact)

    def confirm_impact(self, impact: ActivityChangeImpact) -> bool:
        """Ask whether to save although `impact.records` reported records no longer fit."""
        fits = "fits" if impact.records == 1 else "fit"
        accepted = f", {impact.accepted:,} of them already accepted by PARS" if impact.accepted else ""
        lines = [f"• {plural(count, 'record')}: {message} ({code})" for code, count, message in impact.problems]
        box = QMessageBox(
            QMessageBox.Icon.Warning, self.windowTitle(),
            f"{plural(impact.records, 'reported learner record')} no longer {fits} this activity as edited"
            f"{accepted}.", QMessageBox.StandardButton.NoButton, self,
        )
        box.setObjectName("activityImpactBox")
        box.setInformativeText(
            "\n".join(lines) + "\n\nPARS judges records against the activity it has: records not sent yet "
            "would be rejected, and accepted records stay as PARS has them. Save the activity anyway?"
        )
        save = box.addButton("Save anyway", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        self.impact_box = box
        box.exec()
        self.impact_box = None
        return box.clickedButton() is save
