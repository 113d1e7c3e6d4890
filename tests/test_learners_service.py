"""Learner records through app.services.learners: views, search filters, history, save/resubmit/delete."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import CompletionRow, OutboxRow, Store
from app.pars.domain import BoardPart, Learner, Status
from app.services import learners
from app.services.learners import SearchFilters, SortKey

from learner_support import add_activity, bulk_load, completion, store_record


@pytest.fixture
def store(any_store):
    """Every test here runs on SQLite and on the office's PostgreSQL (tests/pg_support.py)."""
    return any_store


AS_OF = date(2026, 1, 20)


def test_view_carries_learner_boards_and_status_without_orm_objects(store):
    activity = add_activity(store)
    rec = completion(
        boards=[
            BoardPart("ABIM", "123456", Decimal("8"), {"Medical Knowledge": None, "Patient Safety": Decimal("4")}),
            BoardPart("ABP", "P-77", Decimal("6"), {"Lifelong Learning & Self-Assessment": None}),
        ]
    )
    completion_id = store_record(store, activity, rec, status=Status.REJECTED, code=665, message="Diplomate name does not match Board record")
    with store.session() as s:
        view = learners.record_by_id(s, completion_id)
    assert view is not None
    assert view.learner_name == "Lovelace, Ada"
    assert view.board_ids == "ABIM 123456; ABP P-77"
    assert view.board_points == "ABIM 8 · ABP 6"
    assert view.credit_type_details == (
        "ABIM: Medical Knowledge 8, Patient Safety 4; ABP: Lifelong Learning & Self-Assessment 6"
    )
    assert (view.status, view.status_code, view.status_source) == ("Rejected", 665, "board")
    assert view.activity_accme_id == "123456789" and view.cme_credits == Decimal("8")


def test_search_filters_by_name_id_activity_board_status_and_dates(store):
    first = add_activity(store)
    second = add_activity(store, accme_id="987654321", title="Pediatric Sepsis Workshop", boards=(("ABP", Decimal("4"), ("Lifelong Learning & Self-Assessment",)),))
    ada = store_record(store, first, completion("Ada", "Lovelace", license_id="A1"), status=Status.ACCEPTED)
    grace = store_record(store, first, completion("Grace", "Hopper", license_id="G2", completed=date(2026, 1, 7)), status=Status.REJECTED, code=665)
    alan = store_record(
        store, second,
        completion("Alan", "Turing", license_id="T3", boards=[BoardPart("ABP", "P-99", Decimal("4"), {})]),
    )

    def ids(**kwargs) -> set[int]:
        with store.session() as s:
            found = {v.completion_id for v in learners.search_records(s, SearchFilters(**kwargs))}
            assert learners.count_records(s, SearchFilters(**kwargs)) == len(found)
        return found

    assert ids() == {ada, grace, alan}
    assert ids(name="hop") == {grace}
    assert ids(name="grace hopper") == {grace}
    assert ids(name="lovelace, ada") == {ada}
    assert ids(name="ada hopper") == set()
    assert ids(learner_id="a1") == {ada}  # license numbers are compared without case
    assert ids(learner_id="P-99") == {alan}  # board diplomate IDs
    assert ids(activity="987654321") == {alan}
    assert ids(activity="9876") == {alan}
    assert ids(activity="sepsis") == {alan}
    assert ids(board="abim") == {ada, grace}
    assert ids(status="Rejected") == {grace}
    assert ids(date_from=date(2026, 1, 7)) == {grace}
    assert ids(date_to=date(2026, 1, 6)) == {ada, alan}
    assert ids(activity_row_id=second) == {alan}
    assert ids(name="100%") == set()  # LIKE wildcards typed by the user are literal


def test_search_pages_and_sorts_in_sql(store):
    activity = add_activity(store)
    bulk_load(store, [activity], 250)
    with store.session() as s:
        page1 = learners.search_records(s, limit=100, offset=0, sort=SortKey.NAME, descending=False)
        page3 = learners.search_records(s, limit=100, offset=200, sort=SortKey.NAME, descending=False)
        everything = learners.search_records(s, limit=None, sort=SortKey.NAME, descending=False)
    assert len(page1) == 100 and len(page3) == 50
    names = [(v.last_name, v.first_name) for v in everything]
    assert names == sorted(names)
    assert [v.completion_id for v in page1] == [v.completion_id for v in everything[:100]]


def test_deleted_records_leave_the_activity_list_but_stay_searchable(store):
    activity = add_activity(store)
    kept = store_record(store, activity, completion("Ada", "Lovelace"))
    gone = store_record(store, activity, completion("Grace", "Hopper", license_id="G2"), status=Status.DRAFT)
    with store.transaction() as s:
        assert learners.delete_records(s, [gone], "tester") == []
    with store.session() as s:
        assert [v.completion_id for v in learners.records_for_activity(s, activity)] == [kept]
        assert {v.completion_id for v in learners.search_records(s, SearchFilters(status="Deleted"))} == {gone}


