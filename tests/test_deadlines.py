"""The deadline rules of resources/pars/deadlines.toml, each judged on both sides of its boundary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.pars import catalog, clock, deadlines
from app.pars.catalog import CatalogError
from app.pars.deadlines import DUE, OVERDUE, record_warnings
from app.pars.domain import Activity, BoardPart, BoardRegistration, CmePart, Completion, Learner

D = Decimal


def activity(start=date(2026, 1, 1), end=date(2026, 12, 31), claim=None, boards=("ABIM",)) -> Activity:
    return Activity("123456789", "Update", "Course", start, end, D("8"),
                    tuple(BoardRegistration(b, D("8"), ("Medical Knowledge",), claim) for b in boards))


def record(completed: date, boards=("ABIM",), cme=True) -> Completion:
    return Completion(
        learner=Learner("Ada", "Lovelace", "12/10", "CA", "A1"), completion_date=completed,
        cme=CmePart(D("8")) if cme else None,
        boards=[BoardPart(b, "100001", D("8")) for b in boards],
    )


def states(completion: Completion, as_of: date, act: Activity | None = None, deleting: bool = False) -> dict[str, str]:
    return {w.rule: w.state for w in record_warnings(completion, act or activity(), as_of, deleting=deleting)}


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 12, 12), None),  # 8 days before the 30th day: not yet
    (date(2026, 12, 13), DUE),  # 7 days left
    (date(2026, 12, 20), DUE),  # the 30th day itself
    (date(2026, 12, 21), OVERDUE),
])
def test_moc_within_30_days_of_completion(as_of, expected):
    assert states(record(date(2026, 11, 20)), as_of).get("moc_30_days") == expected


def test_the_30_day_rule_is_for_moc_records_only():
    assert "moc_30_days" not in states(record(date(2026, 11, 1), boards=()), date(2026, 12, 20))


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 12, 9), None),  # 22 days before December 31
    (date(2026, 12, 10), DUE),  # the notice starts 21 days before
    (date(2026, 12, 31), DUE),
    (date(2027, 1, 1), OVERDUE),
])
def test_moc_points_count_for_the_year_only_when_reported_by_december_31(as_of, expected):
    assert states(record(date(2026, 6, 1)), as_of).get("moc_year_end") == expected


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 2, 28), None),
    (date(2026, 3, 1), DUE),  # 30 days' notice
    (date(2026, 3, 25), DUE),
    (date(2026, 3, 31), DUE),
    (date(2026, 4, 1), OVERDUE),  # the 2025 reporting year closed: 705
])
def test_reporting_year_closes_on_march_31_of_the_next_year(as_of, expected):
    assert states(record(date(2025, 6, 1), boards=()), as_of).get("reporting_year_close") == expected


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 12, 16), None),
    (date(2026, 12, 17), DUE),  # 14 days' notice
    (date(2026, 12, 31), DUE),
    (date(2027, 1, 2), OVERDUE),  # deletes of 2026 records closed: 706
])
def test_deletes_close_on_december_31_of_the_completion_year(as_of, expected):
    assert states(record(date(2026, 3, 1)), as_of, deleting=True).get("delete_year_end") == expected


def test_a_delete_is_not_judged_by_the_reporting_deadlines_nor_an_add_by_the_delete_one():
    assert set(states(record(date(2026, 3, 1)), date(2027, 1, 2), deleting=True)) == {"delete_year_end"}
    assert "delete_year_end" not in states(record(date(2026, 3, 1)), date(2027, 1, 2))


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 12, 16), None),
    (date(2026, 12, 17), DUE),  # 14 days before the claim date
    (date(2026, 12, 31), DUE),
    (date(2027, 1, 1), OVERDUE),  # the board's credit claim date passed: 671
])
def test_credit_claim_date_ends_moc_reporting(as_of, expected):
    act = activity(claim=date(2026, 12, 31))
    assert states(record(date(2026, 12, 1)), as_of, act).get("credit_claim_date") == expected


@pytest.mark.parametrize("start, expected", [(date(2024, 12, 31), OVERDUE), (date(2025, 1, 1), None)])
def test_abpmr_counts_activities_starting_from_2025_only(start, expected):
    act = activity(start=start, boards=("ABPMR",))
    warnings = states(record(date(2025, 2, 1), boards=("ABPMR",)), date(2025, 2, 3), act)
    assert warnings.get("abpmr_activity_start") == expected


def test_warning_messages_name_the_deadline_and_what_to_do():
    [first, *_] = record_warnings(record(date(2026, 11, 1)), activity(), date(2026, 12, 20))
    assert first.state == OVERDUE and first.rule == "moc_30_days"
    assert "12-01-2026" in first.message and "Send these MOC records now" in first.message


def test_latest_completion_due_by_turns_a_year_cutoff_into_a_completion_date():
    cutoff = catalog.cme_rules().report_deadline  # March 31 of the next year
    assert deadlines.latest_completion_for_cutoff(cutoff, date(2026, 3, 31)) == date(2025, 12, 31)
    assert deadlines.latest_completion_for_cutoff(cutoff, date(2026, 3, 30)) == date(2024, 12, 31)


def test_an_office_override_changes_a_rule(tmp_path, monkeypatch):
    bundled = deadlines.catalog.catalog_path(deadlines.DEADLINES_FILE).read_text(encoding="utf-8")
    monkeypatch.setenv("PARSDESK_CATALOG_DIR", str(tmp_path))
    (tmp_path / "deadlines.toml").write_text(bundled.replace("days = 30\n", "days = 45\n", 1), encoding="utf-8")
    catalog.reload()
    try:
        assert deadlines.rules().rule("moc_30_days").days == 45
        assert "moc_30_days" not in states(record(date(2026, 11, 20)), date(2026, 12, 21))
    finally:
        monkeypatch.delenv("PARSDESK_CATALOG_DIR")
        catalog.reload()


def test_a_broken_override_names_the_file_and_the_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("PARSDESK_CATALOG_DIR", str(tmp_path))
    (tmp_path / "deadlines.toml").write_text('[deadlines.x]\nkind = "whenever"\ntitle = "t"\naction = "a"\n')
    catalog.reload()
    try:
        with pytest.raises(CatalogError, match=r"deadlines.toml \[deadlines.x\]: kind 'whenever'"):
            deadlines.rules()
    finally:
        monkeypatch.delenv("PARSDESK_CATALOG_DIR")
        catalog.reload()


def test_the_clock_is_pinned_in_one_place(monkeypatch):
    with clock.pinned(date(2026, 12, 20)):
        assert clock.today() == date(2026, 12, 20)
    monkeypatch.setenv(clock.ENV_TODAY, "2027-01-02")
    assert clock.today() == date(2027, 1, 2)
    monkeypatch.setenv(clock.ENV_TODAY, "soon")
    with pytest.raises(clock.ClockError, match="PARSDESK_TODAY='soon'"):
        clock.today()
