"""The attention strip, the Activities markers, the status bar and the overview in the real window,
pinned to December 20, 2026; they agree with `parsdesk status` on the same store."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.cli import main
from app.pars import clock
from app.services.learners import search_records
from tests.attention_support import DECEMBER_20, build_scene
from tests.ui_support import make_context, make_window


@pytest.fixture
def december_20():
    with clock.pinned(DECEMBER_20):
        yield DECEMBER_20


@pytest.fixture
def scene_window(qtbot, store, december_20):
    scene = build_scene(store)
    window = make_window(qtbot, make_context(store))
    return scene, window


def status_json(store, capsys) -> dict[str, dict]:
    capsys.readouterr()
    main(["status", "--db", str(store.path), "--as-of", DECEMBER_20.isoformat(), "--format", "json"])
    return {item["rule"]: item for item in json.loads(capsys.readouterr().out)}


def test_clicking_an_attention_item_lands_on_its_records_in_learner_search(qtbot, store, scene_window, capsys):
    scene, window = scene_window
    chip = window.attention_strip.chip_for("moc_30_days")
    assert chip is not None and chip.isVisible()
    assert chip.text() == "MOC within 30 days: 1 overdue of 2"
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.search_tab
    shown = {window.search_tab.model.record(row).credit_id for row in range(window.search_tab.model.rowCount())}
    assert shown == scene.credit_ids(store, "late", "near")
    assert "MOC within 30 days" in window.search_tab.attention_label.text()
    assert status_json(store, capsys)["moc_30_days"]["creditIDs"] and shown == set(
        status_json(store, capsys)["moc_30_days"]["creditIDs"])
    window.search_tab.clear_filters()  # back to every record
    assert window.search_tab.model.total == len(scene.ids)
    assert not window.search_tab.attention_label.isVisible()


def test_strip_markers_and_status_bar_agree_with_parsdesk_status(qtbot, store, scene_window, capsys):
    scene, window = scene_window
    reported = status_json(store, capsys)
    strip = {item.rule: item for item in window.attention.items}
    assert set(strip) == set(reported)
    for rule, item in strip.items():
        assert (item.count, item.overdue) == (reported[rule]["count"], reported[rule]["overdue"]), rule
        chip = window.attention_strip.chip_for(rule)
        assert chip is not None and (f"{item.title}: {item.count}" in chip.text() or (
            f"{item.title}: {item.overdue} overdue" in chip.text())), rule
        if not chip.isVisibleTo(window.attention_strip):  # folded into "+N more" at this width
            assert chip.text() in window.attention_strip.more_chip.toolTip(), rule
        # each chip opens as many records as the command lists
        assert window.show_attention(rule, item.title) == len(reported[rule]["creditIDs"]), rule

    from app.ui.activities_tab import COL_LEARNERS, MARKER_ROLE

    model = window.activities_tab.model
    markers = {model.overview(r).row_id: model.data(model.index(r, COL_LEARNERS), MARKER_ROLE)
               for r in range(model.rowCount())}
    assert markers == {scene.activity_id: (1, 3), scene.cme_activity_id: (0, 1)}
    assert window.attention_label.text() == "⚠ 1 record past a PARS deadline"
    window.tabs.setCurrentIndex(0)
    window.grab().save("/tmp/dl/window-attention.png")


def test_the_strip_follows_a_correction(qtbot, store, scene_window):
    """Resubmitting the rejected record takes it off the 'Rejected, to correct' chip."""
    scene, window = scene_window
    assert window.attention_strip.chip_for("rejected_waiting") is not None
    from app.models import CompletionRow
    from app.services import records
    from tests.attention_support import abim
    from tests.learner_support import completion

    with store.transaction() as s:
        rejected = s.get(CompletionRow, scene.ids["near"])
        fixed = completion("Nia", "Neer", completed=rejected.completion_date, boards=abim())
        records.store_completion(s, fixed, rejected.activity, source="user", replaces=rejected)
    window.ctx.notify_records_changed([scene.ids["near"]])
    qtbot.waitUntil(lambda: window.attention_strip.chip_for("rejected_waiting") is None, timeout=5_000)


def test_an_empty_store_says_nothing_needs_attention(qtbot, store, december_20):
    window = make_window(qtbot, make_context(store))
    assert [chip.text() for chip in window.attention_strip.chips] == ["Nothing needs attention on 12-20-2026"]
    assert window.attention_label.text() == ""


def test_overview_dialog_draws_months_and_rejection_codes(qtbot, store, scene_window, tmp_path):
    scene, window = scene_window
    dialog = window.open_overview()
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    overview = dialog.chart.overview
    assert [m.label for m in overview.months][-1] == "Dec" and len(overview.months) == 12
    codes = {c.code: (c.rejected, c.corrected) for c in overview.rejections}
    assert codes == {664: (1, 1), 665: (1, 0)}  # "fixed" was corrected, "near" not yet
    assert "12-20-2026" in dialog.caption.text()
    image = dialog.chart.grab().toImage()
    assert not image.isNull() and image.width() >= 720


def test_activities_learners_cell_draws_a_status_bar_and_a_deadline_marker(qtbot, store, scene_window):
    from PySide6.QtGui import QColor

    from app.ui.activities_tab import COL_LEARNERS
    from app.ui.activity_status_bar import StatusBarDelegate
    from app.ui.charts import LEVEL_COLORS, STATUS_COLORS

    scene, window = scene_window
    tab = window.activities_tab
    window.tabs.setCurrentIndex(0)
    assert isinstance(tab.table.itemDelegateForColumn(COL_LEARNERS), StatusBarDelegate)
    tab.table.setColumnWidth(COL_LEARNERS, 300)
    tab.table.clearSelection()
    index = tab.proxy.mapFromSource(tab.model.index(tab.model.row_for_id(scene.activity_id), COL_LEARNERS))
    tab.table.scrollTo(index)
    qtbot.waitUntil(lambda: tab.table.viewport().rect().contains(tab.table.visualRect(index)), timeout=2_000)
    cell = tab.table.visualRect(index)
    image = tab.table.viewport().grab().toImage()
    first_segment = image.pixelColor(cell.left() + 6, cell.center().y())
    badge = image.pixelColor(cell.right() - 6, cell.center().y())
    assert first_segment.name() == QColor(STATUS_COLORS["Accepted"]).name()  # 1 accepted comes first
    assert badge.name() == QColor(LEVEL_COLORS["overdue"]).name()  # "⚠ 1 overdue"