def test_delete_refuses_submitted_records_with_the_reason_and_deletes_the_rest(store):
    activity = add_activity(store)
    submitted = store_record(store, activity, completion("Ada", "Lovelace"), status=Status.SUBMITTED)
    accepted = store_record(store, activity, completion("Grace", "Hopper", license_id="G2"), status=Status.ACCEPTED)
    queued = store_record(store, activity, completion("Alan", "Turing", license_id="T3"))
    with store.transaction() as s:
        refused = learners.delete_records(s, [submitted, accepted, queued], "tester")
    assert [cid for cid, _ in refused] == [submitted]
    assert "Submitted" in refused[0][1]
    with store.session() as s:
        statuses = {v.completion_id: v.status for v in learners.records_by_ids(s, [submitted, accepted, queued])}
        outbox = s.scalars(select(OutboxRow)).all()
    assert statuses == {submitted: "Submitted", accepted: "Delete Queued", queued: "Deleted"}
    assert [(o.completion_id, o.action) for o in outbox] == [(accepted, "Delete")]


def test_history_lists_every_step_with_source_and_message(store):
    activity = add_activity(store)
    cid = store_record(store, activity, completion(), status=Status.SUBMITTED, source="PARS")
    with store.transaction() as s:
        from app.services import records

        records.set_status(s, s.get(CompletionRow, cid), Status.REJECTED, source="board", code=665, message="Diplomate name does not match Board record")
    with store.session() as s:
        history = learners.status_history(s, cid)
    assert [(h.status, h.source) for h in history] == [("Queued", "user"), ("Submitted", "PARS"), ("Rejected", "board")]
    assert history[-1].code == 665 and "Diplomate" in history[-1].message


def test_local_learner_match_by_license_or_name_and_birth_date(store):
    activity = add_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A12345"))
    store_record(store, activity, completion("Ada", "Lovelace", dob="01/02", license_id="Z999"))
    with store.session() as s:
        by_license = learners.local_learner_matches(s, Learner(license_id="a12345"))
        by_name = learners.local_learner_matches(s, Learner("ada", "LOVELACE"))
        by_name_dob = learners.local_learner_matches(s, Learner("Ada", "Lovelace", "01/02"))
        too_little = learners.local_learner_matches(s, Learner(last_name="Lovelace"))
    assert len(by_license) == 1 and by_license[0].learner.birth_date == "12/10"
    assert by_license[0].board_ids == {"ABIM": "123456"}
    assert len(by_name) == 2
    assert [m.learner.license_id for m in by_name_dob] == ["Z999"]
    assert too_little == []


def test_search_on_100000_records_counts_and_filters_every_record(tmp_path):
    # SQLite only: loading 100,000 records into PostgreSQL takes a minute here; bench/bench_office.py
    # measures the office database with the same data
    store = Store.open(tmp_path / "search.sqlite3")
    activities = [add_activity(store, accme_id=f"10000000{i}", title=f"Activity {i}") for i in range(5)]
    bulk_load(store, activities, 100_000)
    with store.session() as s:
        learners.count_records(s)  # warm the page cache as an opened app would be
        total = learners.count_records(s)
        first_page = learners.search_records(s, limit=200)
        filters = SearchFilters(name="hopper", status="Rejected", board="ABIM")
        matching = learners.count_records(s, filters)
        filtered = learners.search_records(s, filters, limit=200)
    store.close()
    assert total == 100_000 and len(first_page) == 200
    assert 0 < matching and len(filtered) == min(200, matching)
    assert all(v.status == "Rejected" and v.last_name.startswith("Hopper") for v in filtered)
    # timings live in bench/bench_search.py; the suite checks behaviour at this size


