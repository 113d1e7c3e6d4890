"""What both learner tabs do with a record: open it, show its history, delete a selection.

Opening follows the record's state: a Rejected record opens in the entry dialog to be corrected and
resubmitted, a Draft opens to be edited, anything else opens read-only with its full history.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.pars import catalog
from app.pars.domain import Status
from app.pars.values import format_amount, format_pars_date
from app.services import learners
from app.services.learners import HistoryEntry, LearnerRecordView
from app.ui.context import AppContext
from app.ui.record_model import rejection_text
from app.wording import plural


class RecordDetailsDialog(QDialog):
    """A record read-only: who, what, where it stands, and every step of its history."""

    def __init__(self, ctx: AppContext, completion_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recordDetailsDialog")
        record, history = ctx.read(learners.record_with_history, completion_id)
        if record is None:
            raise LookupError(f"learner record {completion_id} no longer exists")
        self.record = record
        self.history = history
        self.setWindowTitle(f"{record.learner_name} — {record.status}")
        self.resize(900, 520)

        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Learner:", QLabel(f"{record.first_name} {record.last_name}"))
        if record.birth_date:
            form.addRow("Date of birth:", QLabel(record.birth_date))
        license_text = " ".join(p for p in (record.licensing_state, record.license_id) if p)
        form.addRow("License / NPI:", QLabel(license_text or "—"))
        form.addRow("Activity:", QLabel(f"{record.activity_title} ({record.activity_accme_id or 'not registered'})"))
        form.addRow("Completed:", QLabel(format_pars_date(record.completion_date)))
        form.addRow(
            "CME credits:",
            QLabel(format_amount(record.cme_credits) if record.cme_credits is not None else "not reported"),
        )
        boards = "\n".join(
            f"{b.board} {b.board_id or '(no board ID)'}: {format_amount(b.points)} points"
            + (" — " + ", ".join(f"{n} {format_amount(a)}" for n, a in b.credit_types) if b.credit_types else "")
            for b in record.boards
        )
        form.addRow("Boards:", QLabel(boards or "none"))
        form.addRow("Credit ID:", _selectable(record.credit_id))
        status = QLabel(record.status)
        status.setObjectName("statusLabel")
        form.addRow("Status:", status)
        if record.is_rejected:
            reason = QLabel(rejection_text(record))
            reason.setObjectName("rejectionLabel")
            reason.setWordWrap(True)
            reason.setStyleSheet("color: #b3261e;")
            form.addRow("Why:", reason)
        elif record.status_message:
            message = QLabel(record.status_message)
            message.setWordWrap(True)
            form.addRow("Note:", message)
        layout.addLayout(form)

        layout.addWidget(QLabel("<b>History</b>"))
        self.table = history_table(history, self)
        layout.addWidget(self.table, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def _selectable(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def history_table(history: list[HistoryEntry], parent: QWidget | None = None) -> QTableWidget:
    headers = ("When (UTC)", "Status", "By", "Code", "Message", "Credit ID")
    table = QTableWidget(len(history), len(headers), parent)
    table.setObjectName("historyTable")
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    for row, entry in enumerate(history):
        who = entry.source if not entry.actor else f"{entry.source} ({entry.actor})"
        code = ""
        if entry.code:
            code = str(entry.code)
        values = (
            f"{entry.at:%m-%d-%Y %H:%M:%S}",
            entry.status,
            who,
            code,
            entry.message or (catalog.error(entry.code).message if entry.code else ""),
            entry.credit_id,
        )
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            if column == 4 and entry.code:
                item.setToolTip(f"{entry.code} — {catalog.error(entry.code).fix}")
            table.setItem(row, column, item)
            if column == 5:
                item.setToolTip(value)  # long creditIDs are elided in the cell
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(5, QHeaderView.ResizeMode.Interactive)
    table.setColumnWidth(5, 150)
    return table


def open_record(ctx: AppContext, parent: QWidget | None, completion_id: int) -> QDialog | None:
    """Open a record the way its state calls for; returns the dialog shown (open, not exec'd)."""
    record, refusal = ctx.read(learners.record_for_opening, completion_id)
    if record is None:
        return None
    from app.ui.learner_dialog import LearnerDialog

    dialog: QDialog
    if record.is_rejected and refusal is None:
        dialog = LearnerDialog(ctx, parent, activity_row_id=record.activity_row_id, resubmit_id=completion_id)
    elif record.status == Status.DRAFT.value:
        dialog = LearnerDialog(ctx, parent, activity_row_id=record.activity_row_id, edit_id=completion_id)
    else:
        dialog = RecordDetailsDialog(ctx, completion_id, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_history(ctx: AppContext, parent: QWidget | None, completion_id: int) -> RecordDetailsDialog:
    dialog = RecordDetailsDialog(ctx, completion_id, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def describe_refusals(refused: list[tuple[LearnerRecordView | None, int, str]]) -> str:
    lines = []
    for record, completion_id, reason in refused:
        who = f"{record.learner_name} ({format_pars_date(record.completion_date)})" if record else f"Record {completion_id}"
        lines.append(f"• {who}: {reason}")
    return "\n".join(lines)


def delete_with_feedback(ctx: AppContext, parent: QWidget, ids: list[int]) -> QMessageBox | None:
    """Delete these records (queueing PARS deletes where needed) and tell the user which were refused
    and why. Returns the message box shown for refusals (non-blocking), if any."""
    if not ids:
        return None
    refused = ctx.write(learners.delete_records_explained, ids, ctx.actor)
    ctx.notify_records_changed(ids)
    refused_ids = {completion_id for _view, completion_id, _reason in refused}
    deleted = [completion_id for completion_id in ids if completion_id not in refused_ids]
    if deleted:
        ctx.records_deleted.emit(deleted)  # Edit → Undo delete can take it back until it is sent
    if not refused:
        return None
    done = len(ids) - len(refused)
    text = (
        f"{len(refused)} of {plural(len(ids), 'record')} cannot be deleted now"
        + (f"; the other {done} {'was' if done == 1 else 'were'} deleted or queued for deletion." if done else ".")
    )
    box = QMessageBox(QMessageBox.Icon.Warning, "Some records were not deleted", text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("deleteRefusedBox")
    box.setInformativeText(describe_refusals(refused))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box

