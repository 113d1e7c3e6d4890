"""Editing an activity so that records already reported no longer fit it (dates, credits, boards)
warns with the count and asks; nothing changes unless the coordinator says "Save anyway"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.pars.domain import Status
from app.services.activities_view import activity_change_impact, load_activity
from app.ui.activities_tab import ActivitiesTab
from app.ui.activity_dialog import ActivityDialog
from tests.sync_support import RecordSpec, add_activity, queue_records
from tests.ui_support import make_context, when_modal_opens

AS_OF = date(2026, 2, 15)
ON_THE_6TH = RecordSpec(completion_date=date(2026, 1, 6), cme_credits=Decimal("8"),
                        board=("ABIM", "100001", Decimal("8"), {"Medical Knowledge": "8"}))
ON_THE_5TH = RecordSpec(completion_date=date(2026, 1, 5), cme_credits=Decimal("2"))


def _activity_with_records(store) -> int:
    activity = add_activity(store, accme_id="123456789", start=date(2026, 1, 5), end=date(2026, 1, 7),
                            cme_credits=Decimal("8"), abim_points=Decimal("8"))
    queue_records(store, activity, 2, spec=ON_THE_6TH)
    queue_records(store, activity, 1, spec=ON_THE_6TH, status=Status.ACCEPTED.value, outbox_action=None, label="a")
    queue_records(store, activity, 1, spec=ON_THE_5TH, label="f")  # fits either way
    queue_records(store, activity, 1, spec=ON_THE_6TH, status=Status.DRAFT.value, outbox_action=None, label="d")
    return activity


def test_impact_counts_reported_records_the_edit_breaks_by_pars_code(store):
    activity = _activity_with_records(store)
    with store.session() as s:
        stored = load_activity(s, activity)
        assert activity_change_impact(s, activity, stored, AS_OF).records == 0
        shrunk = stored.__class__(**{**{f: getattr(stored, f) for f in stored.__dataclass_fields__},
                                     "end_date": date(2026, 1, 5), "cme_credits": Decimal("4")})
        impact = activity_change_impact(s, activity, shrunk, AS_OF)
    assert impact.records == 3 and impact.accepted == 1  # the draft is not reported; the 5th still fits
    codes = {code: count for code, count, _message in impact.problems}
    assert codes == {671: 3, 674: 3}
    assert any("after the activity's end date 01-05-2026" in message for _c, _n, message in impact.problems)


def test_shrinking_dates_and_credits_warns_with_the_count_and_asks(qtbot, store, tmp_path):
    activity = _activity_with_records(store)
    tab = ActivitiesTab(make_context(store))
    qtbot.addWidget(tab)
    tab.show()
    assert tab.select_activity(activity)
    failures: list[BaseException] = []
    seen: list[str] = []

    def answer(button_text: str):
        def act(box: QMessageBox) -> None:
            assert isinstance(box, QMessageBox) and box.objectName() == "activityImpactBox"
            seen.append(box.text() + "\n" + box.informativeText())
            box.grab().save(str(tmp_path / f"impact-{len(seen)}.png"))
            QTest.mouseClick(next(b for b in box.buttons() if b.text() == button_text), Qt.MouseButton.LeftButton)
        return act

    def edit(dialog: ActivityDialog) -> None:
        assert isinstance(dialog, ActivityDialog)
        dialog.end_edit.setDate(QDate(2026, 1, 5))
        dialog.cme_spin.setValue(4)
        when_modal_opens(qtbot, answer("Keep editing"), failures)
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible()  # nothing saved: the form stays for another try
        with store.session() as s:
            assert load_activity(s, activity).end_date == date(2026, 1, 7)
        when_modal_opens(qtbot, answer("Save anyway"), failures)
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    when_modal_opens(qtbot, edit, failures)
    QTest.mouseClick(tab.edit_button, Qt.MouseButton.LeftButton)
    assert not failures, failures
    assert len(seen) == 2
    assert seen[0].startswith("3 reported learner records no longer fit this activity as edited, "
                              "1 of them already accepted by PARS.")
    assert "3 records: Completion date 01-06-2026 is after the activity's end date 01-05-2026 (671)" in seen[0]
    assert "(674)" in seen[0]
    with store.session() as s:
        saved = load_activity(s, activity)
    assert saved.end_date == date(2026, 1, 5) and saved.cme_credits == Decimal("4")
    assert QApplication.activeModalWidget() is None


def test_an_edit_that_every_reported_record_still_fits_saves_without_asking(qtbot, store):
    activity = _activity_with_records(store)
    dialog = ActivityDialog(make_context(store), None, activity_row_id=activity)
    qtbot.addWidget(dialog)
    dialog.title_edit.setText("Cardiology Update 2026")
    dialog.end_edit.setDate(QDate(2026, 1, 9))  # longer is never a problem
    dialog.accept()
    assert dialog.impact_box is None and dialog.result() == ActivityDialog.DialogCode.Accepted