def _sqlite_only(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans from its own statistics")


def test_a_name_and_status_filter_is_counted_and_paged_from_the_status_and_name_indexes(store):
    """Learner Search's name + status filter matches tens of thousands of records in a large store:
    counting them and picking the first page by name must come from an index holding status, name
    key and name, not from each record's row (or from every record of that status)."""
    from plan_support import plans_of

    _sqlite_only(store)
    activities = [add_activity(store, accme_id=f"10000000{i}", title=f"Activity {i}") for i in range(2)]
    bulk_load(store, activities, 300)
    filters = SearchFilters(name="hopper", status="Rejected", board="ABIM")

    def search() -> None:
        with store.session() as s:
            learners.first_page(s, filters, limit=20, sort=SortKey.NAME, descending=False)

    count_plan, page_plan = plans_of(store, search)[:2]
    for plan in (count_plan, page_plan):
        assert "ix_completion_status_first_key" in plan and "ix_completion_status_last_key" in plan, plan
        assert "ix_completion_status (" not in plan, plan


def test_a_page_of_search_results_is_the_same_whatever_the_route_to_it(store):
    """A page is read as sorted ids first, then those records' rows: the page must hold exactly the
    records, in exactly the order, that one sorted query over whole rows gives."""
    activities = [add_activity(store, accme_id=f"10000000{i}", title=f"Activity {i}") for i in range(2)]
    bulk_load(store, activities, 300)
    with store.session() as s:
        for filters in (SearchFilters(), SearchFilters(name="hopper"), SearchFilters(status="Rejected", board="ABIM")):
            for sort in (SortKey.NAME, SortKey.DATE, SortKey.CME, SortKey.STATUS):
                for descending in (False, True):
                    every = learners.search_records(s, filters, limit=None, sort=sort, descending=descending)
                    pages = [learners.search_records(s, filters, limit=25, offset=offset, sort=sort,
                                                     descending=descending) for offset in range(0, 75, 25)]
                    assert [v.completion_id for page in pages for v in page] == [v.completion_id for v in every[:75]]
                    assert [v for page in pages for v in page] == every[:75]


def test_the_live_check_reads_the_learners_records_through_their_indexes_not_the_activity(store):
    """The entry form re-checks after each pause in typing: its history read must start from the
    learner's name, license or board-ID index, never walk every record of the activity."""
    from plan_support import plans_of

    _sqlite_only(store)
    activity = add_activity(store)
    bulk_load(store, [activity], 200)
    record = completion(license_id="L0000017",
                        boards=[BoardPart("ABIM", "100017", Decimal("8"), {"Medical Knowledge": None})])

    def check() -> None:
        with store.session() as s:
            learners.check_record(s, record, activity, AS_OF)

    plans = plans_of(store, check)
    assert plans
    for plan in plans:
        assert "SCAN completion" not in plan, plan
        assert "ix_completion_activity" not in plan, plan


def test_save_new_record_validates_then_queues_or_keeps_a_draft(store):
    activity = add_activity(store)
    bad = completion(boards=[BoardPart("ABIM", "123456", Decimal("1.3"), {"Medical Knowledge": None})])
    with store.transaction() as s:
        result = learners.save_new_record(s, bad, activity, "tester", AS_OF)
    assert not result.saved and [i.code for i in result.issues] == [675]

    with store.transaction() as s:
        queued = learners.save_new_record(s, completion(), activity, "tester", AS_OF)
        draft = learners.save_new_record(
            s, completion("Grace", "Hopper", license_id="G2", permission=False,
                          boards=[BoardPart("ABIM", "222222", Decimal("8"), {"Medical Knowledge": None})]), activity, "tester", AS_OF
        )
    assert queued.saved and queued.status == "Queued" and queued.credit_id.startswith("ccid:1234567:")
    assert draft.saved and draft.status == "Draft"


def test_same_learner_same_day_twice_is_refused_from_the_narrow_history(store):
    activity = add_activity(store)
    with store.transaction() as s:
        assert learners.save_new_record(s, completion(), activity, "tester", AS_OF).saved
        again = learners.save_new_record(s, completion(), activity, "tester", AS_OF)
    assert {i.code for i in again.issues} & {710, 711, 717}


def test_resubmission_gets_a_new_credit_id_linked_to_the_rejected_attempt(store):
    activity = add_activity(store)
    rejected = store_record(store, activity, completion("Ada", "Lovlace"), status=Status.REJECTED, code=665,
                            message="Diplomate name does not match Board record")
    with store.transaction() as s:
        original_credit = s.get(CompletionRow, rejected).credit_id
        result = learners.resubmit(s, rejected, completion("Ada", "Lovelace"), "tester", AS_OF)
    assert result.saved and result.status == "Queued" and result.credit_id != original_credit
    with store.session() as s:
        new = s.get(CompletionRow, result.completion_id)
        old = s.get(CompletionRow, rejected)
        assert new.replaces_id == rejected
        assert old.status == "Rejected" and old.status_code == 665  # the board's verdict stays visible
        assert learners.record_by_id(s, rejected).replaced_by_id == result.completion_id
        steps = [(h.credit_id == original_credit, h.status, h.message) for h in learners.status_history(s, result.completion_id)]
        assert learners.resubmission_refusal(s, rejected) == f"It was already resubmitted as {result.credit_id}."
    assert (True, "Rejected", f"Resubmitted as {result.credit_id}") in steps
    assert steps[-1][:2] == (False, "Queued")


def test_only_rejected_records_can_be_resubmitted(store):
    activity = add_activity(store)
    accepted = store_record(store, activity, completion(), status=Status.ACCEPTED)
    with store.session() as s:
        assert "Only Rejected records" in learners.resubmission_refusal(s, accepted)


def test_editing_a_draft_changes_it_in_place_and_queues_it_with_permission(store):
    activity = add_activity(store)
    with store.transaction() as s:
        draft = learners.save_new_record(s, completion(permission=False), activity, "tester", AS_OF)
    with store.transaction() as s:
        fixed = completion(cme=Decimal("6"), permission=True)
        result = learners.update_draft(s, draft.completion_id, fixed, "tester", AS_OF)
    assert result.completion_id == draft.completion_id and result.credit_id == draft.credit_id
    assert result.status == "Queued"
    with store.session() as s:
        assert learners.record_by_id(s, draft.completion_id).cme_credits == Decimal("6")
        assert learners.pending_outbox_ids(s, [draft.completion_id]) == {draft.completion_id}
