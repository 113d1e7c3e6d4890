"""What every tab and dialog shares: the store, the environment, and change notifications.

Widgets never keep ORM objects across event-loop turns; they ask services inside
`ctx.store.transaction()` (writes) or `ctx.store.session()` (reads) and keep plain values.
When records change (a user action, an import, a sync), whoever changed them calls
`ctx.notify_records_changed(ids)`, and every view updates just those rows.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.models import Store


class AppContext(QObject):
    # completion ids whose row content/status changed (empty list = "many; reload")
    records_changed = Signal(list)
    # activities added, edited or registered with PARS
    activities_changed = Signal()
    # a batch upload finished queueing
    upload_finished = Signal(int)
    # ask the main window to show an activity's learners (activity row id)
    open_activity_requested = Signal(int)
    # ask the main window to start a sync now
    sync_requested = Signal()

    def __init__(self, store: Store, *, environment: str = "local", actor: str = "coordinator") -> None:
        super().__init__()
        self.store = store
        self.environment = environment
        self.actor = actor  # recorded in status history as who made a change

    def notify_records_changed(self, completion_ids: list[int] | None = None) -> None:
        self.records_changed.emit(list(completion_ids or []))
