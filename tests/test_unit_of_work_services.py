"""The combined use cases widgets call through ctx.read/ctx.write: each is one unit of work that
returns plain values, and each does what the widget used to do with several calls in one session."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.pars.domain import BoardPart, Status
from app.services import learners, records
from app.services.export import export_filtered
from app.services.learners import SearchFilters, SortKey

from learner_support import add_activity, completion, store_record


@pytest.fixture
def store(any_store):
    """Every test here runs on SQLite and on the office's PostgreSQL (tests/pg_support.py)."""
    return any_store

AS_OF = date(2026, 1, 20)


def test_delete_explained_names_refused_records_as_they_were_and_deletes_the_rest(store):
    activity = add_activity(store)
    submitted = store_record(store, activity, completion("Ada", "Lovelace"), status=Status.SUBMITTED)
    draft = store_record(store, activity, completion("Grace", "Hopper", license_id="G2"), status=Status.DRAFT)
    with store.transaction() as s:
        refused = learners.delete_records_explained(s, [submitted, draft, 999_999], "tester")
    assert [(view.learner_name if view else None, cid) for view, cid, _ in refused] == [
        ("Lovelace, Ada", submitted), (None, 999_999)
    ]
    assert "Submitted" in refused[0][2] and refused[1][2] == "It no longer exists."
    with store.session() as s:
        assert learners.record_by_id(s, draft).status == "Deleted"


def test_entry_form_data_loads_options_and_the_record_or_says_it_is_gone(store):
    activity = add_activity(store)
    draft = store_record(store, activity, completion("Ada", "Lovelace"), status=Status.DRAFT)
    with store.session() as s:
        blank = learners.entry_form_data(s)
        editing = learners.entry_form_data(s, draft)
        with pytest.raises(LookupError, match="learner record 999999 no longer exists"):
            learners.entry_form_data(s, 999_999)
    assert [o.row_id for o in blank.options] == [activity] and blank.record is None and blank.completion is None
    assert editing.record.completion_id == draft and editing.completion.learner.last_name == "Lovelace"


def test_save_entry_saves_new_edits_a_draft_and_resubmits_a_rejection(store):
    activity = add_activity(store)
    with store.transaction() as s:
        new = learners.save_entry(s, completion(permission=False), activity, "tester", AS_OF)
    assert new.status == "Draft"
    with store.transaction() as s:
        edited = learners.save_entry(s, completion(cme=Decimal("6")), activity, "tester", AS_OF, edit_id=new.completion_id)
    assert (edited.completion_id, edited.status) == (new.completion_id, "Queued")
    grace_boards = [BoardPart("ABIM", "654321", Decimal("8"), {"Medical Knowledge": None})]
    rejected = store_record(store, activity, completion("Grace", "Hoper", license_id="G2", boards=grace_boards),
                            status=Status.REJECTED,
                            code=665, message="Diplomate name does not match Board record")
    with store.session() as s:
        assert learners.record_for_opening(s, rejected)[1] is None
    with store.transaction() as s:
        again = learners.save_entry(
            s, completion("Grace", "Hopper", license_id="G2", boards=grace_boards), activity, "tester", AS_OF,
            resubmit_id=rejected,
        )
    assert again.saved and again.completion_id not in (rejected, new.completion_id)
    with store.session() as s:
        view, refusal = learners.record_for_opening(s, rejected)
        gone = learners.record_with_history(s, 999_999)
        _, history = learners.record_with_history(s, rejected)
    assert view.replaced_by_id == again.completion_id and refusal == f"It was already resubmitted as {again.credit_id}."
    assert gone == (None, [])
    assert f"Resubmitted as {again.credit_id}" in [h.message for h in history]  # the whole chain is shown
    assert (history[-1].credit_id, history[-1].status) == (again.credit_id, "Queued")


def test_first_page_and_refresh_records_read_a_table_s_rows_in_one_unit_of_work(store):
    activity = add_activity(store)
    ids = [store_record(store, activity, completion("Learner", f"N{n}", license_id=f"L{n}")) for n in range(5)]
    filters = SearchFilters(activity_row_id=activity, include_deleted=False)
    with store.session() as s:
        total, page = learners.first_page(s, filters, limit=2, sort=SortKey.NAME, descending=False)
    assert total == 5 and [v.last_name for v in page] == ["N0", "N1"]
    with store.transaction() as s:
        learners.delete_records(s, [ids[0]], "tester")
    with store.session() as s:
        refreshed = learners.refresh_records(s, filters, ids[:2], shown={ids[0], ids[1]}, recount=True)
        unchanged_total = learners.refresh_records(s, filters, ids[1:2], shown={}, recount=False)
    assert set(refreshed.views) == {ids[1]}  # the deleted one no longer matches the activity's list
    assert refreshed.total == 4 and unchanged_total.total is None


def test_sync_status_and_filtered_export(store, tmp_path):
    activity = add_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace"))
    store_record(store, activity, completion("Grace", "Hopper", license_id="G2"), status=Status.ACCEPTED)
    with store.session() as s:
        status = records.sync_status(s)
        written = export_filtered(s, tmp_path / "out.xlsx", SearchFilters(activity_row_id=activity))
    assert (status.queued, status.last_sync_at) == (1, None)
    assert written == 2
    rows = list(load_workbook(tmp_path / "out.xlsx", read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 3  # header + two records, sorted by name
