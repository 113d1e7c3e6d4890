"""The learner entry dialog, driven through its real widgets: typing, live validation, saving."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from app.models import CompletionRow, OutboxRow
from app.pars.domain import Status
from app.services import learners
from app.ui.learner_dialog import LearnerDialog
from app.ui.learner_summary import LearnerSummaryTab

from learner_support import completion, recent_activity, store_record
from ui_support import make_context


def _dialog(qtbot, ctx, activity, **kwargs) -> LearnerDialog:
    dialog = LearnerDialog(ctx, None, activity, online_match=False, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _type(qtbot, widget, text: str) -> None:
    widget.clear()
    qtbot.keyClicks(widget, text)


def _fill_learner(qtbot, dialog, first="Ada", last="Lovelace", dob="12/10", state="CA", license_id="A12345") -> None:
    _type(qtbot, dialog.first_name, first)
    _type(qtbot, dialog.last_name, last)
    _type(qtbot, dialog.birth_date, dob)
    dialog.state_combo.setCurrentIndex(dialog.state_combo.findData(state))
    _type(qtbot, dialog.license_id, license_id)


def _codes(dialog) -> set[int]:
    return {issue.code for issue in dialog.issues}


def test_add_a_cme_and_moc_learner_with_live_validation(qtbot, store):
    activity = recent_activity(store)
    ctx = make_context(store)
    tab = LearnerSummaryTab(ctx)
    qtbot.addWidget(tab)
    dialog = tab.new_learner()  # deletes itself on close
    assert dialog.current_option().row_id == activity
    assert dialog.cme_credits.text() == "8"  # the activity's CME credits by default

    _fill_learner(qtbot, dialog)
    qtbot.mouseClick(dialog.add_board_button, Qt.MouseButton.LeftButton)
    board = dialog.board_editors[0]
    assert board.board_code() == "ABIM"
    assert [r.name for r in board.type_rows] == ["Medical Knowledge", "Patient Safety"]
    _type(qtbot, board.board_id, "123456")
    _type(qtbot, board.points, "1.3")

    qtbot.waitUntil(lambda: "675" in board.points_error.text(), timeout=2_000)
    assert board.points_error.isVisible()
    assert board.points.property("error") is True
    assert "675" in dialog.summary.text()

    _type(qtbot, board.points, "2.25")
    qtbot.waitUntil(lambda: not board.points_error.isVisible(), timeout=2_000)
    assert dialog.issues == []
    # credit types follow the total until edited
    assert [r.amount.value() for r in board.type_rows] == [2.25, 2.25]
    board.type_rows[1].amount.setValue(1.0)
    _type(qtbot, board.points, "3")
    assert [r.amount.value() for r in board.type_rows] == [3.0, 1.0]

    qtbot.mouseClick(dialog.permission, Qt.MouseButton.LeftButton)
    assert dialog.permission.isChecked()
    with qtbot.waitSignal(dialog.saved, timeout=2_000) as saved:
        qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    completion_id, status = saved.args
    assert status == Status.QUEUED.value
    assert not dialog.isVisible()

    with store.session() as s:
        view = learners.record_by_id(s, completion_id)
        assert s.scalar(select(OutboxRow.completion_id)) == completion_id
    assert view.cme_credits == Decimal("8")
    assert view.credit_type_details == "ABIM: Medical Knowledge 3, Patient Safety 1"
    # the tab shows the new record at once
    qtbot.waitUntil(lambda: tab.model.row_of(completion_id) is not None, timeout=2_000)
    assert "queued" in tab.note_label.text()


def test_without_permission_submit_saves_a_draft_and_says_so(qtbot, store):
    activity = recent_activity(store)
    dialog = _dialog(qtbot, make_context(store), activity)
    _fill_learner(qtbot, dialog)
    dialog.validate_now()
    assert dialog.issues == []
    assert dialog.submit_button.text() == "Save as Draft"
    assert "Draft" in dialog.summary.text()

    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    assert saved.args[1] == Status.DRAFT.value
    assert "saved as a Draft" in dialog.outcome and "permission" in dialog.outcome
    with store.session() as s:
        assert learners.pending_outbox_ids(s, [saved.args[0]]) == set()


def test_invalid_record_is_not_saved_and_problems_stay_listed(qtbot, store):
    activity = recent_activity(store)
    dialog = _dialog(qtbot, make_context(store), activity)
    _type(qtbot, dialog.first_name, "Ada")
    _type(qtbot, dialog.completion_date, "13/45/2026")
    result = dialog.submit()
    assert result is not None and not result.saved
    assert {623, 671} <= _codes(dialog)
    assert "671" in dialog.field_errors["Completion Date"].text()
    assert dialog.isVisible()
    with store.session() as s:
        assert s.scalar(select(CompletionRow.id)) is None


def test_submit_and_add_another_keeps_activity_date_and_boards_and_clears_the_learner(qtbot, store):
    activity = recent_activity(store)
    dialog = _dialog(qtbot, make_context(store), activity)
    _fill_learner(qtbot, dialog)
    board = dialog.add_board("ABIM")
    _type(qtbot, board.board_id, "123456")
    dialog.permission.setChecked(True)
    date_text = dialog.completion_date.text()

    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(dialog.submit_another_button, Qt.MouseButton.LeftButton)

    assert dialog.isVisible()
    assert dialog.first_name.text() == "" and dialog.license_id.text() == "" and board.board_id.text() == ""
    assert dialog.completion_date.text() == date_text and dialog.current_option().row_id == activity
    assert board.points.text() == "8" and not dialog.permission.isChecked()
    assert "queued" in dialog.note.text() and "next learner" in dialog.note.text()
    assert QApplication.focusWidget() in (dialog.first_name, None)

    _fill_learner(qtbot, dialog, "Grace", "Hopper", license_id="G2")
    _type(qtbot, board.board_id, "654321")
    dialog.permission.setChecked(True)
    assert dialog.submit().saved
    assert len(dialog.saved_ids) == 2


def test_board_choices_are_the_activitys_registered_boards(qtbot, store):
    activity = recent_activity(store)
    dialog = _dialog(qtbot, make_context(store), activity)
    first = dialog.add_board()
    second = dialog.add_board()
    assert [first.board_code(), second.board_code()] == ["ABIM", "ABP"]
    assert [first.board_combo.itemData(i) for i in range(first.board_combo.count())] == ["ABIM", "ABP"]
    qtbot.mouseClick(second.remove_button, Qt.MouseButton.LeftButton)
    assert dialog.board_editors == [first]


def test_rems_activity_asks_for_the_profession(qtbot, store):
    activity = recent_activity(store, title="Opioid Prescribing REMS", boards=(), rems=True)
    dialog = _dialog(qtbot, make_context(store), activity)
    assert dialog.rems_group.isVisible() and dialog.rems_group.isChecked()
    _fill_learner(qtbot, dialog)
    dialog.permission.setChecked(True)
    assert not dialog.submit().saved
    assert "REMS profession is required" in dialog.field_errors["REMS Profession"].text()
    dialog.rems_profession.setCurrentIndex(dialog.rems_profession.findData("Pharmacist"))
    dialog.validate_now()
    assert dialog.issues == []


def test_learner_match_prefills_from_stored_learners_when_offline(qtbot, store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A12345"), status=Status.ACCEPTED)
    ctx = make_context(store)  # local environment without a sandbox: PARS cannot be reached
    dialog = LearnerDialog(ctx, None, activity)
    qtbot.addWidget(dialog)
    board = dialog.add_board("ABIM")

    with qtbot.waitSignal(dialog.match_finished, timeout=5_000) as finished:
        _type(qtbot, dialog.last_name, "Lovelace")
        _type(qtbot, dialog.first_name, "Ada")
    assert finished.args == ["unique"]
    assert "Learner matched (stored learners)" in dialog.match_label.text()
    assert dialog.birth_date.text() == "12/10"
    assert dialog.license_id.text() == "A12345"
    assert dialog.state_combo.currentData() == "CA"
    assert board.board_id.text() == "123456"


def test_learner_match_asks_the_pars_sandbox_online(qtbot, store, sandbox):
    from sync_support import sandbox_client

    activity = recent_activity(store)
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    dialog = LearnerDialog(ctx, None, activity)
    qtbot.addWidget(dialog)
    board = dialog.add_board("ABIM")

    with qtbot.waitSignal(dialog.match_finished, timeout=10_000) as finished:
        _type(qtbot, dialog.first_name, "Avery")
        _type(qtbot, dialog.last_name, "Morgan")
    assert finished.args == ["unique"]
    assert "(PARS)" in dialog.match_label.text()
    assert dialog.birth_date.text() == "03/14" and dialog.state_combo.currentData() == "MD"
    assert board.board_id.text() == "100001"


def test_editing_a_draft_then_giving_permission_queues_it(qtbot, store):
    activity = recent_activity(store)
    draft = store_record(store, activity, completion(completed=_recent(), permission=False))
    dialog = _dialog(qtbot, make_context(store), activity, edit_id=draft)
    assert dialog.first_name.text() == "Ada" and dialog.board_editors[0].board_id.text() == "123456"
    assert not dialog.activity_combo.isEnabled()
    _type(qtbot, dialog.cme_credits, "6")
    dialog.permission.setChecked(True)
    result = dialog.submit()
    assert result.saved and result.completion_id == draft and result.status == Status.QUEUED.value


def _recent():
    from datetime import date, timedelta

    return date.today() - timedelta(days=3)


def test_problems_show_next_to_a_field_once_it_was_edited(qtbot, store):
    activity = recent_activity(store)
    dialog = _dialog(qtbot, make_context(store), activity)
    assert {622, 623} <= _codes(dialog)  # listed in the summary from the start...
    assert "622" in dialog.summary.text()
    assert not dialog.field_errors["First Name"].isVisible()  # ...but not shouted at every empty field
    qtbot.keyClicks(dialog.first_name, "A")
    qtbot.keyClick(dialog.first_name, Qt.Key.Key_Backspace)  # typed, then erased: now it is missing
    dialog.validate_now()
    assert "622" in dialog.field_errors["First Name"].text() and dialog.field_errors["First Name"].isVisible()
    assert not dialog.field_errors["Last Name"].isVisible()


@pytest.mark.parametrize("typed, shown", [("3/7", "03/07"), ("12-10", "12/10")])
def test_birth_date_is_accepted_as_people_write_it(qtbot, store, typed, shown):
    activity = recent_activity(store)
    dialog = _dialog(qtbot, make_context(store), activity)
    _type(qtbot, dialog.birth_date, typed)
    assert dialog.completion().learner.birth_date == shown


# --- the record's identity against what the learner match holds -----------------------------------


def test_a_typed_birth_date_that_differs_from_the_stored_learner_is_noted_and_wins(qtbot, store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", dob="12/10", license_id="A12345",
                                             completed=_recent()), status=Status.ACCEPTED)
    dialog = LearnerDialog(make_context(store), None, activity)  # offline: the store's learners answer
    qtbot.addWidget(dialog)
    _type(qtbot, dialog.birth_date, "01/01")
    dialog.state_combo.setCurrentIndex(dialog.state_combo.findData("CA"))
    with qtbot.waitSignal(dialog.match_finished, timeout=5_000) as finished:
        _type(qtbot, dialog.license_id, "A12345")
        _type(qtbot, dialog.first_name, "Ada")
        _type(qtbot, dialog.last_name, "Lovelace")
    assert finished.args == ["unique"]
    note = dialog.match_notes["Date of Birth"]
    assert note.text() == "Your learner list has 12/10 on file for this learner; this record sends 01/01."
    assert not note.isHidden()
    assert dialog.birth_date.text() == "01/01"  # the coordinator's value is kept
    assert dialog.match_differences() == {"Date of Birth": note.text()}

    dialog.permission.setChecked(True)
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    with store.session() as s:
        sent = learners.completion_for_edit(s, saved.args[0])
        (match,) = learners.local_learner_matches(s, sent.learner)
    assert sent.learner.birth_date == "01/01"  # stored and sent as typed
    assert match.learner.birth_date == "01/01"  # and the learner list learned it


def test_the_correction_dialog_shows_where_pars_holds_other_values_until_they_agree(qtbot, store, sandbox):
    from sync_support import sandbox_client

    activity = recent_activity(store)
    # Avery Morgan, ABIM 100001, is born 03/14 and licensed in MD in the sandbox's registry
    rejected = store_record(
        store, activity,
        completion("Avery", "Morgan", dob="03/15", state="NC", license_id="D0048213", completed=_recent(),
                   boards=[_abim("100001")]),
        status=Status.REJECTED, code=664, message="Diplomate date of birth does not match Board record",
    )
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    dialog = LearnerDialog(ctx, None, activity, resubmit_id=rejected)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.match_differences()), timeout=10_000)  # looked up on opening
    assert dialog.match_differences() == {
        "Date of Birth": "PARS has 03/14 on file for this learner; this record sends 03/15.",
        "Licensing State": "PARS has MD on file for this learner; this record sends NC.",
    }
    _type(qtbot, dialog.birth_date, "3/14")
    dialog.state_combo.setCurrentIndex(dialog.state_combo.findData("MD"))
    assert dialog.match_differences() == {}
    assert dialog.match_notes["Date of Birth"].isHidden()


def _abim(board_id: str):
    from app.pars.domain import BoardPart

    return BoardPart("ABIM", board_id, Decimal("8"), {"Medical Knowledge": None})


def test_a_board_id_that_differs_from_the_learner_list_is_noted_next_to_it(qtbot, store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A12345", completed=_recent(),
                                             boards=[_abim("123456")]), status=Status.ACCEPTED)
    dialog = LearnerDialog(make_context(store), None, activity)
    qtbot.addWidget(dialog)
    board = dialog.add_board("ABIM")
    _type(qtbot, board.board_id, "654321")
    with qtbot.waitSignal(dialog.match_finished, timeout=5_000):
        _type(qtbot, dialog.first_name, "Ada")
        _type(qtbot, dialog.last_name, "Lovelace")
        _type(qtbot, dialog.license_id, "A12345")
    assert dialog.match_differences() == {
        "Certifying Board ID ABIM": "Your learner list has 123456 on file for this learner; this record sends 654321."
    }
    assert board.board_id.text() == "654321" and not board.match_note.isHidden()
