"""The demo store: statuses come from the sandbox, every kind a coordinator meets is there."""

from sqlalchemy import select

from app.models import ActivityRow, CompletionRow
from app.services.demo import build_demo


def test_demo_records_travel_through_the_sandbox_and_agree_with_it(store, sandbox):
    summary = build_demo(store, learners=60, sandbox=sandbox)

    assert summary.records == 60
    for status in ("Accepted", "Rejected", "Submitted", "Queued", "Draft"):
        assert summary.statuses.get(status, 0) > 0, f"no {status} record in the demo: {summary.statuses}"
    sandbox_status = {r["credit_id"]: r for r in sandbox.records()}
    with store.session() as session:
        rows = list(session.scalars(select(CompletionRow)))
        sent = [r for r in rows if r.status not in ("Queued", "Draft")]
        for row in sent:
            assert sandbox_status[row.credit_id]["status"] == row.status
            assert sandbox_status[row.credit_id]["received"] == 1, (row.status, row.events and [e.status for e in row.events])
        rejected = [r for r in rows if r.status == "Rejected"]
        assert all(r.status_code and r.status_message for r in rejected)
        registered = session.scalars(select(ActivityRow.accme_id).where(ActivityRow.start_date <= ActivityRow.end_date))
        assert sum(1 for accme_id in registered if accme_id and len(accme_id) == 9) >= 5


def test_demo_without_a_sandbox_leaves_records_queued(store):
    summary = build_demo(store, learners=20)
    assert set(summary.statuses) <= {"Queued", "Draft"}
    assert summary.statuses["Queued"] > summary.statuses.get("Draft", 0)


def test_demo_refuses_a_store_that_has_activities(store):
    build_demo(store, learners=5)
    try:
        build_demo(store, learners=5)
    except ValueError as exc:
        assert "already holds activities" in str(exc)
    else:
        raise AssertionError("a second demo build must be refused")


def test_demo_command_builds_a_store(tmp_path, capsys):
    from app.cli import main

    assert main(["demo", "--db", str(tmp_path / "d.sqlite3"), "--learners", "12"]) == 0
    out = capsys.readouterr().out
    assert "12 learner records" in out
