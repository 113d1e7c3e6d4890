"""The upload-file route in the real main window, with the real sandbox over HTTP standing in for the
PARS website: prepare the upload file, PARS answers with its rejection workbook, drop it on Batch Upload,
the rejected record shows its code; double-click, fix, resubmit; prepare again; PARS rejects nothing;
mark the rest passed: the corrected record is Accepted. Once with Excel upload files, once with XML."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.models import Store
from app.pars.domain import Activity
from app.ui.settings import ROUTE_UPLOAD_FILES
from sync_support import RecordSpec, add_activity, clock_starting_at, queue_records, running_sandbox
from ui_support import make_context, make_window

TODAY = date.today()
START, END = TODAY - timedelta(days=20), TODAY - timedelta(days=2)
COMPLETED = max(END - timedelta(days=3), date(END.year, 1, 1))
ACTIVITY = Activity("123456789", "Heart Failure Masterclass", "Course", START, END, Decimal("8"))


@pytest.fixture
def website():
    """The sandbox as the PARS website, living at noon of the activity's last day."""
    with running_sandbox(activities=[ACTIVITY], clock=clock_starting_at(datetime.combine(END, time(12)))) as server:
        yield server


def _pars_website_upload(website, path: Path, target: Path) -> int:  # noqa: ANN001
    """What the coordinator does in a browser: upload the file, download the rejection workbook."""
    response = httpx.post(f"{website.url}/_sandbox/batch-upload", params={"name": path.name},
                          content=path.read_bytes(), auth=("demo", "demo-sandbox"))
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return int(response.headers["X-PARS-Rejected"])


def _status(tab, completion_id: int) -> str:  # noqa: ANN001
    model = tab.model
    return model.index(model.row_of(completion_id), model.column_of("status")).data()


