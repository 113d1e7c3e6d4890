"""The ParsDesk main window: four tabs, menus, toolbar, status bar and background sync.

Tabs: Activities, Learner Summary, Batch Upload, Learner Search. The window owns the sync
controller (a worker thread running the sync engine); it starts a sync on F5, on request from a tab,
and every `sync_interval_s` seconds while idle. Record changes reported by the worker are gathered
for a moment and passed on as one `ctx.notify_records_changed(ids)`, so views update rows in bursts
instead of once per record. Closing during a sync asks the worker to stop and waits for it: records
it had not finished stay queued (or in flight, for recovery by the next sync), nothing is lost.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.models import StoreUnavailableError
from app.pars import clock
from app.services import attention, records, undo
from app.sync.worker import SyncController
from app.ui.activities_tab import ActivitiesTab
from app.ui.attention_strip import AttentionStrip
from app.ui.batch_upload import BatchUploadTab
from app.ui.context import AppContext
from app.ui.garbage import freeze_startup_heap, hold_full_collections, release_full_collections
from app.ui.icons import icon
from app.ui.learner_search import LearnerSearchTab
from app.ui.learner_summary import LearnerSummaryTab
from app.ui.settings import WindowState, environment_label
from app.wording import plural

log = logging.getLogger(__name__)

DEMO_BANNER = "Demo data — connected to the built-in PARS sandbox"
TAB_ACTIVITIES, TAB_SUMMARY, TAB_UPLOAD, TAB_SEARCH = range(4)
_RECORD_FLUSH_MS = 150  # how long record changes from the worker are gathered before views hear of them
_RECORD_FLUSH_CHUNK = 100  # ids handed to the views per event-loop turn
_FIRST_SYNC_DELAY_MS = 3_000  # the first background sync after start-up
_STOP_WAIT_MS = 30_000  # closing waits this long for the worker to finish the record it is sending
_ATTENTION_REFRESH_MS = 1_500  # the attention strip re-reads its list at most this often
# Python hands its interpreter lock between threads every `switch interval`; the GUI thread waits
# for it before each slot, paint callback and model call it makes while a worker (sync, file check,
# background read) runs Python. At the default 5 ms, with two busy workers, the window waited 20 ms
# per call in the median and up to 250 ms (bench/bench_ui.py); at 1 ms the waits are a few ms.
GUI_SWITCH_INTERVAL_S = 0.001
STORE_POLL_MS = 1_000  # how often the store is asked whether another process changed it (one key read)
_SYNC_HOLD = "sync"  # the sync pass's hold on full garbage collections (app/ui/garbage.py)
RECONNECT_MS = 3_000  # while the office database is unreachable, how often it is tried again


class MainWindow(QMainWindow):
    sync_finished = Signal(object)  # the engine's report as a dict (SyncReport.as_dict())
    sync_started = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        keep_gui_thread_responsive()
        self.window_state = WindowState()
        self.setWindowTitle("ParsDesk")
        self.setWindowIcon(icon("parsdesk"))
        self.setObjectName("mainWindow")

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.activities_tab = ActivitiesTab(ctx)
        self.summary_tab = LearnerSummaryTab(ctx)
        self.upload_tab = BatchUploadTab(ctx)
        self.search_tab = LearnerSearchTab(ctx)
        self.tabs.addTab(self.activities_tab, icon("activity"), "Activities")
        self.tabs.addTab(self.summary_tab, icon("learners"), "Learner Summary")
        self.tabs.addTab(self.upload_tab, icon("upload"), "Batch Upload")
        self.tabs.addTab(self.search_tab, icon("search"), "Learner Search")

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        self.banner = QLabel(self)
        self.banner.setObjectName("demoBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel#demoBanner { background: #fff4ce; color: #4d3b00; border: 1px solid #e0c45c;"
            " border-radius: 4px; padding: 6px 10px; }"
        )
        self.banner.setText(
            f"<b>{DEMO_BANNER}.</b> Records you send go to the sandbox on this computer, never to ACCME. "
            "Open <i>File → Settings…</i> to connect to ACCME PARS."
        )
        layout.addWidget(self.banner)
        self.attention_strip = AttentionStrip(self)
        self.attention_strip.item_clicked.connect(self.show_attention)
        self.attention_strip.overview_requested.connect(self.open_overview)
        layout.addWidget(self.attention_strip)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()

        self._pending_ids: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(_RECORD_FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush_record_changes)
        self._status_timer = QTimer(self)  # a burst of record changes refreshes the counts once
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(300)
        self._status_timer.timeout.connect(self.refresh_status)
        self._sync_timer = QTimer(self)
        self._sync_timer.timeout.connect(self._periodic_sync)
        # the attention list is a dozen counting queries: re-read at most every 1.5 s, and not while a
        # sync is reporting changes (that would take GUI time from the sync); once it ends
        self._attention_timer = QTimer(self)
        self._attention_timer.setSingleShot(True)
        self._attention_timer.setInterval(_ATTENTION_REFRESH_MS)
        self._attention_timer.timeout.connect(self._attention_due)
        self._closing = False
        self.last_message: Any = None  # the message box or dialog the window opened last (tests look at it)
        self._first_sync_scheduled = False
        self.set_sync_interval(ctx.settings.sync_interval_s)
        self._last_error: str | None = None
        self._open_records = 0  # Submitted records waiting on the boards: idle syncs poll for them
        self._finished_report: dict[str, Any] | None = None  # held until the views caught up

        self._setup_sync()
        self._setup_change_feed()
        self._reconnect_timer = QTimer(self)
        self._reconnect_timer.setInterval(RECONNECT_MS)
        self._reconnect_timer.timeout.connect(self.ctx.check_database)
        ctx.database_reachable.connect(self._database_reachable)
        ctx.open_activity_requested.connect(self.show_activity)
        ctx.sync_requested.connect(self.sync_now)
        ctx.records_changed.connect(self._records_changed)
        ctx.upload_finished.connect(self._after_upload)
        ctx.records_deleted.connect(self._offer_undo)
        self._undoable: list[int] = []  # the records of the last delete, while it can be taken back
        self.tabs.currentChanged.connect(self._tab_changed)
        self.activities_tab.counts_refreshed.connect(self._count_open_records)

        self._restore_state()
        self.refresh_status()
        self.refresh_attention()
        self._tab_changed(self.tabs.currentIndex())
        freeze_startup_heap()  # the window's objects live as long as it: out of full collections' way

    # --- construction ----------------------------------------------------------------------------
    def _make_actions(self) -> None:
        def action(text: str, slot: Any, shortcut: QKeySequence | str | None = None, icon_name: str = "") -> QAction:
            act = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            self.addAction(act)  # shortcuts work whichever widget has focus
            return act

        self.import_activities_action = action("Import activities JSON…", self._import_activities)
        self.settings_action = action("Settings…", self.open_settings, QKeySequence.StandardKey.Preferences, "settings")
        self.quit_action = action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.new_learner_action = action("New learner…", self.new_learner, "Ctrl+N", "new-learner")
        self.search_action = action("Search learners", self.search_learners, "Ctrl+F", "search")
        # "\tDel" shows the key in the menu even while a tab handles Del itself (see _tab_changed)
        self.delete_action = action("Delete\tDel", self.delete_selected, None, "delete")
        self.sync_action = action("Sync now", self.sync_now, "F5", "sync")
        self.cancel_sync_action = action("Cancel sync", self.cancel_sync, None, "cancel")
        self.cancel_sync_action.setEnabled(False)
        self.prepare_upload_action = action("Prepare upload for PARS…", self.prepare_upload, None, "upload")
        self.prepare_upload_action.setToolTip(
            "Gather the queued records into PARS upload files (Excel or XML) to upload on the PARS website"
        )
        self.about_action = action("About ParsDesk", self._about)
        self.overview_action = action("Reporting overview (12 months)…", self.open_overview)
        self.undo_delete_action = action("Undo delete", self.undo_delete, QKeySequence.StandardKey.Undo, "")
        self.undo_delete_action.setEnabled(False)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.import_activities_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_delete_action)
        learners = bar.addMenu("&Learners")
        learners.addAction(self.new_learner_action)
        learners.addAction(self.search_action)
        learners.addAction(self.delete_action)
        learners.addSeparator()
        learners.addAction(self.overview_action)
        sync = bar.addMenu("&Sync")
        sync.addAction(self.sync_action)
        sync.addAction(self.cancel_sync_action)
        sync.addSeparator()
        sync.addAction(self.prepare_upload_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _make_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.new_learner_action)
        toolbar.addAction(self.search_action)
        toolbar.addSeparator()
        toolbar.addAction(self.sync_action)
        toolbar.addAction(self.cancel_sync_action)
        toolbar.addAction(self.prepare_upload_action)
        toolbar.addSeparator()
        toolbar.addAction(self.settings_action)

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        self.environment_label = QLabel(self)
        self.environment_label.setObjectName("environmentLabel")
        self.queued_label = QLabel(self)
        self.queued_label.setObjectName("queuedLabel")
        self.sync_state_label = QLabel("Idle", self)
        self.sync_state_label.setObjectName("syncStateLabel")
        self.sync_progress = QProgressBar(self)
        self.sync_progress.setObjectName("syncProgress")
        self.sync_progress.setMaximumWidth(160)
        self.sync_progress.setTextVisible(True)
        self.sync_progress.setVisible(False)
        self.last_sync_label = QLabel(self)
        self.last_sync_label.setObjectName("lastSyncLabel")
        # shown only while the office database cannot be reached (docs/office.md)
        self.database_label = QLabel(self)
        self.database_label.setObjectName("databaseLabel")
        self.database_label.setStyleSheet("color: #a40000; font-weight: bold;")
        self.database_label.setVisible(False)
        self.undo_button = QPushButton("Undo delete", self)
        self.undo_button.setObjectName("undoDeleteButton")
        self.undo_button.setToolTip("Take the delete back (Ctrl+Z); possible until the next sync sends it")
        self.undo_button.setFlat(True)
        self.undo_button.setStyleSheet("QPushButton#undoDeleteButton { color: palette(link); text-decoration: underline; }")
        self.undo_button.clicked.connect(self.undo_delete)
        self.undo_button.setVisible(False)
        self.undo_note = QLabel(self)
        self.undo_note.setObjectName("undoNote")
        self.undo_note.setVisible(False)
        status.addWidget(self.environment_label)
        status.addWidget(self.queued_label)
        self.attention_label = QLabel(self)  # the most urgent attention count (the strip has the rest)
        self.attention_label.setObjectName("attentionLabel")
        status.addWidget(self.attention_label)
        status.addWidget(self.database_label)
        status.addWidget(self.undo_note)
        status.addWidget(self.undo_button)
        status.addPermanentWidget(self.sync_state_label)
        status.addPermanentWidget(self.sync_progress)
        status.addPermanentWidget(self.last_sync_label)

    # --- sync ------------------------------------------------------------------------------------
    def _setup_sync(self) -> None:
        controller = SyncController(self._make_engine, parent=self)
        controller.progress.connect(self._sync_progress)
        controller.records_changed.connect(self._sync_changed_records)
        controller.failed.connect(self._sync_failed)
        controller.finished.connect(self._sync_done)
        self.ctx.sync = controller

    def _make_engine(self) -> Any:
        """Runs in the sync thread: the engine gets its own store connection and its own client."""
        from app.models import Store
        from app.pars.environments import environment
        from app.sync.engine import SyncEngine

        # as many batches at PARS at once as the environment allows (`in_flight` in environments.toml,
        # as `parsdesk sync` does), each sent with a client of its own; read per pass, so an edited
        # file counts at the next sync
        in_flight = environment(self.ctx.environment).in_flight
        store = Store.open(self.ctx.store.location, migrate_schema=False)
        try:
            client = self.ctx.client_factory()
        except Exception:
            store.close()
            raise
        return SyncEngine(store, client, in_flight=in_flight, client_factory=self.ctx.client_factory,
                          actor=self.ctx.actor, owns_resources=True)

    @property
    def sync_running(self) -> bool:
        return bool(self.ctx.sync is not None and self.ctx.sync.running)

    def sync_now(self, *, respect_backoff: bool = False) -> bool:
        """Start a sync unless one is running. Returns True when one was started. F5 / "Sync now"
        retries everything queued; the periodic sync passes respect_backoff=True so records held
        back after a failure (e.g. PARS unreachable) wait for their retry time instead of being
        sent again on every tick."""
        if self.ctx.sync is None or self._closing or self.sync_running:
            return False
        if self.uses_upload_files:
            # no web-service credentials: nothing is sent from here; the records go in upload files
            self.sync_state_label.setText("This office reaches PARS by upload files: use Prepare upload for PARS")
            return False
        self._last_error = None
        self.sync_state_label.setText("Syncing…")
        self.sync_progress.setRange(0, 0)  # busy until the engine knows how much there is
        self.sync_progress.setVisible(True)
        self.sync_action.setEnabled(False)
        self.cancel_sync_action.setEnabled(True)
        hold_full_collections(_SYNC_HOLD)
        self.ctx.sync.start(respect_backoff=respect_backoff)
        self.sync_started.emit()
        return True

    @property
    def uses_upload_files(self) -> bool:
        """Settings: this office reaches PARS in this environment by upload files, not web services."""
        from app.ui.settings import ROUTE_UPLOAD_FILES

        return self.ctx.settings.route(self.ctx.environment) == ROUTE_UPLOAD_FILES

    def prepare_upload(self) -> None:
        """Batch Upload tab, then its "Prepare upload for PARS" (asks for the folder)."""
        self.tabs.setCurrentIndex(TAB_UPLOAD)
        self.upload_tab.prepare_upload()

    def cancel_sync(self) -> None:
        if self.sync_running:
            self.sync_state_label.setText("Cancelling…")
            self.ctx.sync.cancel()

    def _periodic_sync(self) -> None:
        if self._closing:
            return
        if self.uses_upload_files:
            return
        if not self.sync_running and QApplication.activeModalWidget() is None:
            pending = self.ctx.read(records.queued_count)
            # nothing queued still polls: Submitted records wait on the boards' answers
            if pending or self._open_records:
                self.sync_now(respect_backoff=True)

    def set_sync_interval(self, seconds: int) -> None:
        if seconds > 0:
            self._sync_timer.start(seconds * 1000)
            if not self._first_sync_scheduled:
                # soon after start-up too: what was queued last time should not wait a whole interval
                self._first_sync_scheduled = True
                QTimer.singleShot(_FIRST_SYNC_DELAY_MS, self._periodic_sync)
        else:
            self._sync_timer.stop()

    def _sync_progress(self, done: int, total: int) -> None:
        if total > 0:
            # QProgressBar.setValue repaints synchronously, which would also paint every table with
            # pending row updates right now; with updates off it only schedules an ordinary paint
            bar = self.sync_progress
            bar.setUpdatesEnabled(False)
            bar.setRange(0, total)
            bar.setValue(min(done, total))
            bar.setFormat(f"{done} / {total}")
            bar.setUpdatesEnabled(True)
            if self.sync_state_label.text() != "Cancelling…":
                self.sync_state_label.setText("Syncing…")

    def _sync_changed_records(self, changes: list[tuple[int, str]]) -> None:
        self._pending_ids.update(int(completion_id) for completion_id, _status in changes)
        if not self._flush_timer.isActive():
            self._flush_timer.start(_RECORD_FLUSH_MS)

    def _flush_record_changes(self) -> None:
        """Pass gathered record changes to the views, at most _RECORD_FLUSH_CHUNK per event-loop turn,
        so a 500-record batch answer never freezes the window while the views re-read their rows."""
        if self._pending_ids:
            ids = sorted(self._pending_ids)[:_RECORD_FLUSH_CHUNK]
            self._pending_ids.difference_update(ids)
            self.ctx.notify_records_changed(ids)
        if self._pending_ids:
            self._flush_timer.start(0)  # the rest on the next turn, after paint and input events
        elif self._finished_report is not None:
            report, self._finished_report = self._finished_report, None
            self._complete_sync(report)

    def _sync_failed(self, message: str) -> None:
        self._last_error = message
        self.sync_state_label.setText("Sync problem")
        self.sync_state_label.setToolTip(message)
        self.statusBar().showMessage(message, 15_000)

    def _sync_done(self, report: dict[str, Any]) -> None:
        # the views first hear of every changed record, then the sync counts as finished
        self._finished_report = dict(report or {})
        if not self._flush_timer.isActive():
            self._flush_record_changes()

    def _complete_sync(self, report: dict[str, Any]) -> None:
        release_full_collections(_SYNC_HOLD)
        self.sync_progress.setVisible(False)
        self.sync_action.setEnabled(not self._closing)
        self.cancel_sync_action.setEnabled(False)
        problems = [str(p) for p in report.get("problems") or []]
        if self._last_error or report.get("fatal"):
            self.sync_state_label.setText("Sync problem")
            self.sync_state_label.setToolTip(self._last_error or str(report["fatal"]))
        elif report.get("stopped"):
            self.sync_state_label.setText("Sync cancelled")
            self.sync_state_label.setToolTip("")
        elif problems:
            self.sync_state_label.setText("Synced with problems")
            self.sync_state_label.setToolTip("\n".join(problems))
        else:
            self.sync_state_label.setText("Synced")
            self.sync_state_label.setToolTip("")
        self.refresh_status()
        self.activities_tab.refresh_counts()
        if self._undoable and not self.ctx.read(undo.still_undoable, self._undoable):
            self._forget_undo()  # the sync sent those deletes: there is nothing left to take back
        if report.get("activities_registered"):
            self.ctx.activities_changed.emit()
        self.sync_finished.emit(report)

    def bring_to_front(self) -> None:
        """ParsDesk was started again on this store: show this window instead of a second one."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
        self.statusBar().showMessage("ParsDesk is already open on this store: this is its window.", 8_000)

    # --- changes made by other processes ---------------------------------------------------------
    def _setup_change_feed(self) -> None:
        """Poll the store for other processes' writes (a cron `parsdesk import` or `sync`, another
        app); the views then refresh within about a second, keeping their selection."""
        self._change_feed = self.ctx.open_change_feed()
        self._change_timer = QTimer(self)
        self._change_timer.setInterval(STORE_POLL_MS)
        self._change_timer.timeout.connect(self.poll_store_changes)
        self._change_timer.start()
        self.ctx.store_changed.connect(self._store_changed)

    def poll_store_changes(self) -> bool:
        """Ask the feed once; True (and ctx.store_changed) when another process changed the store."""
        if self._closing:
            return False
        try:
            changed = self.ctx.read(self._change_feed.poll)
        except Exception as exc:  # noqa: BLE001 - e.g. the store is locked for a moment: ask again next tick
            log.debug("store change poll failed: %s", exc.__class__.__name__)
            return False
        if changed:
            self.ctx.store_changed.emit()
        return changed

    def _database_reachable(self, reachable: bool, why: str) -> None:
        """The office database went away or came back: say so in the status bar, retry until back."""
        if reachable:
            self._reconnect_timer.stop()
            self.database_label.setVisible(False)
            self.statusBar().showMessage("The office database answers again; the views are up to date.", 10_000)
            self.ctx.store_changed.emit()  # others may have changed things meanwhile
            return
        self.database_label.setText("Office database unreachable: reconnecting…")
        self.database_label.setToolTip(
            f"{why}\nNothing is lost: saved records are in the database, and an unsaved form stays open. "
            "ParsDesk reconnects by itself."
        )
        self.database_label.setVisible(True)
        if not self._closing:
            self._reconnect_timer.start()

    def _store_changed(self) -> None:
        # the tabs refresh themselves (connected earlier, so the counts read here are fresh)
        self.refresh_status()

    # --- status ----------------------------------------------------------------------------------
    def refresh_status(self) -> None:
        try:
            status = self.ctx.read(records.sync_status)
        except StoreUnavailableError:
            return  # the status bar says the database is unreachable; refreshed once it is back
        queued, last = status.queued, status.last_sync_at
        self._count_open_records()
        route = " · upload files" if self.uses_upload_files else ""
        self.environment_label.setText(f"PARS: {environment_label(self.ctx.environment)}{route}")
        self.prepare_upload_action.setText(
            f"Prepare upload for PARS ({queued})…" if queued and self.uses_upload_files else "Prepare upload for PARS…"
        )
        self.banner.setVisible(self.ctx.demo and self.ctx.environment == "local")
        self.queued_label.setText(f"{queued} queued" if queued else "Nothing queued")
        self.last_sync_label.setText(f"Last sync: {_format_time(last)}" if last else "Never synced")
        if not self._attention_timer.isActive():
            self._attention_timer.start()

    def _count_open_records(self) -> None:
        counts = self.activities_tab.model_counts()
        self._open_records = counts.get("Submitted", 0) + counts.get("Delete Submitted", 0)

    def _attention_due(self) -> None:
        if self._closing:
            return
        if self.sync_running:
            self._attention_timer.start()  # again after the sync
        else:
            self.refresh_attention()

    def refresh_attention(self) -> None:
        """The attention strip, the Activities table's markers and the status bar's urgent count,
        from one read of the attention list (deadlines as of the clock's today). The list counts
        over every record (seconds at a million records), so it is read in the background and shown
        when it arrives."""
        self.ctx.read_later("attention", attention.attention_summary, clock.today(), on_result=self._show_attention)

    def _show_attention(self, summary: attention.AttentionSummary) -> None:
        if self._closing:
            return
        self.attention = summary
        self.attention_strip.set_summary(summary)
        self.activities_tab.set_attention_markers(summary.by_activity)
        urgent = summary.most_urgent
        if summary.overdue_records:
            text = f"⚠ {summary.overdue_records} record{'s' if summary.overdue_records != 1 else ''} past a PARS deadline"
        elif summary.due_records:
            text = f"{summary.due_records} record{'s' if summary.due_records != 1 else ''} due within days"
        else:
            text = ""
        self.attention_label.setText(text)
        self.attention_label.setToolTip(f"Most urgent: {urgent.title} — {urgent.action}" if urgent else "")
        color = "#d9483b" if summary.overdue_records else "palette(text)"
        self.attention_label.setStyleSheet(f"color: {color}; font-weight: bold;" if text else "")

    def show_attention(self, rule: str, title: str) -> int:
        """An attention item clicked: its records in Learner Search; returns how many are shown."""
        self.tabs.setCurrentIndex(TAB_SEARCH)
        return self.search_tab.show_attention(rule, title)

    def open_overview(self) -> Any:
        from app.ui.overview_chart import OverviewDialog

        dialog = OverviewDialog(self.ctx, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.overview_dialog = dialog
        return dialog

    @property
    def queued_count(self) -> int:
        return self.ctx.read(records.queued_count)

    # --- tab routing -----------------------------------------------------------------------------
    def show_activity(self, activity_row_id: int) -> None:
        self.tabs.setCurrentIndex(TAB_SUMMARY)
        show = getattr(self.summary_tab, "show_activity", None)
        if callable(show):
            show(activity_row_id)

    def _tab_changed(self, index: int) -> None:
        tab = self.tabs.widget(index)
        if index == TAB_SUMMARY:
            # the Learner Summary follows the activity selected on the Activities tab
            selected = self.activities_tab.current_activity_id()
            if selected is not None and self.summary_tab.current_activity_id() != selected:
                self.summary_tab.show_activity(selected)
        self.delete_action.setEnabled(callable(getattr(tab, "delete_selected", None)))
        # Two live Del shortcuts would be ambiguous and Qt would run neither: the window's Del is
        # registered only while the current tab has none of its own.
        delete_key = QKeySequence(QKeySequence.StandardKey.Delete)
        tab_has_own = any(act.shortcut() == delete_key for act in tab.findChildren(QAction)) if tab else False
        self.delete_action.setShortcut(QKeySequence() if tab_has_own else delete_key)

    def new_learner(self) -> Any:
        """Ctrl+N: the current tab's own "new learner" if it has one, else the entry form for the
        activity selected on the Activities tab. Without an activity there is nothing to enter a
        learner for: a message points to "New activity…" instead. Returns the dialog that opened."""
        tab = self.tabs.currentWidget()
        own = getattr(tab, "new_learner", None)
        chosen = getattr(tab, "current_activity_id", None) if callable(own) else None
        activity = chosen() if callable(chosen) else self.activities_tab.current_activity_id()
        if activity is None:
            return self._point_to_new_activity()
        if callable(own):
            return own()
        from app.ui.learner_dialog import open_new_learner

        return open_new_learner(self.ctx, self, activity)

    def _point_to_new_activity(self) -> QMessageBox:
        """Ctrl+N with no activity chosen: say why no form opens and offer to create the activity."""
        any_activity = self.activities_tab.model.rowCount() > 0
        text = (
            "A learner record belongs to an activity. Select the activity on the Activities tab, "
            "or create a new one." if any_activity else
            "A learner record belongs to an activity, and there is none yet. Create the activity first."
        )
        box = QMessageBox(QMessageBox.Icon.Information, "New learner", text, QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("chooseActivityBox")
        new_button = box.addButton("New activity…", QMessageBox.ButtonRole.AcceptRole)
        show_button = box.addButton("Show activities", QMessageBox.ButtonRole.ActionRole) if any_activity else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(new_button)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(_result: int) -> None:
            clicked = box.clickedButton()
            if clicked is new_button:
                QTimer.singleShot(0, self._new_activity_then_learner)
            elif show_button is not None and clicked is show_button:
                self.tabs.setCurrentIndex(TAB_ACTIVITIES)
                self.activities_tab.table.setFocus()

        box.finished.connect(answered)
        box.open()
        self.last_message = box
        return box

    def _new_activity_then_learner(self) -> Any:
        """The "New activity…" answer: the activity dialog, then the entry form for the new activity."""
        from app.ui.learner_dialog import open_new_learner

        self.tabs.setCurrentIndex(TAB_ACTIVITIES)
        row_id = self.activities_tab.new_activity()
        if row_id is None:
            return None
        self.last_message = open_new_learner(self.ctx, self, row_id)
        return self.last_message

    def search_learners(self) -> None:
        self.tabs.setCurrentIndex(TAB_SEARCH)
        focus = getattr(self.search_tab, "focus_search", None)
        if callable(focus):
            focus()
        else:
            self.search_tab.setFocus()

    def delete_selected(self) -> None:
        delete = getattr(self.tabs.currentWidget(), "delete_selected", None)
        if callable(delete):
            delete()

    # --- undo delete -----------------------------------------------------------------------------
    def _offer_undo(self, ids: list[int]) -> None:
        self._undoable = [int(i) for i in ids]
        self.undo_note.setText(f"Deleted {plural(len(ids), 'learner record')}.")
        self.undo_note.setVisible(True)
        self.undo_button.setVisible(True)
        self.undo_delete_action.setEnabled(True)
        self.undo_delete_action.setText(f"Undo delete ({plural(len(ids), 'record')})")

    def _forget_undo(self) -> None:
        self._undoable = []
        self.undo_note.setVisible(False)
        self.undo_button.setVisible(False)
        self.undo_delete_action.setEnabled(False)
        self.undo_delete_action.setText("Undo delete")

    def undo_delete(self) -> list[tuple[int, str]]:
        """Edit → Undo delete (Ctrl+Z): give the last deleted records back the status they had, as long
        as their delete has not been sent. Returns the records that could not be restored, with why."""
        ids = self._undoable
        if not ids:
            self.statusBar().showMessage("There is no delete to undo.", 5_000)
            return []
        refused = self.ctx.write(undo.undo_deletes, ids, self.ctx.actor)
        self._forget_undo()
        self.ctx.notify_records_changed(ids)
        restored = len(ids) - len(refused)
        if restored:
            self.statusBar().showMessage(f"Delete undone: {plural(restored, 'learner record')} restored.", 10_000)
        if refused:
            box = QMessageBox(
                QMessageBox.Icon.Warning, "Undo delete",
                f"{len(refused)} of {plural(len(ids), 'record')} could not be restored.",
                QMessageBox.StandardButton.Ok, self,
            )
            box.setObjectName("undoRefusedBox")
            box.setInformativeText("\n".join(f"• Record {completion_id}: {reason}" for completion_id, reason in refused))
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.last_message = box
        return refused

    def _records_changed(self, _ids: list[int]) -> None:
        # at most one status refresh per interval, also while changes keep coming during a sync
        if not self._status_timer.isActive():
            self._status_timer.start()

    def _after_upload(self, _upload_id: int = 0) -> None:
        self.refresh_status()
        self.activities_tab.refresh_counts()

    def _import_activities(self) -> None:
        self.tabs.setCurrentIndex(TAB_ACTIVITIES)
        self.activities_tab.import_json()

    def open_settings(self) -> None:
        from app.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.ctx, self)
        if dialog.exec():
            self.set_sync_interval(self.ctx.settings.sync_interval_s)
            self.refresh_status()
            if dialog.restart_needed:
                QMessageBox.information(
                    self, "Settings", "Some changes take effect when ParsDesk is started again:\n\n"
                    + "\n".join(f"• {item}" for item in dialog.restart_needed)
                )

    def _about(self) -> None:
        from app import __version__

        QMessageBox.about(
            self,
            "About ParsDesk",
            f"<b>ParsDesk {__version__}</b><p>Reports CME and MOC learner completions to ACCME PARS."
            f"<p>Store: {self.ctx.store.location}<br>PARS environment: {environment_label(self.ctx.environment)}",
        )

    # --- remembered state ------------------------------------------------------------------------
    def _tables(self) -> list[QAbstractItemView]:
        return [view for view in self.findChildren(QAbstractItemView) if view.objectName()]

    def _restore_state(self) -> None:
        geometry = self.window_state.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        index = self.window_state.current_tab()
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)
        for view in self._tables():
            header = getattr(view, "horizontalHeader", None)
            state = self.window_state.header_state(view.objectName())
            if header is not None and state is not None:
                header().restoreState(state)

    def save_state(self) -> None:
        self.window_state.set_geometry(self.saveGeometry())
        self.window_state.set_current_tab(self.tabs.currentIndex())
        for view in self._tables():
            header = getattr(view, "horizontalHeader", None)
            if header is not None:
                self.window_state.set_header_state(view.objectName(), QByteArray(header().saveState()))
        self.window_state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self._closing = True
        self._sync_timer.stop()
        if self.sync_running:
            self.sync_state_label.setText("Stopping sync…")
            self.ctx.sync.cancel()
            if not self.ctx.sync.wait_stopped(_STOP_WAIT_MS):
                log.warning("sync worker did not stop within %d ms; closing anyway", _STOP_WAIT_MS)
        self.upload_tab.shutdown()  # stops a file check that is running and waits for its thread
        for tab in (self.summary_tab, self.search_tab):
            tab.shutdown_export()  # a download still being written is abandoned; its target stays untouched
        # closing: no view needs the last changes any more, and nothing may touch the store after this
        for timer in (self._attention_timer, self._flush_timer, self._status_timer, self._change_timer,
                      self.activities_tab._counts_timer, self._reconnect_timer):
            timer.stop()
        close_feed = getattr(self._change_feed, "close", None)  # the office database's LISTEN connection
        if close_feed is not None:
            close_feed()
        self.save_state()
        # a background read still running would use the store after its owner closed it
        if not self.ctx.close_background_reads(_STOP_WAIT_MS):
            log.warning("a background read did not end within %d ms; closing anyway", _STOP_WAIT_MS)
        release_full_collections(_SYNC_HOLD)
        event.accept()


def keep_gui_thread_responsive() -> None:
    """Shorten the interpreter's thread switch interval for the GUI process (never lengthen it)."""
    if sys.getswitchinterval() > GUI_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)


def _format_time(value: datetime) -> str:
    """A stored UTC time in the user's local time, e.g. '14:05' today or '2026-11-26 14:05'."""
    local = value.replace(tzinfo=timezone.utc).astimezone() if value.tzinfo is None else value.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")
