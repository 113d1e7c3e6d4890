"""A correction is what is sent: end to end in the real window, against the real PARS sandbox.

Two rejections the sandbox's seeded registries produce: 664 (Avery Morgan's birth date is 03/14 in the
ABIM records, the record says 03/15) and 661 from a state medical board (Taylor Brooks holds NC
license 2011-00412; a record naming Maryland is not found in the MD board's records). Each is
corrected three ways: by double-click in Learner Summary, by the upload's rejection workbook dropped
back into Batch Upload, and by an XML file. Every test asserts on what the sandbox RECEIVED and
decided, not on the form.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select

from app.models import CompletionRow
from app.pars.domain import (
    F_ACTION,
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
    F_STATE,
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    Learner,
)
from learner_support import add_activity, store_record
from sync_support import clock_starting_at, running_sandbox, sandbox_client, sandbox_records
from tests.batch_support import write_xlsx, write_xml
from tests.test_batch_upload_tab import attest_and_queue, drop_and_wait_summary, edit_workbook, save_rejections
from ui_support import make_context, make_window

ACCME_ID = "123456789"
# The app judges records against the real today: the activity ended two days ago, and the completion
# stays in the activity's last year (deletes and deadlines are not this file's subject).
TODAY = date.today()
START, END = TODAY - timedelta(days=20), TODAY - timedelta(days=2)
COMPLETED = max(END - timedelta(days=3), date(END.year, 1, 1))
CLAIM_BY = END + timedelta(days=90)
ACTIVITY = Activity(
    activity_id=ACCME_ID, title="Heart Failure Masterclass", activity_type="Course", start_date=START,
    end_date=END, cme_credits=Decimal("8"),
    boards=(BoardRegistration("ABIM", Decimal("8"), ("Medical Knowledge",), CLAIM_BY),),
)

# (first, last, DOB, state, license); the registry's truth and the typo each record starts with
AVERY_WRONG_DOB = ("Avery", "Morgan", "03/15", "MD", "D0048213")  # ABIM 100001 is born 03/14: 664
TAYLOR_WRONG_STATE = ("Taylor", "Brooks", "12/05", "MD", "2011-00412")  # an NC license: 661 in MD


@pytest.fixture
def sandbox():
    """A sandbox living at noon of the activity's last day; the boards answer when the test advances."""
    with running_sandbox(activities=[ACTIVITY], board_delay=3600.0,
                         clock=clock_starting_at(datetime.combine(END, time(12)))) as server:
        yield server


@pytest.fixture
def window(qtbot, store, sandbox):
    add_activity(store, accme_id=ACCME_ID, title=ACTIVITY.title, start=START, end=END, cme=Decimal("8"),
                 boards=(("ABIM", Decimal("8"), ("Medical Knowledge",)),))
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    return make_window(qtbot, ctx)


def _completion(who: tuple[str, str, str, str, str], *, board_id: str | None, credit_id: str | None = None
                ) -> Completion:
    return Completion(
        activity_id=ACCME_ID,
        credit_id=credit_id,
        learner=Learner(*who),
        completion_date=COMPLETED,
        cme=CmePart(Decimal("8")),
        boards=[BoardPart("ABIM", board_id, Decimal("8"), {"Medical Knowledge": None})] if board_id else [],
    )


def _row(who: tuple[str, str, str, str, str], *, board_id: str | None) -> dict[str, str]:
    first, last, dob, state, license_id = who
    cells = {
        F_ACTION: "Add", F_ACTIVITY_ID: ACCME_ID, F_COMPLETION_DATE: COMPLETED.strftime("%m-%d-%Y"),
        F_FIRST_NAME: first, F_LAST_NAME: last, F_DOB: dob, F_STATE: state, F_LICENSE_ID: license_id,
        F_CME_CREDITS: "8",
    }
    if board_id:
        cells.update({F_BOARD: "ABIM", F_BOARD_ID: board_id, F_BOARD_POINTS: "8",
                      F_CREDIT_TYPE: "Medical Knowledge", F_CREDIT_TYPE_AMOUNT: "8"})
    return cells


def _sync(qtbot, window) -> None:
    with qtbot.waitSignal(window.sync_finished, timeout=30_000) as finished:
        window.sync_now()
    report = finished.args[0]
    assert not report["fatal"] and report["errors"] == 0, report


def _sync_until_the_boards_answer(qtbot, window, sandbox) -> None:
    _sync(qtbot, window)  # sent: Submitted
    sandbox.advance(7200)  # the boards and state boards decide
    _sync(qtbot, window)  # their answers come back


def _records(store) -> dict[str, CompletionRow]:
    with store.session() as s:
        return {row.credit_id: row for row in s.scalars(select(CompletionRow))}


def _by_learner(store, last_name: str) -> list[CompletionRow]:
    """The learner's attempts, oldest first."""
    return sorted((r for r in _records(store).values() if r.last_name == last_name), key=lambda r: r.id)


