"""The Learner Summary tab: one activity's learner records, and what a coordinator does with them.

Pick an activity (a searchable combo), see its records with their PARS status (a Rejected record's
tooltip says the code, the message and the fix), add a learner (Ctrl+N), delete the ticked records
(Del), open a record's history, download the list as .xlsx. Double-clicking a Rejected record opens it
to be corrected and resubmitted; a Draft opens to be edited; others open read-only with history.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import learners
from app.services.learners import ActivityOption, SearchFilters, SortKey
from app.ui.context import AppContext
from app.ui.icons import icon
from app.ui.record_model import COL_NAME, SUMMARY_COLUMNS
from app.ui.record_table import RecordTableTab
from app.wording import plural

_COUNT_REFRESH_MS = 300  # status counts under the table: at most one refresh per interval during a sync


class LearnerSummaryTab(RecordTableTab):
    download_title = "Download learners"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("learnerSummaryTab")
        self._options: list[ActivityOption] = []

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
        self._make_delete_button("Delete the ticked (or selected) records (Del)")
        self._make_history_button("Every status the selected record went through")
        self._make_rejection_buttons()
        self._make_download_button("Download learners", "Save this activity's learners as an Excel workbook")
        self.select_all = QCheckBox("Tick all", self)
        self.select_all.setObjectName("tickAll")
        self.select_all.toggled.connect(self._tick_all)

        self._make_table("summaryTable", SUMMARY_COLUMNS, COL_NAME, SortKey.NAME, descending=False)
        self.model.modelReset.connect(self._update_buttons)

        self._make_count_label()
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
        buttons.addWidget(self.resubmit_button)
        buttons.addWidget(self.next_rejected_button)
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

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(_COUNT_REFRESH_MS)
        self._count_timer.timeout.connect(self._refresh_count)
        self._counted_filters: SearchFilters | None = None  # what the count being read is for
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

    def _store_changed(self) -> None:
        """Another process changed the store: pick up activities added or renamed there without
        disturbing the activity shown, then re-read its records keeping the selection."""
        options = self.ctx.read(learners.activity_options)
        current = self.current_activity_id()
        if options != self._options:
            if current is not None and all(option.row_id != current for option in options):
                self.reload_activities()  # the activity shown is gone
                return
            self._options = options
            self.activity_combo.blockSignals(True)
            self.activity_combo.clear()
            for option in options:
                self.activity_combo.addItem(option.label, option.row_id)
            self.activity_combo.setCurrentIndex(self.activity_combo.findData(current) if current is not None else -1)
            self.activity_combo.blockSignals(False)
            self.empty_label.setVisible(not options)
            if current is None and options:
                self.show_activity(options[0].row_id)  # the first activity arrived: show it
                return
        super()._store_changed()

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

    def _records_updated(self) -> None:
        # statuses changed even when the total did not: the counts under the table follow
        if not self._count_timer.isActive():
            self._count_timer.start()

    def _backlog_applied(self) -> None:
        self._refresh_count()

    def _can_download(self) -> bool:
        return self.current_activity_id() is not None and self.model.total > 0

    def _update_buttons(self, *_args: Any) -> None:
        self.add_button.setEnabled(self.current_activity_id() is not None)
        super()._update_buttons()

    def _refresh_count(self) -> None:
        """The counts under the table after record changes (a sync reports them in bursts): one
        GROUP BY over the activity's records, read in the background."""
        filters = self.model.filters
        if filters is None:
            self.count_label.setText("")
            return
        self._counted_filters = filters
        self.ctx.read_later(f"summary-counts-{id(self)}", learners.status_counts, filters,
                            on_result=self._counts_read)

    def _counts_read(self, counts: list[tuple[str, int]]) -> None:
        if self._counted_filters == self.model.filters:  # not another activity chosen meanwhile
            self._set_count_text(self.model.total, counts)

    def _show_count(self, total: int) -> None:
        if self.model.filters is None:
            self.count_label.setText("")
            return
        self._set_count_text(total, self.ctx.read(learners.status_counts, self.model.filters))

    def _set_count_text(self, total: int, counts: list[tuple[str, int]]) -> None:
        detail = ", ".join(f"{n} {status}" for status, n in counts)
        self.count_label.setText(plural(total, "record") + (f": {detail}" if detail else ""))

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

    def show_note(self, text: str) -> None:
        self.note_label.setText(text)

    def _follow_dialog(self, dialog: Any) -> None:
        # a resubmitted or edited record says what its save did under the table
        reported = getattr(dialog, "reported", None)
        if reported is not None:
            reported.connect(self.note_label.setText)

    # --- export -------------------------------------------------------------------------------

    def suggested_file_name(self) -> str | None:
        option = self.current_option()
        if option is None:
            return None
        safe_title = "".join(c if c.isalnum() or c in " -_" else "_" for c in option.activity.title).strip()
        return f"{option.activity.activity_id or 'activity'} {safe_title[:60]} learners.xlsx"
