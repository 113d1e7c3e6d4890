"""The Learner Search tab: filters through the real widgets, paging, opening and downloading records."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from app.pars.domain import BoardPart, Status
from app.ui.learner_dialog import LearnerDialog
from app.ui.learner_search import LearnerSearchTab

from learner_support import bulk_load, completion, recent_activity, store_record
from ui_support import make_context

RECENT = date.today() - timedelta(days=3)


def _tab(qtbot, store) -> LearnerSearchTab:
    tab = LearnerSearchTab(make_context(store))
    qtbot.addWidget(tab)
    tab.resize(1200, 500)
    tab.show()
    return tab


def _names(tab) -> set[str]:
    return {tab.model.record(r).last_name for r in range(tab.model.rowCount())}


def _three(store) -> tuple[int, int, int]:
    cardio = recent_activity(store)
    peds = recent_activity(
        store, accme_id="987654321", title="Pediatric Sepsis Workshop",
        boards=(("ABP", Decimal("4"), ("Lifelong Learning & Self-Assessment",)),),
    )
    ada = store_record(store, cardio, completion("Ada", "Lovelace", license_id="A1", completed=RECENT), status=Status.ACCEPTED)
    grace = store_record(
        store, cardio,
        completion("Grace", "Hopper", license_id="G2", completed=RECENT - timedelta(days=1),
                   boards=[BoardPart("ABIM", "654321", Decimal("8"), {"Medical Knowledge": None})]),
        status=Status.REJECTED, code=665, message="Diplomate name does not match Board record",
    )
    alan = store_record(
        store, peds,
        completion("Alan", "Turing", license_id="T3", completed=RECENT,
                   boards=[BoardPart("ABP", "P-99", Decimal("4"), {})]),
    )
    return ada, grace, alan


def test_typing_filters_after_a_pause(qtbot, store):
    _three(store)
    tab = _tab(qtbot, store)
    assert _names(tab) == {"Lovelace", "Hopper", "Turing"}
    tab.focus_search()
    with qtbot.waitSignal(tab.searched, timeout=2_000) as searched:
        qtbot.keyClicks(tab.name_edit, "hop")
    assert searched.args == [1] and _names(tab) == {"Hopper"}
    assert tab.count_label.text() == "1 matching record"


def test_each_filter_narrows_the_results(qtbot, store):
    _three(store)
    tab = _tab(qtbot, store)

    def only(**set_up) -> set[str]:
        tab.clear_filters()
        for name, value in set_up.items():
            widget = getattr(tab, name)
            if hasattr(widget, "findData"):
                widget.setCurrentIndex(widget.findData(value))
            else:
                widget.setText(value)
        tab.search()
        return _names(tab)

    assert only(id_edit="P-99") == {"Turing"}
    assert only(id_edit="a1") == {"Lovelace"}
    assert only(activity_edit="sepsis") == {"Turing"}
    assert only(activity_edit="123456789") == {"Lovelace", "Hopper"}
    assert only(board_combo="ABIM") == {"Lovelace", "Hopper"}
    assert only(status_combo="Rejected") == {"Hopper"}
    tab.clear_filters()
    tab.set_date_range(RECENT, None)
    tab.search()
    assert _names(tab) == {"Lovelace", "Turing"}
    tab.set_date_range(None, RECENT - timedelta(days=1))
    tab.search()
    assert _names(tab) == {"Hopper"}


def test_double_click_opens_a_rejected_record_for_resubmission(qtbot, store):
    _ada, grace, _alan = _three(store)
    tab = _tab(qtbot, store)
    row = tab.model.row_of(grace)
    rect = tab.table.visualRect(tab.model.index(row, 1))
    QTest.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = tab.last_dialog
    assert isinstance(dialog, LearnerDialog) and dialog.resubmit_id == grace
    dialog.close()


def test_download_filtered_list_writes_every_matching_record(qtbot, store, tmp_path, monkeypatch):
    activity = recent_activity(store)
    bulk_load(store, [activity], 600)
    tab = _tab(qtbot, store)
    tab.status_combo.setCurrentIndex(tab.status_combo.findData("Rejected"))
    total = tab.model.total
    assert 0 < total < 600 and tab.model.rowCount() == min(total, 200)
    monkeypatch.setattr(tab, "choose_save_path", lambda suggested: str(tmp_path / "rejected.xlsx"))
    with qtbot.waitSignal(tab.exported) as exported:
        qtbot.mouseClick(tab.download_button, Qt.MouseButton.LeftButton)
    assert exported.args[1] == total  # all pages, not just the fetched rows
    sheet = load_workbook(exported.args[0]).active
    headers = [c.value for c in sheet[1]]
    statuses = {row[headers.index("Status")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert statuses == {"Rejected"} and sheet.max_row == total + 1


def test_new_and_changed_records_show_up_without_a_new_search(qtbot, store):
    activity = recent_activity(store)
    tab = _tab(qtbot, store)
    tab.status_combo.setCurrentIndex(tab.status_combo.findData("Queued"))
    assert tab.model.total == 0
    new_id = store_record(store, activity, completion(completed=RECENT))
    with qtbot.assertNotEmitted(tab.model.modelReset):
        tab.ctx.notify_records_changed([new_id])
    assert tab.model.row_of(new_id) == 0 and tab.model.total == 1


def test_rejected_records_found_by_a_search_can_be_resubmitted_as_is_or_walked_through(qtbot, store, monkeypatch):
    _ada, grace, _alan = _three(store)  # Grace's record is the rejected one
    tab = _tab(qtbot, store)
    tab.status_combo.setCurrentIndex(tab.status_combo.findData(Status.REJECTED.value))
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1)
    dialog = tab.open_next_rejected()
    assert isinstance(dialog, LearnerDialog) and dialog.resubmit_id == grace
    dialog.reject()

    tab.table.selectRow(0)
    monkeypatch.setattr(tab, "confirm_resubmit", lambda count: count == 1)
    [outcome] = tab.resubmit_selected()
    assert outcome.completion_id == grace and outcome.resubmitted
    qtbot.waitUntil(lambda: "(resubmitted)" in tab.model.index(0, tab.model.column_of("status")).data())


def test_download_runs_in_the_background_with_progress_and_cancel(qtbot, store, tmp_path, monkeypatch):
    """An export of every record is written by a worker thread; the progress dialog's Cancel leaves
    no file behind, and a second download afterwards writes every record with progress reported."""
    import threading

    from app.ui.export_worker import ExportWorker

    activity = recent_activity(store)
    bulk_load(store, [activity], 600)  # more than one progress step (every 500 records)
    tab = _tab(qtbot, store)
    target = tmp_path / "all.xlsx"
    tab.choose_save_path = lambda suggested: str(target)

    # hold the worker at its start until Cancel has been pressed, so the test does not race it
    gate = threading.Event()
    unhindered = ExportWorker.run
    monkeypatch.setattr(ExportWorker, "run", lambda worker: (gate.wait(10), unhindered(worker)))
    assert tab.download() == target
    export = tab._export
    with qtbot.waitSignal(export.cancelled, timeout=60_000):  # generous: a loaded CI machine
        export.dialog.findChild(QPushButton).click()  # the coordinator presses Cancel
        gate.set()
    qtbot.waitUntil(lambda: tab._export is None, timeout=30_000)
    assert not target.exists()

    progress: list[tuple[int, int]] = []
    gate.clear()  # hold the next worker until its progress is being listened to
    tab.download()
    tab._export.worker.progress.connect(lambda done, total: progress.append((done, total)))
    gate.set()
    with qtbot.waitSignal(tab.exported, timeout=60_000) as exported:
        pass
    assert exported.args == [str(target), 600]
    assert progress[-1] == (600, 600) and (500, 600) in progress
    assert sum(1 for _ in load_workbook(target, read_only=True).active.iter_rows()) == 601