@pytest.mark.parametrize("file_format", ["xlsx", "xml"])
def test_prepare_rejection_workbook_import_resubmit_accepted(qtbot, store: Store, website, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, file_format: str) -> None:
    activity = add_activity(store, accme_id="123456789", title=ACTIVITY.title, start=START, end=END)
    good, too_many = queue_records(
        store, activity, 2, spec=lambda n: RecordSpec(completion_date=COMPLETED, cme_credits=Decimal(8 + n))
    )
    ctx = make_context(store, sandbox=website)
    ctx.settings.set_route("local", ROUTE_UPLOAD_FILES)
    window = make_window(qtbot, ctx)
    upload = window.upload_tab
    summary = window.summary_tab
    folder = tmp_path / "for PARS"
    folder.mkdir()
    monkeypatch.setattr(upload, "choose_folder", lambda: folder)
    upload.upload_format_combo.setCurrentIndex(upload.upload_format_combo.findData(file_format))
    window.show_activity(activity)

    # no web services: F5 sends nothing and says why
    assert window.sync_now() is False
    assert "upload files" in window.sync_state_label.text()
    assert "upload files" in window.environment_label.text()

    with qtbot.waitSignal(upload.upload_prepared, timeout=30_000):
        window.prepare_upload_action.trigger()  # in a worker thread
    assert window.tabs.currentWidget() is upload
    [first] = list(folder.iterdir())
    assert first.suffix == f".{file_format}" and first.name in upload.message_label.text()
    window.tabs.setCurrentWidget(summary)  # an off-screen tab catches up when shown
    qtbot.waitUntil(lambda: _status(summary, good) == "Uploaded by file", timeout=3_000)
    assert _status(summary, too_many) == "Uploaded by file"
    qtbot.waitUntil(lambda: window.queued_label.text() == "Nothing queued", timeout=3_000)

    rejections = tmp_path / "PARS rejections.xlsx"
    assert _pars_website_upload(website, first, rejections) == 1
    window.tabs.setCurrentWidget(upload)
    upload.load_file(rejections)  # dropped on the tab
    qtbot.waitUntil(lambda: not upload.is_busy, timeout=10_000)
    assert "unchanged" in upload.message_label.text() and "1 record rejected" in upload.message_label.text()
    assert upload.summary_box.isHidden()  # a status update, not a batch to queue
    [view] = upload.pars_files
    assert (view.rejected, view.waiting) == (1, 1)
    # the rest of the first file passed: one click
    mark = upload.pars_files_table.cellWidget(0, upload.pars_files_table.columnCount() - 1)
    QTest.mouseClick(mark, Qt.MouseButton.LeftButton)
    window.tabs.setCurrentWidget(summary)
    qtbot.waitUntil(lambda: _status(summary, too_many) == "Rejected 674", timeout=3_000)
    tooltip = summary.model.index(summary.model.row_of(too_many), summary.model.column_of("status")).data(
        Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("674")
    qtbot.waitUntil(lambda: _status(summary, good) == "Accepted", timeout=3_000)

    # double-click the rejected record, fix the credits, resubmit
    rect = summary.table.visualRect(summary.model.index(summary.model.row_of(too_many), 1))
    QTest.mouseClick(summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = summary.last_dialog
    assert dialog.resubmit_id == too_many and "674" in dialog.banner.text()
    dialog.cme_credits.clear()
    qtbot.keyClicks(dialog.cme_credits, "8")
    dialog.permission.setChecked(True)
    with qtbot.waitSignal(dialog.saved) as saved:
        QTest.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    corrected, status = saved.args
    assert status == "Queued" and corrected != too_many

    with qtbot.waitSignal(upload.upload_prepared, timeout=30_000):
        window.prepare_upload_action.trigger()
    second = next(p for p in folder.iterdir() if p != first)
    window.tabs.setCurrentWidget(summary)
    qtbot.waitUntil(lambda: summary.model.row_of(corrected) is not None
                    and _status(summary, corrected) == "Uploaded by file", timeout=3_000)
    assert _pars_website_upload(website, second, tmp_path / "second rejections.xlsx") == 0
    window.tabs.setCurrentWidget(upload)
    upload.refresh_pars_files()
    row = next(r for r, v in enumerate(upload.pars_files) if v.file_name == second.name)
    QTest.mouseClick(upload.pars_files_table.cellWidget(row, upload.pars_files_table.columnCount() - 1),
                     Qt.MouseButton.LeftButton)
    window.tabs.setCurrentWidget(summary)
    qtbot.waitUntil(lambda: _status(summary, corrected) == "Accepted", timeout=3_000)
    assert _status(summary, too_many) == "Rejected 674 (resubmitted)"
    received = {r["credit_id"]: r["received"] for r in website.records()}
    assert sorted(received.values()) == [1, 1, 1]  # three creditIDs, each uploaded once
    assert {r["status"] for r in website.records() if r["received"]} >= {"Accepted"}


def test_a_corrected_pars_rejection_workbook_dropped_in_the_window_is_a_new_batch_and_says_so(
    qtbot, store: Store, website, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl import load_workbook
    from sqlalchemy import select

    from app.models import CompletionRow
    from app.pars.domain import F_CME_CREDITS
    from tests.test_batch_upload_tab import attest_and_queue

    activity = add_activity(store, accme_id="123456789", title=ACTIVITY.title, start=START, end=END)
    good, too_many = queue_records(
        store, activity, 2, spec=lambda n: RecordSpec(completion_date=COMPLETED, cme_credits=Decimal(8 + n))
    )
    ctx = make_context(store, sandbox=website)
    ctx.settings.set_route("local", ROUTE_UPLOAD_FILES)
    window = make_window(qtbot, ctx)
    upload = window.upload_tab
    folder = tmp_path / "for PARS"
    folder.mkdir()
    monkeypatch.setattr(upload, "choose_folder", lambda: folder)
    with qtbot.waitSignal(upload.upload_prepared, timeout=30_000):
        window.prepare_upload_action.trigger()
    qtbot.waitUntil(lambda: not upload.is_busy, timeout=10_000)
    [prepared] = list(folder.iterdir())
    rejections = tmp_path / "PARS rejections.xlsx"
    assert _pars_website_upload(website, prepared, rejections) == 1

    # the coordinator fixes the credits in PARS's workbook and drops it on Batch Upload
    workbook = load_workbook(rejections)
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[2]]
    sheet.cell(3, headers.index(F_CME_CREDITS) + 1).value = "8"
    corrected = tmp_path / "PARS rejections corrected.xlsx"
    workbook.save(corrected)
    window.tabs.setCurrentWidget(upload)
    with qtbot.waitSignal(upload.analysis_ready, timeout=15_000):
        upload.load_file(corrected)  # dropped on the tab
    qtbot.waitUntil(lambda: not upload.is_busy, timeout=10_000)
    assert "corrected rejection workbook" in upload.message_label.text().lower()
    assert "new batch" in upload.message_label.text()
    assert not upload.summary_box.isHidden() and upload.analysis.adds == 1
    attest_and_queue(qtbot, upload)
    with store.session() as s:
        rows = {row.id: row for row in s.scalars(select(CompletionRow))}
    assert rows[too_many].status == "Rejected" and rows[too_many].status_code == 674
    [resubmission] = [row for row in rows.values() if row.replaces_id == too_many]
    assert (resubmission.status, resubmission.cme_credits) == ("Queued", Decimal("8"))
    assert rows[good].status == "Uploaded by file"