def _at_pars(sandbox, credit_id: str) -> tuple[str, int | None, Learner | None]:
    """What the sandbox decided for a creditID and the learner it received with it."""
    entry = sandbox_records(sandbox)[credit_id]
    received = sandbox.state.stored_completion(credit_id)
    return entry["status"], entry["code"], received.learner if received else None


def _assert_rejected_as_sent(sandbox, rows: list[CompletionRow]) -> None:
    avery, taylor = rows
    status, code, learner = _at_pars(sandbox, avery.credit_id)
    assert (status, code, learner.birth_date) == ("Rejected", 664, "03/15")
    status, code, learner = _at_pars(sandbox, taylor.credit_id)
    assert (status, code, learner.licensing_state) == ("Rejected", 661, "MD")


def _assert_corrections_accepted(store, sandbox) -> None:
    """Each learner's newest attempt reached PARS with the corrected values, is linked to the rejected
    one and was accepted; the rejected attempt stays as it was sent."""
    for last_name, field, wrong, right in (("Morgan", "birth_date", "03/15", "03/14"),
                                           ("Brooks", "licensing_state", "MD", "NC")):
        *earlier, newest = _by_learner(store, last_name)
        rejected = earlier[-1]
        status, code, received = _at_pars(sandbox, newest.credit_id)
        assert (status, code) == ("Accepted", None), (last_name, status, code)
        assert getattr(received, field) == right
        assert getattr(_at_pars(sandbox, rejected.credit_id)[2], field) == wrong
        assert (newest.status, newest.replaces_id, newest.credit_id != rejected.credit_id) == (
            "Accepted", rejected.id, True)
    received = [entry["received"] for entry in sandbox_records(sandbox).values()]
    assert received == [1] * len(received)  # every creditID sent once


# --- (a) double-click in Learner Summary ----------------------------------------------------------


def _status(summary, completion_id: int) -> str:
    model = summary.model
    return model.index(model.row_of(completion_id), model.column_of("status")).data()


