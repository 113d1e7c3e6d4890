"""Counts read as English ("1 activity", "2 records"), ParsDesk spells US English, the status bar's
"Last sync" survives a pass that ended early, and `activities export` says what it left out."""

from __future__ import annotations

import re
from pathlib import Path

from app.cli import main
from app.pars.domain import Status
from app.services import records
from app.sync.engine import SyncEngine
from app.ui.activities_tab import ActivitiesTab
from app.wording import plural
from tests.sync_support import ScriptedPars, _Held, add_activity, queue_records
from tests.ui_support import make_context, make_window

ROOT = Path(__file__).resolve().parent.parent


def test_plural_agrees_with_the_count():
    assert plural(1, "record") == "1 record"
    assert plural(0, "record") == "0 records"
    assert plural(1, "activity") == "1 activity"
    assert plural(2, "activity") == "2 activities"
    assert plural(1200, "learner record") == "1,200 learner records"
    assert plural(3, "day") == "3 days"
    assert plural(2, "box") == "2 boxes"


def _texts() -> list[Path]:
    return [
        *ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("resources").rglob("*.toml"),
        *ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md",
    ]


def test_license_is_spelled_the_us_way_everywhere():
    british = [f"{path.relative_to(ROOT)}:{n}" for path in _texts()
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if re.search(r"licence", line, re.IGNORECASE)]
    assert british == []


# a count placed in front of a plural noun in a message, e.g. f"{n} records" ("1 records" when n is 1)
_FIXED_PLURAL = re.compile(
    r"\{(len\([^{}]*\)|[\w.]*(count|total|errors|records|activities|done|shown|n))(:,)?\} "
    r"(records|activities|learners|rows|files|results|attempts|adds|deletes|problems)\b|record\(s\)"
)


def test_messages_put_counts_through_the_plural_helper():
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in ROOT.joinpath("app").rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if _FIXED_PLURAL.search(line)]
    assert offenders == []


def test_activities_tab_counts_one_activity_in_the_singular(qtbot, store):
    add_activity(store, accme_id="123456789", title="Cardiology Update")
    tab = ActivitiesTab(make_context(store))
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.count_label.text() != "")
    assert tab.count_label.text() == "1 activity"


def test_activities_export_names_the_unregistered_activity_it_leaves_out(tmp_path, store, capsys):
    add_activity(store, accme_id="123456789", title="Cardiology Update")
    add_activity(store, title="Grand Rounds (not registered yet)")
    out = tmp_path / "activities.json"
    assert main(["activities", "export", str(out), "--db", str(store.path)]) == 0
    printed = capsys.readouterr().out
    assert "Exported 1 activity to activities.json." in printed
    assert "Not exported: 1 activity not registered with PARS yet" in printed
    assert "'Grand Rounds (not registered yet)'" in printed


def _accepted_then_unreachable(store) -> ScriptedPars:
    """Three Submitted records the board has accepted, then PARS drops off before the queued delete."""
    activity = add_activity(store, accme_id="123456789")
    submitted = queue_records(store, activity, 3, status=Status.SUBMITTED.value, outbox_action=None)
    queue_records(store, activity, 1, status=Status.DELETE_QUEUED.value, outbox_action="Delete", label="d")
    pars = ScriptedPars(script=["ok", "down"])  # the status poll is answered, the delete's lookup is not
    with store.session() as s:
        from app.models import CompletionRow

        for credit_id in s.query(CompletionRow.credit_id).filter(CompletionRow.id.in_(submitted)).all():
            pars.held[credit_id[0]] = _Held(content=(), status=Status.ACCEPTED.value)
    return pars


def test_a_pass_that_got_records_accepted_and_then_lost_pars_counts_as_a_sync(store):
    pars = _accepted_then_unreachable(store)
    report = SyncEngine(store, pars).run()
    assert report.accepted == 3 and report.problems  # it ended early
    with store.session() as s:
        assert records.last_sync_at(s) is not None


def test_status_bar_shows_the_last_sync_after_records_were_accepted_in_a_pass_with_problems(qtbot, store):
    pars = _accepted_then_unreachable(store)
    window = make_window(qtbot, make_context(store, client_factory=lambda: pars))
    assert window.last_sync_label.text() == "Never synced"
    with qtbot.waitSignal(window.sync_finished, timeout=10_000) as finished:
        window.sync_now()
    assert finished.args[0]["accepted"] == 3
    assert window.sync_state_label.text() == "Sync problem"
    assert window.last_sync_label.text().startswith("Last sync: ")
