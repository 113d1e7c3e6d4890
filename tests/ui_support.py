"""Helpers for driving the main window and its dialogs in tests (offscreen Qt, real widgets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.models import Store
from app.ui.context import AppContext
from app.ui.settings import AppSettings


def make_context(store: Store, *, sandbox: Any | None = None, environment: str = "local",
                 client_factory: Callable[[], Any] | None = None, demo: bool = False,
                 sync_interval_s: int = 0) -> AppContext:
    """A context on `store`; background sync is off unless a test asks (it would race the test)."""
    settings = AppSettings(environment=environment, sync_interval_s=sync_interval_s)
    return AppContext(store, environment=environment, settings=settings, sandbox=sandbox,
                      client_factory=client_factory, demo=demo)


def make_window(qtbot: Any, ctx: AppContext) -> Any:
    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # shortcuts (F5, Ctrl+F) go to the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    # the attention list and the learner counts arrive from background reads
    qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=10_000)
    return window


def when_modal_opens(qtbot: Any, act: Callable[[QWidget], None], failures: list[BaseException]) -> None:
    """Run `act(dialog)` once the next modal dialog is open (dialogs opened with exec() block the
    test until they close, so the test's part runs from the event loop). Errors land in `failures`."""

    def attempt(tries: int = 0) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            if tries > 200:
                failures.append(AssertionError("no modal dialog opened"))
                return
            QTimer.singleShot(10, lambda: attempt(tries + 1))
            return
        try:
            act(dialog)
        except BaseException as exc:  # noqa: BLE001 - reported by the test after exec() returns
            failures.append(exc)
            dialog.reject()

    QTimer.singleShot(0, attempt)
