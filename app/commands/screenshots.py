"""Render the desktop app's screens to PNG files (headless), for the docs and for review.

    parsdesk screenshots OUT_DIR [--db PATH]

Writes activities.png, learner-summary.png, batch-upload.png, learner-search.png (the main window at
1280x800 on each tab), learner-dialog.png (the learner entry form), rejection-tooltip.png (a
board-rejected record with its tooltip), attention.png (the most urgent item of the attention strip
clicked: its records in Learner Search) and overview.png (the 12-month reporting overview).
`PARSDESK_TODAY=YYYY-MM-DD` draws them as of that day. Without --db it builds the demo store in a temporary
folder, synced against the built-in sandbox; with --db it uses that store (building the demo into
it when it is empty). Window settings go to a temporary folder: the user's are never touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.paths import store_location

WINDOW_SIZE = (1280, 800)
TAB_FILES = ("activities.png", "learner-summary.png", "batch-upload.png", "learner-search.png")
DIALOG_FILE = "learner-dialog.png"
TOOLTIP_FILE = "rejection-tooltip.png"
ATTENTION_FILE = "attention.png"  # the most urgent attention item clicked: its records in Learner Search
OVERVIEW_FILE = "overview.png"  # the 12-month reporting overview
ALL_FILES = (*TAB_FILES, DIALOG_FILE, TOOLTIP_FILE, ATTENTION_FILE, OVERVIEW_FILE)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the PNG files")
    parser.add_argument("--db", type=store_location, help="the store to show (default: a fresh demo store)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import EXIT_USAGE, CommandError

    out_dir: Path = args.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"{out_dir} is a file; give a folder for the PNG files", EXIT_USAGE)
    if not out_dir.exists() and not out_dir.parent.is_dir():
        raise CommandError(f"the folder {out_dir.parent} does not exist; ParsDesk makes only {out_dir.name}",
                           EXIT_USAGE)
    # must be decided before the QApplication exists: no display is needed or used
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory(prefix="parsdesk-shots-") as scratch:
        os.environ["PARSDESK_SETTINGS_DIR"] = str(Path(scratch) / "settings")
        db_path = args.db if args.db is not None else Path(scratch) / "demo.sqlite3"
        written = take_screenshots(args.out_dir, db_path, announce=args.db is not None)
    for path in written:
        print(path)
    return 0


def take_screenshots(out_dir: Path, db_path: Path, *, announce: bool = False) -> list[Path]:
    from app.commands.gui import make_application, open_session
    from app.ui.settings import AppSettings

    app = make_application([sys.argv[0], "-platform", "offscreen"])
    _use_a_readable_font(app)
    out_dir.mkdir(exist_ok=True)  # the folder the user named; never its parents
    settings = AppSettings(board_delay_s=0.0)
    session = open_session(db_path, "local", settings, command="screenshots" if announce else None)
    try:
        return _render_all(app, session.ctx, out_dir)
    finally:
        session.close()


def _use_a_readable_font(app: Any) -> None:
    from PySide6.QtGui import QFont

    font = QFont(app.font())
    font.setPointSize(max(font.pointSize(), 9))
    app.setFont(font)


def _settle(app: Any, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def _wait_for_background_reads(app: Any, ctx: Any, timeout_s: float = 60.0) -> None:
    """The attention strip and the learner counts arrive from background reads: in the pictures too."""
    import time

    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout_s
    while ctx.reads_pending and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    _settle(app)


def _render_all(app: Any, ctx: Any, out_dir: Path) -> list[Path]:
    from app.services.activities_view import activity_overview
    from app.ui.main_window import TAB_SUMMARY, MainWindow

    window = MainWindow(ctx)
    window.set_sync_interval(0)  # a background sync would change the pictures while they are taken
    window.resize(*WINDOW_SIZE)
    window.show()
    window.resize(*WINDOW_SIZE)
    _settle(app)
    _wait_for_background_reads(app, ctx)

    with ctx.store.session() as session:
        overview = activity_overview(session)
    # the fullest activity that has a rejected record: a real-looking list with a tooltip to show
    ranked = sorted(overview, key=lambda o: (o.counts.get("Rejected", 0) > 0, o.learner_total), reverse=True)
    busiest = ranked[0] if ranked else None
    if busiest is not None:
        window.activities_tab.select_activity(busiest.row_id)
        window.show_activity(busiest.row_id)

    written: list[Path] = []
    for index, name in enumerate(TAB_FILES):
        window.tabs.setCurrentIndex(index)
        _settle(app)
        written.append(_save(window.grab(), out_dir / name))

    window.tabs.setCurrentIndex(TAB_SUMMARY)
    _settle(app)
    written.append(_rejection_tooltip(app, window, out_dir / TOOLTIP_FILE))
    with_board = [o for o in overview if o.boards and o.accme_id]
    form_activity = max(with_board, key=lambda o: o.learner_total) if with_board else busiest
    written.append(_learner_dialog(app, window, ctx, form_activity.row_id if form_activity else None,
                                   out_dir / DIALOG_FILE))
    written.append(_attention(app, window, out_dir / ATTENTION_FILE))
    written.append(_overview(app, window, out_dir / OVERVIEW_FILE))
    window.close()
    return written


def _attention(app: Any, window: Any, path: Path) -> Path:
    """The window after a click on the most urgent item of the attention strip."""
    urgent = window.attention.most_urgent
    if urgent is not None:
        window.show_attention(urgent.rule, urgent.title)
    _settle(app)
    shot = _save(window.grab(), path)
    window.search_tab.clear_filters()
    return shot


def _overview(app: Any, window: Any, path: Path) -> Path:
    dialog = window.open_overview()
    dialog.resize(1100, 480)
    _settle(app)
    try:
        return _save(dialog.grab(), path)
    finally:
        dialog.close()


def _save(pixmap: Any, path: Path) -> Path:
    if not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def _learner_dialog(app: Any, window: Any, ctx: Any, activity_row_id: int | None, path: Path) -> Path:
    from app.ui.learner_dialog import LearnerDialog

    dialog = LearnerDialog(ctx, window, activity_row_id=activity_row_id)
    dialog.show()
    _fill_sample_learner(dialog)
    _settle(app)
    try:
        return _save(dialog.grab(), path)
    finally:
        dialog.reject()
        dialog.deleteLater()


def _fill_sample_learner(dialog: Any) -> None:
    """A learner being entered, as a coordinator would type one, so the picture shows a filled-in
    form with its board part rather than an empty one (a made-up person, new to the demo store)."""
    dialog.first_name.setText("Dana")
    dialog.last_name.setText("Whitfield")
    dialog.birth_date.setText("06/02")
    dialog.state_combo.setCurrentIndex(max(0, dialog.state_combo.findData("MD")))
    dialog.license_id.setText("D0061234")
    editor = dialog.add_board()
    if editor is not None:
        editor.board_id.setText("100731")
    dialog.permission.setChecked(True)
    dialog.validate_now()


def _rejection_tooltip(app: Any, window: Any, path: Path) -> Path:
    """The Learner Summary with a rejected record and its tooltip drawn beside the cell.

    A real QToolTip is a separate top-level window that a widget grab does not include, so the
    tooltip is composed: a label styled with the tooltip palette, painted at the cursor's place."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QLabel, QTableView, QToolTip

    summary = window.summary_tab
    found = None
    for view in summary.findChildren(QTableView):
        model = view.model()
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                index = model.index(row, column)
                text = model.data(index, Qt.ItemDataRole.DisplayRole)
                tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
                if isinstance(text, str) and text.startswith("Rejected") and tip:
                    found = (view, index, str(tip))
                    break
            if found:
                break
        if found:
            break
    if found is None:
        raise RuntimeError("the store has no rejected record with a tooltip to show")
    view, index, tip = found
    view.scrollTo(index)  # not selected: the red status text stays visible, as when hovering
    _settle(app)

    shot = window.grab()
    cell = view.visualRect(index)
    anchor = view.viewport().mapTo(window, cell.center()) + QPoint(12, 18)
    label = QLabel()
    label.setWindowFlags(Qt.WindowType.ToolTip)
    label.setPalette(QToolTip.palette())
    label.setAutoFillBackground(True)
    # the look of Qt's own tooltip on a desktop (the offscreen platform has a plainer palette)
    label.setStyleSheet("QLabel { background: #ffffdc; color: #000000; border: 1px solid #767676; padding: 4px; }")
    label.setFont(QToolTip.font())
    label.setWordWrap(True)
    label.setMaximumWidth(460)
    label.setText(tip)
    label.adjustSize()
    tip_pixmap = label.grab()
    x = min(anchor.x(), shot.width() - tip_pixmap.width() - 4)
    y = anchor.y() if anchor.y() + tip_pixmap.height() < shot.height() else anchor.y() - tip_pixmap.height() - 30
    painter = QPainter(shot)
    painter.drawPixmap(QPoint(x, y), tip_pixmap)
    painter.end()
    label.deleteLater()
    return _save(shot, path)
