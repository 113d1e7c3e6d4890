"""A record's learner identity is its own snapshot: what was typed or read from the file is what is
stored, validated, sent, shown and repeated in a delete. The learner directory only learns from it.

Before the snapshot, a record took its identity from the stored learner it matched (name + license),
which never changed: a corrected birth date or licensing state was stored and sent as the old one.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from sqlalchemy import select

from app.models import ActivityRow, CompletionRow, LearnerRow
from app.pars.batch import load_batch
from app.pars.domain import Learner, RecordAction, Status
from app.services import learners, records
from app.services.batch_import import analyse, commit
from app.services.history import load_history
from tests.batch_support import AS_OF as BATCH_AS_OF
from tests.batch_support import add_activity as add_batch_activity
from tests.batch_support import row, write_xlsx
from tests.learner_support import add_activity, completion, store_record

AS_OF = date(2026, 2, 15)


def _sent(store, completion_id: int, action: RecordAction = RecordAction.ADD):
    """The record exactly as the sync engine renders it for PARS."""
    with store.session() as s:
        return records.completion_to_domain(s.get(CompletionRow, completion_id), action=action)


def _directory(store) -> list[LearnerRow]:
    with store.session() as s:
        return list(s.scalars(select(LearnerRow).order_by(LearnerRow.id)))


def test_a_new_record_for_a_known_learner_is_stored_and_sent_with_the_birth_date_typed(store):
    activity = add_activity(store)
    first = store_record(store, activity, completion(dob="11/16"), status=Status.ACCEPTED)
    second = store_record(store, activity, completion(dob="11/15", state="NY", completed=date(2026, 1, 7)))

    assert _sent(store, second).learner.birth_date == "11/15"
    assert _sent(store, second).learner.licensing_state == "NY"
    assert _sent(store, first).learner.birth_date == "11/16"  # an earlier record keeps its own
    with store.session() as s:
        views = {v.completion_id: v for v in learners.records_by_ids(s, [first, second])}
    assert (views[first].birth_date, views[second].birth_date) == ("11/16", "11/15")
    assert (views[first].licensing_state, views[second].licensing_state) == ("CA", "NY")


def test_the_learner_directory_learns_the_latest_values_for_pre_fill(store):
    activity = add_activity(store)
    store_record(store, activity, completion(dob="11/16"))
    store_record(store, activity, completion(dob="11/15", state="NY", completed=date(2026, 1, 7)))

    (learner,) = _directory(store)  # matched by name + license: still one learner
    assert (learner.birth_date, learner.licensing_state) == ("11/15", "NY")
    with store.session() as s:
        (match,) = learners.local_learner_matches(s, Learner("Ada", "Lovelace", license_id="A12345"))
    assert match.learner.birth_date == "11/15"


def test_a_blank_never_erases_what_the_directory_knows(store):
    activity = add_activity(store)
    store_record(store, activity, completion(dob="11/16"))
    with store.transaction() as s:
        learner = s.scalars(select(LearnerRow)).one()
        records._learn(learner, Learner("Ada", "Lovelace", None, None, None))
    (learner,) = _directory(store)
    assert (learner.birth_date, learner.licensing_state, learner.license_id) == ("11/16", "CA", "A12345")


def test_a_corrected_resubmission_is_sent_with_the_corrected_birth_date_and_state(store):
    activity = add_activity(store)
    rejected = store_record(
        store, activity, completion(dob="11/16", state="CA"), status=Status.REJECTED, code=664,
        message="Diplomate date of birth does not match Board record for this diplomate ID",
    )
    with store.session() as s:
        corrected = learners.completion_for_edit(s, rejected)
    corrected.learner = dataclasses.replace(corrected.learner, birth_date="11/15", licensing_state="NY")
    with store.transaction() as s:
        result = learners.resubmit(s, rejected, corrected, "dana", AS_OF)
    assert result.saved, result.issues

    sent = _sent(store, result.completion_id)
    assert (sent.learner.birth_date, sent.learner.licensing_state) == ("11/15", "NY")
    assert _sent(store, rejected).learner.birth_date == "11/16"  # the rejected attempt as it was sent
    with store.session() as s:
        history = load_history(s)
    assert history.sent[_sent(store, rejected).credit_id].learner.birth_date == "11/16"


def test_a_delete_repeats_the_identity_the_record_was_sent_with(store):
    activity = add_activity(store)
    accepted = store_record(store, activity, completion(dob="11/16"), status=Status.ACCEPTED)
    # a later record teaches the directory another birth date and state
    store_record(store, activity, completion(dob="11/15", state="NY", completed=date(2026, 1, 7)))

    with store.transaction() as s:
        assert records.request_delete(s, s.get(CompletionRow, accepted), actor="dana") is None
    delete = _sent(store, accepted, RecordAction.DELETE)
    assert (delete.learner.birth_date, delete.learner.licensing_state) == ("11/16", "CA")


def test_editing_a_draft_changes_the_identity_it_will_be_sent_with(store):
    activity = add_activity(store)
    draft = store_record(store, activity, completion(dob="11/16", permission=False))
    with store.session() as s:
        edited = learners.completion_for_edit(s, draft)
    edited.learner = dataclasses.replace(edited.learner, birth_date="11/15")
    edited.permission = True
    with store.transaction() as s:
        result = learners.update_draft(s, draft, edited, "dana", AS_OF)
    assert result.saved, result.issues
    assert _sent(store, draft).learner.birth_date == "11/15"


def test_learner_search_finds_a_record_by_the_name_it_holds(store):
    activity = add_activity(store)
    record = store_record(store, activity, completion())
    with store.transaction() as s:  # the directory entry is renamed (e.g. merged by hand)
        s.scalars(select(LearnerRow)).one().last_name = "Byron"
    with store.session() as s:
        found = learners.search_records(s, learners.SearchFilters(name="Lovelace"))
        by_license = learners.search_records(s, learners.SearchFilters(learner_id="a12345"))
    assert [v.completion_id for v in found] == [record]
    assert [v.last_name for v in found] == ["Lovelace"]
    assert [v.completion_id for v in by_license] == [record]


def test_an_uploaded_row_for_a_known_learner_keeps_its_own_birth_date(tmp_path, store):
    add_batch_activity(store)
    first = write_xlsx(tmp_path / "first.xlsx", [row(1, Date_of_Birth="11/16")])
    second = write_xlsx(tmp_path / "second.xlsx", [row(1, Date_of_Birth="11/15", Licensing_State="NY",
                                                         Completion_Date="01-07-2026")])
    for path in (first, second):
        with store.session() as s:
            analysis = analyse(s, load_batch(path), BATCH_AS_OF)
        with store.transaction() as s:
            commit(s, analysis, path.name, attested_by="dana", actor="dana")

    with store.session() as s:
        rows = s.scalars(select(CompletionRow).order_by(CompletionRow.id)).all()
        sent = [records.completion_to_domain(r).learner for r in rows]
        activity_rows = s.scalars(select(ActivityRow)).all()
    assert len(activity_rows) == 1
    assert [(l.birth_date, l.licensing_state) for l in sent] == [("11/16", "CA"), ("11/15", "NY")]
    (learner,) = _directory(store)
    assert (learner.birth_date, learner.licensing_state) == ("11/15", "NY")


def test_rows_of_one_new_learner_in_one_file_each_keep_their_own_values(tmp_path, store):
    add_batch_activity(store)
    path = write_xlsx(tmp_path / "two.xlsx", [
        row(1, Date_of_Birth="11/16"),
        row(1, Date_of_Birth="11/15", Completion_Date="01-07-2026"),
    ])
    with store.session() as s:
        analysis = analyse(s, load_batch(path), BATCH_AS_OF)
    assert [v.issues for v in analysis.verdicts] == [[], []]
    with store.transaction() as s:
        commit(s, analysis, path.name, attested_by="dana", actor="dana")
    with store.session() as s:
        dobs = [r.birth_date for r in s.scalars(select(CompletionRow).order_by(CompletionRow.id))]
    assert dobs == ["11/16", "11/15"]


def test_a_draft_edited_to_another_name_and_license_is_found_by_them(store):
    activity = add_activity(store)
    draft = store_record(store, activity, completion("Ada", "Lovelace", license_id="A12345", permission=False))
    with store.session() as s:
        edited = learners.completion_for_edit(s, draft)
    edited.learner = dataclasses.replace(edited.learner, first_name="Augusta", last_name="Müller",
                                         license_id="0077")
    with store.transaction() as s:
        assert learners.update_draft(s, draft, edited, "dana", AS_OF).saved
    with store.session() as s:
        by_name = learners.search_records(s, learners.SearchFilters(name="muller"))
        by_license = learners.search_records(s, learners.SearchFilters(learner_id="77"))
        by_old_name = learners.search_records(s, learners.SearchFilters(name="Lovelace"))
    assert [v.completion_id for v in by_name] == [draft] == [v.completion_id for v in by_license]
    assert by_old_name == []


def test_the_directory_finds_a_learner_by_the_license_it_learned(store):
    activity = add_activity(store)
    store_record(store, activity, completion(license_id="A12345", dob="11/16"))
    with store.transaction() as s:  # a record without a license matches by name + DOB and adds one
        records._learn(s.scalars(select(LearnerRow)).one(), Learner("Ada", "Lovelace", "11/16", "CA", "B-777"))
    with store.session() as s:
        (match,) = learners.local_learner_matches(s, Learner("Ada", "Lovelace", license_id="b777"))
    assert match.learner.license_id == "B-777"


def test_the_learner_export_shows_each_record_with_the_identity_it_holds(store, tmp_path):
    from openpyxl import load_workbook

    from app.services.export import export_filtered

    activity = add_activity(store)
    store_record(store, activity, completion(state="CA", license_id="A12345"), status=Status.ACCEPTED)
    store_record(store, activity, completion(state="NY", license_id="A12345", completed=date(2026, 1, 7)))
    out = tmp_path / "learners.xlsx"
    with store.session() as s:
        assert export_filtered(s, out, learners.SearchFilters(activity_row_id=activity)) == 2
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    state = rows[0].index("Licensing State")
    completed = rows[0].index("Completion Date")
    assert sorted((r[completed].day, r[state]) for r in rows[1:]) == [(6, "CA"), (7, "NY")]