def _double_click(summary, completion_id: int):
    rect = summary.table.visualRect(summary.model.index(summary.model.row_of(completion_id), 1))
    QTest.mouseClick(summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = summary.last_dialog
    assert dialog.resubmit_id == completion_id
    return dialog


def _resubmit(qtbot, dialog) -> int:
    with qtbot.waitSignal(dialog.saved) as saved:
        QTest.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    assert saved.args[1] == "Queued"
    return saved.args[0]


def test_a_664_and_a_state_rejection_corrected_by_double_click_are_accepted(qtbot, store, sandbox, window):
    activity = window.summary_tab.current_activity_id()
    avery = store_record(store, activity, _completion(AVERY_WRONG_DOB, board_id="100001"))
    taylor = store_record(store, activity, _completion(TAYLOR_WRONG_STATE, board_id=None))
    window.show_activity(activity)
    summary = window.summary_tab
    _sync_until_the_boards_answer(qtbot, window, sandbox)
    assert (_status(summary, avery), _status(summary, taylor)) == ("Rejected 664", "Rejected 661")
    _assert_rejected_as_sent(sandbox, _by_learner(store, "Morgan") + _by_learner(store, "Brooks"))

    dialog = _double_click(summary, avery)
    assert dialog.birth_date.text() == "03/15"  # the record's own value, not a directory's
    dialog.birth_date.clear()
    qtbot.keyClicks(dialog.birth_date, "03/14")
    corrected_avery = _resubmit(qtbot, dialog)

    dialog = _double_click(summary, taylor)
    assert dialog.state_combo.currentData() == "MD"
    dialog.state_combo.setCurrentIndex(dialog.state_combo.findData("NC"))
    corrected_taylor = _resubmit(qtbot, dialog)

    _sync_until_the_boards_answer(qtbot, window, sandbox)
    _assert_corrections_accepted(store, sandbox)
    assert (_status(summary, corrected_avery), _status(summary, corrected_taylor)) == ("Accepted", "Accepted")
    assert _status(summary, avery) == "Rejected 664 (resubmitted)"


# --- (b) the rejection workbook dropped back into Batch Upload --------------------------------------


def test_a_664_and_a_state_rejection_corrected_in_the_rejection_workbook_are_accepted(
    qtbot, store, sandbox, window, tmp_path: Path
):
    upload = window.upload_tab
    original = write_xlsx(tmp_path / "masterclass.xlsx", [
        _row(AVERY_WRONG_DOB, board_id="100001"), _row(TAYLOR_WRONG_STATE, board_id=None),
    ])
    drop_and_wait_summary(qtbot, upload, original)
    upload_id = attest_and_queue(qtbot, upload)
    _sync_until_the_boards_answer(qtbot, window, sandbox)
    _assert_rejected_as_sent(sandbox, _by_learner(store, "Morgan") + _by_learner(store, "Brooks"))

    rejections = tmp_path / "masterclass-rejections.xlsx"
    upload.save_path = lambda *_args: rejections
    assert save_rejections(qtbot, upload, lambda: upload.download_rejections(upload_id))[0] == rejections
    edit_workbook(rejections, {1: {F_DOB: "03/14"}, 2: {F_STATE: "NC"}})
    drop_and_wait_summary(qtbot, upload, rejections)
    assert (upload.analysis.adds, upload.analysis.with_errors) == (2, 0)
    attest_and_queue(qtbot, upload)

    _sync_until_the_boards_answer(qtbot, window, sandbox)
    _assert_corrections_accepted(store, sandbox)

    # The original file dropped again: both rows were corrected and accepted since, so nothing is queued.
    drop_and_wait_summary(qtbot, upload, original)
    notes = dict(upload.analysis.notes())
    assert upload.analysis.already_reported == 2 and upload.analysis.valid == 0
    assert all("since corrected as" in note and "(Accepted)" in note for note in notes.values())
    assert notes[3].startswith("rejected 664 on ") and notes[4].startswith("rejected 661 on ")
    assert not upload.attest_checkbox.isEnabled() and not upload.queue_button.isEnabled()


# --- (c) an XML file ------------------------------------------------------------------------------


def test_a_664_and_a_state_rejection_corrected_by_xml_are_accepted(qtbot, store, sandbox, window, tmp_path):
    upload = window.upload_tab
    avery = _completion(AVERY_WRONG_DOB, board_id="100001", credit_id="ccid:1234567:lms-avery-1")
    taylor = _completion(TAYLOR_WRONG_STATE, board_id=None, credit_id="ccid:1234567:lms-taylor-1")
    drop_and_wait_summary(qtbot, upload, write_xml(tmp_path / "lms-export.xml", [avery, taylor]))
    attest_and_queue(qtbot, upload)
    _sync_until_the_boards_answer(qtbot, window, sandbox)
    _assert_rejected_as_sent(sandbox, _by_learner(store, "Morgan") + _by_learner(store, "Brooks"))

    # The LMS sends Avery's record again under the same creditID, Taylor's under a new one.
    avery.learner.birth_date = "03/14"
    taylor.learner.licensing_state = "NC"
    taylor.credit_id = "ccid:1234567:lms-taylor-2"
    drop_and_wait_summary(qtbot, upload, write_xml(tmp_path / "lms-corrections.xml", [avery, taylor]))
    assert (upload.analysis.adds, upload.analysis.with_errors) == (2, 0), upload.analysis.problems()
    attest_and_queue(qtbot, upload)

    _sync_until_the_boards_answer(qtbot, window, sandbox)
    _assert_corrections_accepted(store, sandbox)
    assert _by_learner(store, "Brooks")[-1].credit_id == "ccid:1234567:lms-taylor-2"


# --- (d) the XML upload's own rejection file, corrected in an editor --------------------------------


def test_a_664_and_a_state_rejection_corrected_in_the_xml_rejection_file_are_accepted(
    qtbot, store, sandbox, window, tmp_path
):
    from lxml import etree

    from app.pars.batch import load_batch

    upload = window.upload_tab
    avery = _completion(AVERY_WRONG_DOB, board_id="100001", credit_id="ccid:1234567:lms-avery-1")
    taylor = _completion(TAYLOR_WRONG_STATE, board_id=None, credit_id="ccid:1234567:lms-taylor-1")
    drop_and_wait_summary(qtbot, upload, write_xml(tmp_path / "lms-export.xml", [avery, taylor]))
    upload_id = attest_and_queue(qtbot, upload)
    _sync_until_the_boards_answer(qtbot, window, sandbox)

    rejections = tmp_path / "lms-export-rejections.xml"
    upload.refresh_history()
    upload.save_path = lambda _caption, suggested, _filter: tmp_path / suggested
    assert save_rejections(qtbot, upload, lambda: upload.download_rejections(upload_id))[0] == rejections
    # the records as they were sent, under their creditIDs, with PARS's and the board's answers
    read_back = [record.completion for record in load_batch(rejections).records]
    assert [c.credit_id for c in read_back] == ["ccid:1234567:lms-avery-1", "ccid:1234567:lms-taylor-1"]
    root = etree.parse(str(rejections)).getroot()
    assert [e.text for e in root.iter("{*}RejectionCode")] == ["664", "661"]

    # corrected in an editor: Avery's birth date, Taylor's licensing state
    for element in root.iter("{*}BirthDate"):
        element.text = element.text.replace("-03-15", "-03-14")
    for element in root.iter("{*}UniqueID"):
        element.set("domain", element.get("domain").replace("MD", "NC") if element.text == "2011-00412"
                    else element.get("domain"))
    corrected = tmp_path / "lms-export-corrected.xml"
    corrected.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    drop_and_wait_summary(qtbot, upload, corrected)
    assert (upload.analysis.adds, upload.analysis.with_errors) == (2, 0), upload.analysis.problems()
    attest_and_queue(qtbot, upload)

    _sync_until_the_boards_answer(qtbot, window, sandbox)
    _assert_corrections_accepted(store, sandbox)
