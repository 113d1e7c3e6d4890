"""Several coordinators on one store (the office's PostgreSQL database, and a shared SQLite file):
each desk has its own Store (its own connections), as two ParsDesk apps do. Every test runs on both
engines (tests/pg_support.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.models import ConcurrentChangeError, Store
from app.pars.domain import Status
from app.services import learners
from app.ui.learner_dialog import LearnerDialog

from learner_support import completion, recent_activity, store_record
from ui_support import make_context


@pytest.fixture
def desks(any_store):
    """(desk one, desk two): two Stores on the same database."""
    other = Store.open(any_store.location, migrate_schema=False)
    yield any_store, other
    other.close()


def _recent() -> date:
    return date.today() - timedelta(days=3)


def _dialog(qtbot, ctx, activity, **kwargs) -> LearnerDialog:
    dialog = LearnerDialog(ctx, None, activity, online_match=False, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_saving_a_draft_another_coordinator_changed_meanwhile_is_refused_and_reloads_their_values(qtbot, desks):
    one, two = desks
    activity = recent_activity(one)
    draft = store_record(one, activity, completion(completed=_recent(), permission=False))
    ctx_one = make_context(one)
    ctx_one.actor = "Ada"
    dialog = _dialog(qtbot, ctx_one, activity, edit_id=draft)
    dialog.cme_credits.setText("6")

    # meanwhile desk two corrects the same draft
    with two.transaction() as session:
        theirs = learners.completion_for_edit(session, draft)
        theirs.learner.first_name = "Adah"
        result = learners.update_draft(session, draft, theirs, "Grace", date.today())
    assert result.saved

    assert dialog.submit() is None
    assert "changed by Grace" in dialog.conflict_message and "not saved" in dialog.conflict_message
    assert dialog.note.isVisible() and dialog.note.text() == dialog.conflict_message
    assert dialog.first_name.text() == "Adah"  # the form shows the newer values
    with one.session() as session:
        assert learners.completion_for_edit(session, draft).learner.first_name == "Adah"

    # saving again, on top of their version, works
    dialog.permission.setChecked(True)
    again = dialog.submit()
    assert again is not None and again.saved and again.status == Status.QUEUED.value
    with two.session() as session:
        history = learners.status_history(session, draft)
    assert [(h.actor, h.status) for h in history][-1] == ("Ada", Status.QUEUED.value)


def test_an_update_from_a_stale_read_fails_instead_of_overwriting(desks):
    from app.models import CompletionRow

    one, two = desks
    activity = recent_activity(one)
    draft = store_record(one, activity, completion(completed=_recent(), permission=False))
    session_one = one.session()
    try:
        session_one.begin()
        row_one = session_one.get(CompletionRow, draft)
        read_version = row_one.version
        with two.transaction() as session_two:  # the other desk commits first
            session_two.get(CompletionRow, draft).cme_credits = 3
        row_one.cme_credits = 5
        with pytest.raises(Exception) as raised:
            session_one.commit()
        assert type(raised.value).__name__ == "StaleDataError"
    finally:
        session_one.close()
    with one.transaction() as session:
        row = session.get(CompletionRow, draft)
        assert (row.cme_credits, row.version) == (3, read_version + 1)


def test_two_coordinators_resubmitting_the_same_rejection_get_one_resubmission(desks):
    one, two = desks
    activity = recent_activity(one)
    rejected = store_record(one, activity, completion(completed=_recent()), status=Status.REJECTED, code=665)
    with one.session() as session:
        version = learners.entry_form_data(session, rejected).version
    with one.transaction() as session:
        fixed = learners.completion_for_edit(session, rejected)
        first = learners.resubmit(session, rejected, fixed, "Ada", date.today(), expected_version=version)
    assert first.saved
    with pytest.raises(ConcurrentChangeError, match="changed by Ada"):
        with two.transaction() as session:
            fixed = learners.completion_for_edit(session, rejected)
            learners.resubmit(session, rejected, fixed, "Grace", date.today(), expected_version=version)


def test_duplicate_checks_see_the_records_another_desk_stored(desks):
    """710/711-style checks ask the shared store: a record stored at desk two is known at desk one."""
    one, two = desks
    activity = recent_activity(one)
    store_record(two, activity, completion(completed=_recent()))
    with one.session() as session:
        issues = learners.check_record(session, completion(completed=_recent()), activity, date.today())
    assert issues, "the same learner and activity stored at the other desk must be flagged"
    with one.session() as session:
        assert learners.count_records(session) == 1


def test_exports_and_history_name_the_coordinator_of_each_change(desks, tmp_path):
    from openpyxl import load_workbook

    from app.services.export import export_filtered
    from app.services.learners import SearchFilters

    one, two = desks
    activity = recent_activity(one)
    with one.transaction() as session:
        ada = learners.save_new_record(session, completion(completed=_recent(), permission=False), activity, "Ada", date.today())
    with two.transaction() as session:
        draft = learners.completion_for_edit(session, ada.completion_id)
        draft.permission = True
        learners.update_draft(session, ada.completion_id, draft, "Grace", date.today())
    with one.session() as session:
        steps = [(h.status, h.actor) for h in learners.status_history(session, ada.completion_id)]
        assert steps[0] == (Status.DRAFT.value, "Ada") and steps[-1] == (Status.QUEUED.value, "Grace")
        assert learners.record_by_id(session, ada.completion_id).changed_by == "Grace"
        out = tmp_path / "office.xlsx"
        assert export_filtered(session, out, SearchFilters()) == 1
    sheet = load_workbook(out).active
    headers = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=headers.index("Last Changed By") + 1).value == "Grace"


def test_an_unreachable_office_database_shows_in_the_status_bar_loses_nothing_and_reconnects(
    qtbot, postgres_server, postgres_url, tmp_path
):
    from sqlalchemy import func, select

    from app.models import CompletionRow
    from ui_support import make_window

    store = Store.open(postgres_url)
    database = postgres_url.rsplit("/", 1)[1]
    try:
        activity = recent_activity(store)
        window = make_window(qtbot, make_context(store))
        assert not window.database_label.isVisible()

        dialog = _dialog(qtbot, window.ctx, activity)
        for widget, text in ((dialog.first_name, "Ada"), (dialog.last_name, "Lovelace"), (dialog.birth_date, "12/10"),
                             (dialog.license_id, "A12345"), (dialog.completion_date, _recent().strftime("%m/%d/%Y"))):
            widget.setText(text)
        dialog.state_combo.setCurrentIndex(dialog.state_combo.findData("CA"))
        dialog.permission.setChecked(True)

        # while the coordinator types, the database goes away: connections are cut, new ones refused
        postgres_server.admin_execute(
            f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'",
        )
        assert dialog.submit() is None
        assert "cannot be reached, so nothing was saved" in dialog.note.text()
        assert dialog.isVisible() and dialog.first_name.text() == "Ada"  # nothing typed is lost
        qtbot.waitUntil(window.database_label.isVisible, timeout=5_000)
        assert "unreachable" in window.database_label.text()
        window.grab().save(str(tmp_path / "unreachable.png"))

        # it comes back: the window notices by itself and the same form saves
        postgres_server.admin_execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        qtbot.waitUntil(lambda: not window.database_label.isVisible(), timeout=15_000)
        saved = dialog.submit()
        assert saved is not None and saved.saved
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(CompletionRow)) == 1
    finally:
        postgres_server.admin_execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        store.close()


def test_an_activity_edited_at_another_desk_meanwhile_is_not_overwritten(qtbot, desks, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.models import ActivityRow
    from app.ui.activity_dialog import ActivityDialog

    one, two = desks
    activity = recent_activity(one)
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: warnings.append(text))
    dialog = ActivityDialog(make_context(one), activity_row_id=activity)
    qtbot.addWidget(dialog)
    dialog.title_edit.setText("Cardiology Update, edited at desk one")
    with two.transaction() as session:
        session.get(ActivityRow, activity).title = "Cardiology Update, edited at desk two"

    dialog.accept()
    assert warnings and "changed by another coordinator" in warnings[0]
    assert dialog.result() != ActivityDialog.DialogCode.Accepted
    assert dialog.title_edit.text() == "Cardiology Update, edited at desk two"  # their values, shown
    with one.session() as session:
        assert session.get(ActivityRow, activity).title == "Cardiology Update, edited at desk two"

    dialog.title_edit.setText("Cardiology Update, agreed")
    dialog.accept()
    assert warnings[1:] == [] and dialog.result() == ActivityDialog.DialogCode.Accepted
    with two.session() as session:
        assert session.get(ActivityRow, activity).title == "Cardiology Update, agreed"


def test_the_app_logs_an_unreachable_database_in_one_line_instead_of_a_traceback(monkeypatch, caplog):
    import sys

    from app.commands.gui import _quiet_when_the_database_is_away
    from app.models import StoreUnavailableError

    seen: list[type] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.append(kind))
    _quiet_when_the_database_is_away()
    sys.excepthook(StoreUnavailableError, StoreUnavailableError("The office database … cannot be reached"), None)
    assert seen == [] and "office database unreachable" in caplog.text
    sys.excepthook(KeyError, KeyError("a bug"), None)
    assert seen == [KeyError]  # everything else still reaches the usual hook
