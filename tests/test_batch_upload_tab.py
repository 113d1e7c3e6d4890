"""The Batch Upload tab, driven as a user would: drop files, read the summary, attest, queue, sync with
the sandbox, fix the rejection workbook and drop it back."""

from __future__ import annotations

import warnings
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from app.pars.domain import F_CME_CREDITS, F_COMPLETION_DATE, F_LAST_NAME, RecordAction, Status
from app.pars.excel import F_ERROR_CODE, F_ERROR_MESSAGE
from app.sync.engine import SyncEngine
from app.ui.batch_upload import ATTESTATION_TEXT, BatchUploadTab
from tests.batch_support import (
    ACTIVITY,
    AS_OF,
    add_activity,
    completion,
    counts,
    row,
    statuses,
    write_xlsx,
    write_xml,
)
from tests.sync_support import running_sandbox, sandbox_client
from tests.ui_support import make_context
from tests.xlsx_support import template_rows, write_compound_file
from tests.xlsx_support import write_xlsx as write_guarded_xlsx

# People of the sandbox's demo registry, so that the boards accept them.
AVERY = dict(First_Name="Avery", Last_Name="Morgan", Date_of_Birth="03/14", Licensing_State="MD",
             Licensing_ID_or_NPI="D0048213", Certifying_Board_ID="100001")
TAYLOR = dict(First_Name="Taylor", Last_Name="Brooks", Date_of_Birth="12/05", Licensing_State="NC",
              Licensing_ID_or_NPI="2011-00412", Certifying_Board="", Certifying_Board_ID="",
              Total_Board_Credits="", Credit_Type="", Credits_Awarded_for_Credit_Type="")
RILEY = dict(First_Name="Riley", Last_Name="Chen", Date_of_Birth="11/02", Licensing_State="WA",
             Licensing_ID_or_NPI="MD60311245", Certifying_Board="", Certifying_Board_ID="",
             Total_Board_Credits="", Credit_Type="", Credits_Awarded_for_Credit_Type="")
MORGAN = dict(First_Name="Morgan", Last_Name="Okafor", Date_of_Birth="01/30", Licensing_State="CA",
              Licensing_ID_or_NPI="A156789", Certifying_Board="", Certifying_Board_ID="",
              Total_Board_Credits="", Credit_Type="", Credits_Awarded_for_Credit_Type="")
# ABIM 100002 is Jordan *Patel*: the board rejects "Patil" with 665.
JORDAN_MISNAMED = dict(First_Name="Jordan", Last_Name="Patil", Date_of_Birth="07/22", Licensing_State="NC",
                       Licensing_ID_or_NPI="2009-01187", Certifying_Board_ID="100002")


@pytest.fixture
def ctx(store):
    add_activity(store)
    return make_context(store)


@pytest.fixture
def tab(qtbot, ctx):
    widget = BatchUploadTab(ctx)
    widget.as_of = AS_OF
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    return widget


