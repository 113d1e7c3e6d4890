"""Deadline warnings where work happens: the entry dialog and the Batch Upload summary say when a
record is already past, or near, a PARS deadline before it is queued."""

from __future__ import annotations

from datetime import date

from app.pars import clock
from app.ui.batch_upload import BatchUploadTab
from app.ui.learner_dialog import LearnerDialog
from tests.batch_support import AS_OF, add_activity as add_batch_activity, row, write_xlsx
from tests.learner_support import add_activity
from tests.ui_support import make_context


def _dialog(qtbot, store, completed: str) -> LearnerDialog:
    activity = add_activity(store, start=date(2026, 1, 5), end=date(2026, 10, 2))  # ABIM claim 12-31-2026
    dialog = LearnerDialog(make_context(store), None, activity, online_match=False)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.completion_date.setText(completed)
    dialog.add_board()
    dialog.validate_now()
    return dialog


def test_the_entry_dialog_warns_of_a_passed_30_day_deadline(qtbot, store):
    with clock.pinned(date(2026, 12, 20)):  # the dialog takes today from the one clock
        dialog = _dialog(qtbot, store, "11/10/2026")
    assert dialog.deadline_note.isVisible()
    text = dialog.deadline_note.text()
    assert text.startswith("Past a deadline — MOC within 30 days: the deadline was 12-10-2026.")
    assert "Due soon — Credit claim date (671): due 12-31-2026 (in 11 days)" in text
    assert {w.rule for w in dialog.deadline_warnings} == {"moc_30_days", "moc_year_end", "credit_claim_date"}


def test_the_entry_dialog_says_nothing_when_no_deadline_is_near(qtbot, store):
    with clock.pinned(date(2026, 6, 20)):
        dialog = _dialog(qtbot, store, "06/10/2026")
    assert not dialog.deadline_note.isVisible()
    assert dialog.deadline_warnings == []


def test_batch_upload_summary_counts_rows_past_and_near_a_deadline(qtbot, store, tmp_path):
    add_batch_activity(store)
    tab = BatchUploadTab(make_context(store))
    tab.as_of = AS_OF  # 02-15-2026
    qtbot.addWidget(tab)
    tab.show()
    path = write_xlsx(tmp_path / "late.xlsx", [row(1, Completion_Date="01-06-2026"), row(2, Completion_Date="01-20-2026")])
    with qtbot.waitSignal(tab.analysis_ready, timeout=15_000):
        tab.load_file(path)
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    assert tab.deadline_label.isVisible()
    assert ("MOC within 30 days: 1 already past it, 1 due soon (earliest deadline 02-05-2026)"
            in tab.deadline_label.text())
