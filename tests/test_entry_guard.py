"""The entry form does not lose typing by accident, and Ctrl+N without an activity says what to do:
Esc, Cancel and the close button ask before a half-filled form is discarded; Ctrl+N with no activity
points to "New activity…" and goes on to the entry form for the activity just made."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.ui.activity_dialog import ActivityDialog
from app.ui.learner_dialog import LearnerDialog
from app.ui.main_window import TAB_ACTIVITIES, TAB_SEARCH
from tests.sync_support import add_activity
from tests.ui_support import make_context, make_window, when_modal_opens


def _entry_form(qtbot, window) -> LearnerDialog:
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), LearnerDialog), timeout=3_000)
    dialog = QApplication.activeModalWidget()
    qtbot.waitExposed(dialog)
    return dialog


def _window_with_activity(qtbot, store):
    row_id = add_activity(store, accme_id="123456789", title="Cardiology Update")
    window = make_window(qtbot, make_context(store))
    assert window.activities_tab.select_activity(row_id)
    return window


def test_esc_on_a_half_filled_entry_form_asks_before_discarding(qtbot, store, tmp_path):
    window = _window_with_activity(qtbot, store)
    dialog = _entry_form(qtbot, window)
    qtbot.keyClicks(dialog.first_name, "Ada")
    qtbot.keyClicks(dialog.last_name, "Lovelace")

    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    box = dialog.discard_box
    assert box is not None and box.isVisible()
    assert "Discard what you entered?" in box.text()
    assert dialog.isVisible()
    dialog.grab().save(str(tmp_path / "discard-question.png"))
    box.grab().save(str(tmp_path / "discard-box.png"))
    QTest.mouseClick(dialog.keep_editing_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.discard_box is None)
    assert dialog.isVisible() and dialog.first_name.text() == "Ada"

    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: dialog.discard_box is not None and dialog.discard_box.isVisible())
    QTest.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_the_close_button_asks_too_and_an_untouched_form_closes_at_once(qtbot, store):
    window = _window_with_activity(qtbot, store)
    dialog = _entry_form(qtbot, window)
    qtbot.keyClicks(dialog.license_id, "A1234567")
    dialog.close()  # what the title bar's close button does
    assert dialog.isVisible() and dialog.discard_box is not None
    QTest.mouseClick(dialog.keep_editing_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.discard_box is None)
    assert dialog.isVisible()
    dialog.license_id.clear()  # back to what it was: nothing to lose
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.discard_box is None


def test_ctrl_n_without_any_activity_points_to_new_activity_then_opens_the_form(qtbot, store, tmp_path):
    window = make_window(qtbot, make_context(store))
    window.tabs.setCurrentIndex(TAB_SEARCH)
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    box = window.last_message
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "there is none yet" in box.text()
    assert [b.text() for b in box.buttons() if b.text() == "Show activities"] == []
    box.grab().save(str(tmp_path / "no-activity.png"))

    failures: list[BaseException] = []

    def create(dialog: ActivityDialog) -> None:
        assert isinstance(dialog, ActivityDialog)
        dialog.title_edit.setText("Grand Rounds")
        dialog.start_edit.setDate(QDate(2026, 1, 5))
        dialog.end_edit.setDate(QDate(2026, 1, 7))
        dialog.cme_spin.setValue(2)
        assert dialog.ok_button.isEnabled(), dialog.issues
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    when_modal_opens(qtbot, create, failures)
    new_button = next(b for b in box.buttons() if b.text() == "New activity…")
    QTest.mouseClick(new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(window.last_message, LearnerDialog), timeout=5_000)
    assert not failures, failures
    form = window.last_message
    assert form.current_option().activity.title == "Grand Rounds"
    assert window.tabs.currentIndex() == TAB_ACTIVITIES
    form.reject()


def test_ctrl_n_with_activities_but_none_selected_offers_to_show_them(qtbot, store):
    add_activity(store, accme_id="123456789", title="Cardiology Update", start=date(2026, 1, 5), end=date(2026, 1, 7))
    window = make_window(qtbot, make_context(store))
    window.tabs.setCurrentIndex(TAB_SEARCH)
    window.activities_tab.table.clearSelection()
    window.activities_tab.table.setCurrentIndex(window.activities_tab.proxy.index(-1, -1))
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    box = window.last_message
    assert isinstance(box, QMessageBox) and "Select the activity on the Activities tab" in box.text()
    show = next(b for b in box.buttons() if b.text() == "Show activities")
    QTest.mouseClick(show, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.tabs.currentIndex() == TAB_ACTIVITIES)
    assert QApplication.activeModalWidget() is None  # no empty entry form