def drop(tab: BatchUploadTab, path: Path) -> bool:
    """Drag `path` onto the drop zone and release it there; returns whether the drag was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    zone = tab.drop_zone
    with warnings.catch_warnings():  # PySide marks the only QDragEnterEvent constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    zone.dragEnterEvent(enter)
    if not enter.isAccepted():
        return False
    release = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    zone.dropEvent(release)
    return True


def drop_and_wait_summary(qtbot, tab: BatchUploadTab, path: Path) -> None:
    with qtbot.waitSignal(tab.analysis_ready, timeout=15_000):
        assert drop(tab, path)
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)


def attest_and_queue(qtbot, tab: BatchUploadTab) -> int:
    assert not tab.queue_button.isEnabled()  # nothing is queued before the attestation
    tab.attest_checkbox.setChecked(True)
    assert tab.queue_button.isEnabled()
    with qtbot.waitSignal(tab.upload_committed, timeout=15_000) as committed:
        tab.queue_button.click()
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    return committed.args[0]


def save_rejections(qtbot, tab: BatchUploadTab, start) -> tuple[Path, int]:  # noqa: ANN001
    """`start()` asks for an upload's rejections (a click, or download_rejections); the file is written
    in a worker thread: wait for it, then for the tab to be idle. Returns (path, records or rows)."""
    with qtbot.waitSignal(tab.rejections_saved, timeout=15_000) as saved:
        start()
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    return saved.args[0], saved.args[1]


def summary(tab: BatchUploadTab) -> dict[str, str]:
    return {key: label.text() for key, label in tab.summary_labels.items() if key != "file"}


def sync(store, sandbox) -> None:
    """One sync pass, then the boards answer, then another pass that collects their answers."""
    with SyncEngine(store, sandbox_client(sandbox.url)) as engine:
        engine.run()
    sandbox.advance(7200)
    with SyncEngine(store, sandbox_client(sandbox.url)) as engine:
        engine.run()


def problem_rows(tab: BatchUploadTab) -> list[tuple[str, str, str]]:
    table = tab.problems_table
    return [tuple(table.item(r, c).text() for c in range(3)) for r in range(table.rowCount())]


def edit_workbook(path: Path, edits: dict[int, dict[str, str]]) -> list[str]:
    """Change cells of data rows (1 = first data row) by header; returns the header row."""
    workbook = load_workbook(path)
    sheet = workbook.active
    header = [c.value for c in sheet[2]]
    for data_row, cells in edits.items():
        for column, value in cells.items():
            sheet.cell(2 + data_row, header.index(column) + 1, value)
    workbook.save(path)
    return header


# --- the user's stories -------------------------------------------------------------------------------


def test_excel_upload_sync_history_fix_rejections_and_upload_again(qtbot, tab, ctx, store, tmp_path):
    path = write_xlsx(tmp_path / "january.xlsx", [
        row(1, **AVERY),
        row(2, **TAYLOR),
        row(3, **RILEY, Completion_Date="02-20-2026"),  # after the activity's end date: 671
        row(4, **MORGAN, Number_of_CME_Credits="9"),  # more than the 8 offered: 674
        row(5, **JORDAN_MISNAMED),  # passes here; the board rejects it (665)
    ])
    before = counts(store)
    drop_and_wait_summary(qtbot, tab, path)
    assert summary(tab) == {"records": "5", "valid": "3", "errors": "2", "adds": "3", "deletes": "0", "already": "0", "still": "0"}
    assert ("5", F_COMPLETION_DATE, "671") in problem_rows(tab)
    assert ("6", F_CME_CREDITS, "674") in problem_rows(tab)
    assert counts(store) == before  # the summary comes before anything is stored
    assert tab.attest_checkbox.text() == ATTESTATION_TEXT

    finished: list[int] = []
    ctx.upload_finished.connect(finished.append)
    upload_id = attest_and_queue(qtbot, tab)
    assert finished == [upload_id]
    assert sorted(statuses(store).values()) == ["Queued"] * 3
    assert "3 records queued" in tab.message_label.text() and "Failed: 2" in tab.message_label.text()

    with running_sandbox(activities=[ACTIVITY]) as sandbox:
        sync(store, sandbox)
        assert sorted(statuses(store).values()) == ["Accepted", "Accepted", "Rejected"]

        tab.show_history()
        assert tab.history_box.isVisible()
        [view] = tab.history
        assert (view.records, view.queued, view.errors, view.accepted, view.rejected, view.pending) == (5, 3, 2, 2, 1, 0)
        table = tab.history_table
        assert [table.item(0, c).text() for c in range(1, 9)] == ["january.xlsx", "XLSX", "5", "3", "2", "2", "1", "0"]

        rejections = tmp_path / "january-rejections.xlsx"
        tab.save_path = lambda *_args: rejections
        save_rejections(qtbot, tab, table.cellWidget(0, table.columnCount() - 1).click)
        sheet = load_workbook(rejections).active
        header = [c.value for c in sheet[2]]
        assert header[-2:] == [F_ERROR_CODE, F_ERROR_MESSAGE]
        rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
        assert [(r[3], int(r[-2])) for r in rows] == [("Riley", 671), ("Morgan", 674), ("Jordan", 665)]

        edit_workbook(rejections, {1: {F_COMPLETION_DATE: "01-20-2026"}, 2: {F_CME_CREDITS: "2"},
                                   3: {F_LAST_NAME: "Patel"}})
        drop_and_wait_summary(qtbot, tab, rejections)  # the error columns are still in the file
        assert summary(tab) == {"records": "3", "valid": "3", "errors": "0", "adds": "3", "deletes": "0", "already": "0", "still": "0"}
        attest_and_queue(qtbot, tab)
        assert sorted(statuses(store).values()) == ["Accepted", "Accepted", "Queued", "Queued", "Queued", "Rejected"]
        sync(store, sandbox)
    assert sorted(statuses(store).values()) == ["Accepted"] * 5 + ["Rejected"]
    tab.refresh_history()
    assert [(v.file_name, v.accepted, v.rejected) for v in tab.history] == [
        ("january-rejections.xlsx", 3, 0), ("january.xlsx", 2, 1)
    ]


def _xml_completion(n: int, person: dict[str, str], *, cme: str = "4", board: bool = True):
    record = completion(n, credit_id=f"ccid:1234567:xml-{n}", cme=cme)
    learner = record.learner
    learner.first_name, learner.last_name = person["First_Name"], person["Last_Name"]
    learner.birth_date, learner.licensing_state = person["Date_of_Birth"], person["Licensing_State"]
    learner.license_id = person["Licensing_ID_or_NPI"]
    if board:
        record.boards[0].board_id = person["Certifying_Board_ID"]
    else:
        record.boards = []
    return record


def test_xml_upload_sync_fix_rejection_and_upload_again(qtbot, tab, store, tmp_path):
    path = write_xml(tmp_path / "february.xml", [
        _xml_completion(1, AVERY),
        _xml_completion(2, TAYLOR, board=False),
        _xml_completion(3, RILEY, board=False, cme="9"),  # 674
    ])
    drop_and_wait_summary(qtbot, tab, path)
    assert summary(tab) == {"records": "3", "valid": "2", "errors": "1", "adds": "2", "deletes": "0", "already": "0", "still": "0"}
    assert problem_rows(tab) == [("3", F_CME_CREDITS, "674")]
    attest_and_queue(qtbot, tab)
    assert statuses(store) == {"ccid:1234567:xml-1": "Queued", "ccid:1234567:xml-2": "Queued"}

    with running_sandbox(activities=[ACTIVITY]) as sandbox:
        sync(store, sandbox)
        assert set(statuses(store).values()) == {"Accepted"}
        tab.show_history()
        assert tab.history[0].file_format == "xml"
        rejections = tmp_path / "february-rejections.xlsx"
        tab.save_path = lambda *_args: rejections
        save_rejections(qtbot, tab, tab.history_table.cellWidget(0, tab.history_table.columnCount() - 1).click)
        edit_workbook(rejections, {1: {F_CME_CREDITS: "3"}})
        drop_and_wait_summary(qtbot, tab, rejections)
        assert summary(tab)["valid"] == "1"
        attest_and_queue(qtbot, tab)
        sync(store, sandbox)
    assert statuses(store) == {f"ccid:1234567:xml-{n}": "Accepted" for n in (1, 2, 3)}


def test_uploading_the_same_file_twice_creates_no_duplicates(qtbot, tab, store, tmp_path):
    path = write_xlsx(tmp_path / "twice.xlsx", [row(1), row(2)])
    drop_and_wait_summary(qtbot, tab, path)
    attest_and_queue(qtbot, tab)
    before = counts(store)
    drop_and_wait_summary(qtbot, tab, path)
    assert summary(tab)["already"] == "2" and summary(tab)["valid"] == "0"
    assert any("Already reported as ccid:" in tab.problems_table.item(r, 3).text()
               for r in range(tab.problems_table.rowCount()))
    tab.attest_checkbox.setChecked(True)
    assert not tab.queue_button.isEnabled()
    assert counts(store)["completion"] == before["completion"]


def test_deletes_by_file_match_by_content_in_excel_and_by_credit_id_in_xml(qtbot, tab, store, tmp_path):
    drop_and_wait_summary(qtbot, tab, write_xml(tmp_path / "adds.xml", [
        completion(1, credit_id="ccid:1234567:a"), completion(2, credit_id="ccid:1234567:b"),
    ]))
    attest_and_queue(qtbot, tab)
    drop_and_wait_summary(qtbot, tab, write_xlsx(tmp_path / "del.xlsx", [
        row(1, Record_Action="Delete"),  # the same content as record a
        row(3, Record_Action="Delete"),  # nothing like it was reported: 605
    ]))
    assert summary(tab)["deletes"] == "1" and summary(tab)["errors"] == "1"
    assert problem_rows(tab)[0][2] == "605"
    attest_and_queue(qtbot, tab)
    drop_and_wait_summary(qtbot, tab, write_xml(tmp_path / "del.xml", [
        completion(2, credit_id="ccid:1234567:b", action=RecordAction.DELETE, cme="3"),  # fields differ: 605
    ]))
    assert summary(tab)["deletes"] == "0" and problem_rows(tab)[0][2] == "605"
    # a not-yet-sent record is deleted locally; the other stays queued
    assert statuses(store) == {"ccid:1234567:a": Status.DELETED, "ccid:1234567:b": Status.QUEUED}


# --- cancelling and hostile files ----------------------------------------------------------------------


def test_cancel_while_a_file_is_analysed_leaves_the_store_unchanged(qtbot, tab, store, tmp_path):
    path = write_xlsx(tmp_path / "big.xlsx", [row(n) for n in range(1, 1501)])
    before = counts(store)
    with qtbot.waitSignal(tab.processing_cancelled, timeout=15_000):
        assert drop(tab, path)
        assert tab.busy_row.isVisible() and tab.cancel_button.isEnabled()
        tab.cancel_button.click()
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    assert "cancelled; nothing was queued" in tab.message_label.text()
    assert not tab.summary_box.isVisible()
    assert counts(store) == before


def test_discarding_the_summary_queues_nothing(qtbot, tab, store, tmp_path):
    before = counts(store)
    drop_and_wait_summary(qtbot, tab, write_xlsx(tmp_path / "one.xlsx", [row(1)]))
    tab.discard_button.click()
    assert not tab.summary_box.isVisible()
    assert counts(store) == before


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 20_000_000)  # ~20 KB packed, 20 MB unpacked
    return path


def _too_many_rows(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["Record Action", "ACCME Activity ID", "Completion Date", "First Name"])
    for n in range(5001):
        sheet.append(["Add", "123456789", "01-06-2026", f"L{n}"])
    workbook.save(path)
    return path


def _no_header(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["just", "some", "cells"])
    workbook.save(path)
    return path


HOSTILE = {
    "truncated.xlsx": (lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 60), "not a valid .xlsx"),
    "bomb.xlsx": (_zip_bomb, "expand"),
    "laughs.xml": (
        lambda p: p.write_bytes(
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><ACCMELearnerReports>&lol2;</ACCMELearnerReports>'
        ),
        "DOCTYPE",
    ),
    "xxe.xml": (
        lambda p: p.write_bytes(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<ACCMELearnerReports>&x;</ACCMELearnerReports>"
        ),
        "DOCTYPE",
    ),
    "many.xlsx": (_too_many_rows, "5,001"),
    "empty.xlsx": (lambda p: p.write_bytes(b""), "empty"),
    "noheader.xlsx": (_no_header, "no header row"),
    # Without the pre-scan this one aborted the whole app (python-calamine asked for 512 GB).
    "bomb.xlsx": (lambda p: write_guarded_xlsx(p, template_rows(
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>')), "reaches column XFD"),
    "old.xlsx": (lambda p: write_compound_file(p, {"Workbook": b"\x09\x08" + b"\0" * 100}), "save it as .xlsx"),
    "formula.xlsx": (lambda p: write_guarded_xlsx(p, template_rows('<row r="4"><c r="I4"><f>1+1</f></c></row>')),
                     "open it in Excel and save it"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_or_unreadable_file_shows_one_line_and_changes_nothing(qtbot, tab, store, tmp_path, name):
    make, expected = HOSTILE[name]
    path = tmp_path / name
    make(path)
    before = counts(store)
    with qtbot.waitSignal(tab.processing_failed, timeout=15_000) as failed:
        assert drop(tab, path)
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    message = failed.args[0]
    assert expected.casefold() in message.casefold(), message
    assert "\n" not in message and "Traceback" not in message
    assert tab.message_label.text() == message
    assert not tab.summary_box.isVisible()
    assert counts(store) == before


def test_a_file_of_another_type_is_refused_at_the_drop(qtbot, tab, store, tmp_path):
    path = tmp_path / "learners.csv"
    path.write_text("Record Action,ACCME Activity ID\n")
    with qtbot.waitSignal(tab.processing_failed, timeout=1_000) as refused:
        drop(tab, path)
    assert "unsupported file type (.csv)" in refused.args[0]
    assert not tab.is_busy


def test_choose_file_and_template_downloads_use_the_dialog_methods(qtbot, tab, tmp_path):
    from app.pars.batch import load_batch

    template = tmp_path / "template.xlsx"
    sample = tmp_path / "sample.xml"
    tab.save_path = lambda caption, suggested, _filter: template if suggested.endswith(".xlsx") else sample
    tab.template_button.click()
    tab.xml_sample_button.click()
    assert load_batch(template).format == "xlsx" and len(load_batch(sample).records) == 2
    tab.choose_file_path = lambda: sample
    with qtbot.waitSignal(tab.analysis_ready, timeout=15_000):
        tab.drop_zone.choose_button.click()
    assert summary(tab)["records"] == "2"


def test_redropping_a_file_holds_back_still_rejected_rows_until_the_coordinator_ticks_to_resend(
    qtbot, tab, store, tmp_path
):
    from sqlalchemy import select, update

    from app.models import CompletionRow, StatusEvent
    from app.services.records import set_status

    path = write_xlsx(tmp_path / "january.xlsx", [row(1), row(2)])
    drop_and_wait_summary(qtbot, tab, path)
    attest_and_queue(qtbot, tab)
    with store.transaction() as s:  # PARS took both; the board rejected the first with 664 on 11-20-2026
        first, second = s.scalars(select(CompletionRow).order_by(CompletionRow.id)).all()
        set_status(s, first, Status.REJECTED, source="board", code=664, message="Diplomate date of birth does not match")
        set_status(s, second, Status.ACCEPTED, source="board")
        s.flush()
        s.execute(update(StatusEvent).where(StatusEvent.status == Status.REJECTED.value)
                  .values(at=datetime(2026, 11, 20, 15, 0)))
        rejected = first.id

    drop_and_wait_summary(qtbot, tab, path)
    assert summary(tab) == {"records": "2", "valid": "0", "errors": "0", "adds": "0", "deletes": "0",
                            "already": "1", "still": "1"}
    assert ("3", "", "664") in problem_rows(tab)
    message = tab.problems_table.item(problem_rows(tab).index(("3", "", "664")), 3).text()
    assert message.startswith("rejected 664 on 11-20-2026: will be sent unchanged")
    assert tab.resend_checkbox.isVisible() and not tab.resend_checkbox.isChecked()
    assert not tab.attest_checkbox.isEnabled() and not tab.queue_button.isEnabled()  # nothing queued by default

    tab.resend_checkbox.setChecked(True)
    assert tab.attest_checkbox.isEnabled()
    upload_id = attest_and_queue(qtbot, tab)
    assert "Rejected before and sent again unchanged: 1." in tab.message_label.text()
    with store.session() as s:
        resent = s.scalars(select(CompletionRow).where(CompletionRow.replaces_id == rejected)).one()
        assert (resent.status, resent.upload_id) == (Status.QUEUED.value, upload_id)
    assert sorted(statuses(store).values()) == ["Accepted", "Queued", "Rejected"]
