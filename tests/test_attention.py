"""The attention list over a real store, pinned to the dates that matter: December 20, March 25 and
a January 2 after a year with unsent deletes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update

from app.models import CompletionRow
from app.pars import clock
from app.services import attention
from app.services.learners import SearchFilters, count_records, search_records
from tests.attention_support import DECEMBER_20, build_scene


def items_by_rule(store, as_of, with_ids=True):
    with store.session() as s:
        return {item.rule: item for item in attention.attention_list(s, as_of, with_ids=with_ids)}


def test_december_20_lists_what_is_late_and_what_is_due(store):
    scene = build_scene(store)
    items = items_by_rule(store, DECEMBER_20)

    thirty = items["moc_30_days"]
    assert (thirty.count, thirty.overdue, thirty.deadline) == (2, 1, date(2026, 12, 10))
    assert set(thirty.credit_ids) == scene.credit_ids(store, "late", "near")

    year_end = items["moc_year_end"]  # every unsent MOC record of 2026: 12-31 is 11 days away
    assert (year_end.count, year_end.overdue, year_end.deadline) == (4, 0, date(2026, 12, 31))
    assert set(year_end.credit_ids) == scene.credit_ids(store, "late", "near", "draft", "fix")

    claim = items["credit_claim_date"]
    assert (claim.count, claim.overdue, claim.deadline) == (4, 0, date(2026, 12, 31))
    assert claim.activity_ids == ("123456789",)

    deletes = items["delete_year_end"]
    assert (deletes.count, deletes.overdue) == (1, 0)
    assert set(deletes.credit_ids) == scene.credit_ids(store, "leaving")

    assert set(items["rejected_waiting"].credit_ids) == scene.credit_ids(store, "near")  # "fixed" was corrected
    assert set(items["drafts_without_permission"].credit_ids) == scene.credit_ids(store, "draft")
    assert set(items["submitted_without_answer"].credit_ids) == scene.credit_ids(store, "asked")
    assert set(items["sync_failing"].credit_ids) == scene.credit_ids(store, "failing")
    assert "reporting_year_close" not in items  # 2026 records may be sent until 03-31-2027

    order = list(items_by_rule(store, DECEMBER_20, with_ids=False))
    assert order[0] == "moc_30_days"  # the only overdue item comes first
    assert order[-4:] == ["rejected_waiting", "drafts_without_permission", "submitted_without_answer", "sync_failing"]


def test_the_day_before_a_deadline_nothing_is_overdue_and_the_day_after_it_is(store):
    build_scene(store)
    assert items_by_rule(store, date(2026, 12, 10))["moc_30_days"].overdue == 0  # "late": its 30th day
    assert items_by_rule(store, date(2026, 12, 11))["moc_30_days"].overdue == 1


def test_march_25_the_previous_reporting_year_is_about_to_close(store):
    scene = build_scene(store)
    items = items_by_rule(store, date(2027, 3, 25))
    closing = items["reporting_year_close"]
    unsent = scene.credit_ids(store, "late", "near", "draft", "fix", "failing")
    assert (closing.count, closing.overdue, closing.deadline) == (5, 0, date(2027, 3, 31))
    assert set(closing.credit_ids) == unsent
    assert items["moc_year_end"].overdue == 4  # December 31 passed: those points miss 2026
    after = items_by_rule(store, date(2027, 4, 1))["reporting_year_close"]
    assert (after.count, after.overdue) == (5, 5)  # 705 from now on


def test_january_2_after_a_year_with_unsent_deletes(store):
    scene = build_scene(store)
    items = items_by_rule(store, date(2027, 1, 2))
    deletes = items["delete_year_end"]
    assert (deletes.count, deletes.overdue, deletes.deadline) == (1, 1, date(2026, 12, 31))
    assert set(deletes.credit_ids) == scene.credit_ids(store, "leaving")
    assert items["credit_claim_date"].overdue == 4
    assert items["credit_claim_date"].activity_ids == ("123456789",)


def test_abts_diplomates_without_abts_points_before_self_reporting_ends(store):
    from decimal import Decimal

    from app.pars.domain import BoardPart, Status
    from tests.learner_support import add_activity, completion, store_record

    activity = add_activity(store, accme_id="323456789", start=date(2027, 1, 4), end=date(2027, 12, 31), boards=(
        ("ABTS", Decimal("8"), ("Lifelong Learning",)), ("ABIM", Decimal("8"), ("Medical Knowledge",))))
    abts = [BoardPart("ABTS", "T-1", Decimal("8"), {"Lifelong Learning": None})]
    store_record(store, activity, completion("Tia", "Thorax", completed=date(2027, 3, 1), boards=abts),
                 status=Status.ACCEPTED)
    # the same diplomate, a second record without ABTS points
    missing = store_record(store, activity, completion("Tia", "Thorax", completed=date(2027, 3, 2),
                                                       boards=[BoardPart("ABIM", "123456", Decimal("8"))]))
    assert "abts_self_reporting_end" not in items_by_rule(store, date(2027, 7, 3))  # 181 days before
    due = items_by_rule(store, date(2027, 7, 4))["abts_self_reporting_end"]
    assert (due.count, due.overdue, due.deadline) == (1, 0, date(2027, 12, 31))
    with store.session() as s:
        assert due.credit_ids == (s.get(CompletionRow, missing).credit_id,)
    assert items_by_rule(store, date(2028, 1, 1))["abts_self_reporting_end"].overdue == 1


def test_learner_search_filtered_by_an_item_shows_exactly_its_records(store):
    build_scene(store)
    with clock.pinned(DECEMBER_20):
        items = items_by_rule(store, clock.today())
        with store.session() as s:
            for rule, item in items.items():
                filters = SearchFilters(attention=rule)
                assert count_records(s, filters) == item.count, rule
                shown = {r.credit_id for r in search_records(s, filters, limit=None)}
                assert shown == set(item.credit_ids), rule


def test_markers_count_each_record_once_per_activity(store):
    scene = build_scene(store)
    with store.session() as s:
        markers = attention.activity_markers(s, DECEMBER_20)
    # late (overdue); near, draft, fix (due); the CME activity: the queued delete (due)
    assert markers == {scene.activity_id: (1, 3), scene.cme_activity_id: (0, 1)}


def test_an_accepted_store_needs_no_attention(store):
    scene = build_scene(store)
    with store.transaction() as s:
        s.execute(update(CompletionRow).values(status="Accepted", updated_at=datetime(2026, 12, 19)))
        s.execute(update(CompletionRow).where(CompletionRow.id == scene.ids["failing"]).values(status="Accepted"))
        from app.models import OutboxRow

        s.execute(OutboxRow.__table__.delete())
    assert items_by_rule(store, DECEMBER_20) == {}


def test_abpmr_points_on_an_activity_that_started_before_2025_are_listed_as_overdue(store):
    from decimal import Decimal

    from app.pars.domain import BoardPart
    from tests.learner_support import add_activity, completion, store_record

    abpmr = (("ABPMR", Decimal("8"), ("Lifelong Learning",)),)
    early = add_activity(store, accme_id="423456789", start=date(2024, 12, 31), end=date(2025, 3, 31), boards=abpmr)
    eligible = add_activity(store, accme_id="523456789", start=date(2025, 1, 1), end=date(2025, 3, 31), boards=abpmr)
    part = [BoardPart("ABPMR", "P-1", Decimal("8"), {"Lifelong Learning": None})]
    late_one = store_record(store, early, completion("Pat", "Rehab", completed=date(2025, 2, 1), boards=part))
    store_record(store, eligible, completion("Pia", "Rehab", completed=date(2025, 2, 1), boards=part))
    item = items_by_rule(store, date(2025, 2, 3))["abpmr_activity_start"]
    assert (item.count, item.overdue, item.deadline) == (1, 1, date(2025, 1, 1))
    with store.session() as s:
        assert item.credit_ids == (s.get(CompletionRow, late_one).credit_id,)
