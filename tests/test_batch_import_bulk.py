"""Batch import writes each table in one bulk step (app/models/bulk.py: COPY on PostgreSQL, the driver's
executemany on SQLite, ids taken first; a delete file's record changes likewise, through a COPYed
temporary table on PostgreSQL) and finds the file's learners with one indexed join. These tests hold
it to the plain path, one SQLAlchemy INSERT, UPDATE or DELETE per row and `(a, b) IN (...)` lookups:
the same store, row for row, on both engines; a record changed by someone else meanwhile stops the
whole unit of work; and a process killed in the middle leaves nothing behind."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.orm.exc import StaleDataError

from app.models import Store
from app.models.bulk import delete_ids, insert_rows, update_rows
from app.models.schema import Base, CompletionRow, LearnerRow, OutboxRow, StatusEvent
from app.models.store import ConcurrentChangeError
from app.pars.batch import load_batch
from app.pars.domain import Status
from app.services import batch_import, records
from app.services.batch_import import analyse, commit
from app.services.records import set_status
from tests.batch_support import AS_OF, add_activity, counts, row, statuses, write_xlsx

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(any_store):
    """Every test here runs on SQLite and on the office's PostgreSQL (tests/pg_support.py)."""
    return any_store


@pytest.fixture
def reference_store(store_engine, tmp_path, request):
    """A second, empty store on the same engine: the plain path writes there."""
    if store_engine == "sqlite":
        opened = Store.open(tmp_path / "reference.sqlite3")
    else:
        opened = Store.open(request.getfixturevalue("postgres_server").create_database())
    yield opened
    opened.close()


def _row_by_row(session, target, rows, *, with_ids=False):
    """The plain path: one Core INSERT per row, SQLAlchemy filling the defaults and the id."""
    table = target if hasattr(target, "c") else target.__table__
    ids = [session.execute(insert(table), dict(values)).inserted_primary_key[0] for values in rows]
    return ids if with_ids else []


def _update_row_by_row(session, target, changes, *, versioned=False):
    """The plain path: one Core UPDATE per row, checked as the ORM checks a versioned row."""
    table = target if hasattr(target, "c") else target.__table__
    for change in changes:
        values = {name: value for name, value in change.items() if name not in ("id", "version")}
        statement = update(table).where(table.c.id == change["id"])
        if versioned:
            statement = statement.where(table.c.version == change["version"])
            values["version"] = change["version"] + 1
        if session.execute(statement.values(**values)).rowcount != 1:
            raise StaleDataError(f"{table.name} {change['id']} changed since it was read")


def _delete_row_by_row(session, target, ids):
    table = target if hasattr(target, "c") else target.__table__
    return sum(session.execute(delete(table).where(table.c.id == one)).rowcount for one in ids)


def _pairs_in(session, query, col_a, col_b, pairs):
    return query.where(tuple_(col_a, col_b).in_(sorted(set(pairs))))


@pytest.fixture
def plain_path(monkeypatch):
    """Turns the bulk writes and the joined lookups of the import into the plain ones."""

    def switch() -> None:
        for module in (records, batch_import):
            monkeypatch.setattr(module, "insert_rows", _row_by_row)
            monkeypatch.setattr(module, "key_pairs_join", _pairs_in)
        monkeypatch.setattr(records, "update_rows", _update_row_by_row)
        monkeypatch.setattr(records, "delete_ids", _delete_row_by_row)

    return switch


@pytest.fixture
def numbered_credit_ids(monkeypatch):
    """Credit IDs from a counter (they are random), so two stores can be compared row for row."""

    def restart() -> None:
        counter = itertools.count(1)

        def next_credit_id(provider: str) -> str:
            return f"{provider}-T{next(counter):06d}"

        monkeypatch.setattr(records, "new_credit_id", next_credit_id)
        monkeypatch.setattr(batch_import, "new_credit_id", next_credit_id)

    return restart


def _import(store: Store, path: Path, *, resend_rejected: bool = False):
    with store.session() as s:
        analysis = analyse(s, load_batch(path), AS_OF)
    with store.transaction() as s:
        return analysis, commit(s, analysis, path.name, attested_by="dana", actor="dana",
                                resend_rejected=resend_rejected)


def _office_day(store: Store, folder: Path):
    """A first upload, PARS's answers to it, and a second upload that meets the first at every turn."""
    add_activity(store)
    with store.transaction() as s:  # a learner already in the directory, known by name and birth date only
        s.add(LearnerRow(first_name="Grace", last_name="Hopper", birth_date="12/09", board_ids={"ABIM": "999001"}))
    january = write_xlsx(folder / "january.xlsx", [
        row(1), row(2), row(3), row(4),
        row(5, First_Name="Zoë", Last_Name="Müller-D’Arcy"),
        row(6, Licensing_ID_or_NPI="", Number_of_CME_Credits="", First_Name="Grace", Last_Name="Hopper",
            Date_of_Birth="12/09"),  # MOC only: known by name and birth date
        row(7, Completion_Date="02-20-2026"),  # after the activity: an error
    ])
    first = _import(store, january)
    with store.transaction() as s:
        for record in s.scalars(select(CompletionRow).order_by(CompletionRow.id)):
            if record.license_id == "A0000002":
                set_status(s, record, Status.REJECTED, source="board", code=664, message="not certified")
            elif record.license_id in ("A0000001", "A0000004", "A0000005"):
                set_status(s, record, Status.ACCEPTED, source="board")
        s.execute(update(CompletionRow).values(version=CompletionRow.version + 1))
    february = write_xlsx(folder / "february.xlsx", [
        row(1),  # already reported (Accepted in the office)
        row(2),  # rejected 664 before and unchanged: resent on request
        row(3, Completion_Date="01-20-2026"),  # the same learner, another day: a new record
        row(4, Date_of_Birth="04/01", Licensing_State="NY"),  # the directory learns the new values
        row(4, Record_Action="Delete"),  # the accepted record deleted
        row(5, First_Name="Zoe", Last_Name="Muller-DArcy", Licensing_ID_or_NPI="A0000005"),  # folded keys meet
        row(8, Total_Board_Credits="6", Credits_Awarded_for_Credit_Type="6"),
        row(8, Total_Board_Credits="6", Credits_Awarded_for_Credit_Type="6"),  # twice in the file: 711
        row(1, Completion_Date="01-21-2026", Total_Board_Credits="6",
            Credits_Awarded_for_Credit_Type="6"),  # beyond the points the office holds for the learner: 711
        row(9, Licensing_ID_or_NPI="", Number_of_CME_Credits="", First_Name="Grace", Last_Name="Hopper",
            Date_of_Birth="12/09", Completion_Date="01-08-2026"),
        row(10, Licensing_ID_or_NPI="B77"),
        row(11, Number_of_CME_Credits="9"),  # more than the activity offers: an error
        row(12), row(12, Completion_Date="01-07-2026"),  # a new learner on two days
    ])
    second = _import(store, february, resend_rejected=True)
    return first, second


def _all_counts(store: Store) -> dict[str, int]:
    with store.session() as s:
        return {table.name: s.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables}


def _contents(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table in id order; times only as 'set' (the two runs differ in clock)."""
    found: dict[str, list[tuple]] = {}
    with store.session() as s:
        for table in Base.metadata.sorted_tables:
            order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
            found[table.name] = [
                tuple("<time>" if isinstance(value, datetime) else value for value in line)
                for line in s.execute(select(table).order_by(*order))
            ]
    return found


def test_bulk_import_stores_exactly_what_the_row_by_row_path_stores(
    store, reference_store, tmp_path, plain_path, numbered_credit_ids
):
    numbered_credit_ids()
    (first, second) = _office_day(store, tmp_path)
    numbered_credit_ids()
    plain_path()
    (plain_first, plain_second) = _office_day(reference_store, tmp_path)

    assert [v.kind for v in second[0].verdicts] == [v.kind for v in plain_second[0].verdicts]
    assert second[1] == plain_second[1]
    bulk, plain = _contents(store), _contents(reference_store)
    for table in plain:
        assert bulk[table] == plain[table], table
    # and what that is: each verdict of the second file held
    assert [v.kind.value for v in second[0].verdicts] == [
        "Already reported", "Rejected before", "Add", "Add", "Delete", "Add", "Add", "Error", "Error", "Add", "Add",
        "Error", "Add", "Add",
    ]
    assert [v.first_issue.code for v in second[0].verdicts if v.first_issue] == [711, 711, 674]
    assert (second[1].adds, second[1].resent, second[1].deletes, second[1].queued) == (9, 1, 1, 10)
    with store.session() as s:
        learners = s.execute(select(LearnerRow.first_name, LearnerRow.birth_date, LearnerRow.licensing_state,
                                    LearnerRow.board_ids).order_by(LearnerRow.id)).all()
        versions = set(s.scalars(select(CompletionRow.version).where(CompletionRow.upload_id == second[1].upload_id)))
    assert versions == {1}
    assert [name for name, *_ in learners].count("Grace") == 1  # the directory entry was found, not duplicated
    assert ("Learner4", "04/01", "NY") in [(n, b, s) for n, b, s, _ in learners]


def _delete_day(store: Store, folder: Path, first, second):
    """After the office day: PARS's and the boards' answers to the second file, a sync that has one
    record in flight, then a file that deletes records in every state, resends and adds."""
    rejected_by = {("A0000003", 20): "PARS", ("B77", 6): "board"}  # PARS stored nothing for its own rejection
    with store.transaction() as s:
        for record in s.scalars(select(CompletionRow).where(CompletionRow.upload_id == second[1].upload_id)
                                .order_by(CompletionRow.id)):
            source = rejected_by.get((record.license_id, record.completion_date.day))
            if source is not None:
                set_status(s, record, Status.REJECTED, source=source, code=664, message="no")
                s.execute(delete(OutboxRow).where(OutboxRow.completion_id == record.id))
            elif record.license_id == "A0000012" and record.completion_date.day == 7:
                s.execute(update(OutboxRow).where(OutboxRow.completion_id == record.id).values(in_flight=True))
    march = write_xlsx(folder / "march.xlsx", [
        row(1, Record_Action="Delete"),  # Accepted: a PARS delete is queued
        row(1, Record_Action="Delete"),  # the same record again: already being deleted (605)
        row(3, Completion_Date="01-20-2026", Record_Action="Delete"),  # rejected by PARS: removed locally
        row(10, Licensing_ID_or_NPI="B77", Record_Action="Delete"),  # rejected by a board: a PARS delete
        row(12, Record_Action="Delete"),  # queued, not sent yet: deleted here, its pending add dropped
        row(12, Completion_Date="01-07-2026", Record_Action="Delete"),  # in flight: refused at the commit
        row(9, Licensing_ID_or_NPI="", Number_of_CME_Credits="", First_Name="Grace", Last_Name="Hopper",
            Date_of_Birth="12/09", Completion_Date="01-08-2026", Record_Action="Delete"),  # queued: deleted
        row(4, Record_Action="Delete"),  # deleted by the second file already (605)
        row(20, Record_Action="Delete"),  # never reported (605)
        row(2),  # its resend of the second file stands: already reported
        row(21), row(22, Completion_Date="01-09-2026"),  # new records in the same file
    ])
    return _import(store, march, resend_rejected=True)


def test_bulk_delete_files_store_exactly_what_the_row_by_row_path_stores(
    store, reference_store, tmp_path, plain_path, numbered_credit_ids
):
    numbered_credit_ids()
    day = _office_day(store, tmp_path)
    third = _delete_day(store, tmp_path, *day)
    numbered_credit_ids()
    plain_path()
    plain_day = _office_day(reference_store, tmp_path)
    plain_third = _delete_day(reference_store, tmp_path, *plain_day)

    assert [v.kind for v in third[0].verdicts] == [v.kind for v in plain_third[0].verdicts]
    assert third[1] == plain_third[1]
    bulk, plain = _contents(store), _contents(reference_store)
    for table in plain:
        assert bulk[table] == plain[table], table
    # and what that is
    assert [v.kind.value for v in third[0].verdicts] == [
        "Delete", "Error", "Delete", "Delete", "Delete", "Delete", "Delete", "Error", "Error", "Already reported",
        "Add", "Add",
    ]
    assert (third[1].deletes, third[1].adds, third[1].errors) == (5, 2, 4)
    with store.session() as s:
        deleted = dict(s.execute(select(CompletionRow.license_id, CompletionRow.status)
                                 .where(CompletionRow.id.in_(third[1].completion_ids))).all())
        waiting = s.execute(select(OutboxRow.action, func.count()).group_by(OutboxRow.action)
                            .order_by(OutboxRow.action)).all()
        versions = dict(s.execute(select(CompletionRow.license_id, CompletionRow.version)
                                  .where(CompletionRow.status.in_(("Delete Queued", "Deleted")))).all())
        events = s.scalars(select(StatusEvent.message).where(StatusEvent.status == "Deleted")
                           .order_by(StatusEvent.id)).all()
    assert deleted["A0000001"] == deleted["B77"] == "Delete Queued"
    assert deleted["A0000003"] == "Deleted" and deleted["A0000012"] == "Deleted"
    assert events.count("Removed locally (never stored by PARS)") == 1
    assert [action for action, _ in waiting] == ["Add", "Delete"]
    assert all(version >= 2 for version in versions.values())  # each delete is a versioned change
    with store.session() as s:  # the time written through the bulk update is the event's, to the microsecond
        stamps = s.execute(
            select(CompletionRow.updated_at, StatusEvent.at)
            .join(StatusEvent, StatusEvent.completion_id == CompletionRow.id)
            .where(CompletionRow.id.in_(third[1].completion_ids), StatusEvent.status == CompletionRow.status)
        ).all()
    assert len(stamps) >= 5 and all(updated == at for updated, at in stamps)


def test_a_record_changed_by_someone_else_stops_the_bulk_update(store, tmp_path):
    add_activity(store)
    path = write_xlsx(tmp_path / "few.xlsx", [row(n) for n in range(1, 4)])
    _import(store, path)
    with store.session() as s:
        read = s.execute(select(CompletionRow.id, CompletionRow.version).order_by(CompletionRow.id)).all()
    with store.transaction() as s:  # another desk edits the second record meanwhile
        s.execute(update(CompletionRow).where(CompletionRow.id == read[1].id)
                  .values(status_message="edited", version=CompletionRow.version + 1))
    changes = [dict(id=i, version=v, status="Deleted", status_message="bulk") for i, v in read]
    with pytest.raises(ConcurrentChangeError), store.transaction() as s:
        update_rows(s, CompletionRow, changes, versioned=True)
    with store.session() as s:
        assert s.scalars(select(CompletionRow.status_message).order_by(CompletionRow.id)).all() == [None, "edited", None]
    with pytest.raises(ConcurrentChangeError), store.transaction() as s:  # a record removed meanwhile
        update_rows(s, CompletionRow, [dict(id=10**9, version=1, status="Deleted", status_message=None)],
                    versioned=True)
    with store.transaction() as s:  # read afresh: all three go, each one version up
        fresh = s.execute(select(CompletionRow.id, CompletionRow.version).order_by(CompletionRow.id)).all()
        update_rows(s, CompletionRow, [dict(id=i, version=v, status="Deleted", status_message="bulk")
                                       for i, v in fresh], versioned=True)
        outbox_ids = s.scalars(select(OutboxRow.id).order_by(OutboxRow.id)).all()
        assert delete_ids(s, OutboxRow, [*outbox_ids, 10**9]) == 3  # an id no longer there is no error
    with store.session() as s:
        after = s.execute(select(CompletionRow.status, CompletionRow.status_message, CompletionRow.version)
                          .order_by(CompletionRow.id)).all()
    assert [tuple(line) for line in after] == [("Deleted", "bulk", 2), ("Deleted", "bulk", 3), ("Deleted", "bulk", 2)]


def test_records_the_session_holds_show_the_bulk_delete(store, tmp_path):
    """learners.delete_records hands request_deletes ORM objects: after it they read as written, and
    a later change to one in the same unit of work is no conflict with the bulk update."""
    from app.services.learners import delete_records

    add_activity(store)
    path = write_xlsx(tmp_path / "few.xlsx", [row(n) for n in range(1, 4)])
    _import(store, path)
    with store.transaction() as s:
        s.execute(update(CompletionRow).values(status="Accepted", status_source="board"))
        s.execute(delete(OutboxRow))
    with store.transaction() as s:
        loaded = s.scalars(select(CompletionRow).order_by(CompletionRow.id)).all()
        assert delete_records(s, [r.id for r in loaded], actor="dana") == []
        assert [(r.status, r.version) for r in loaded] == [("Delete Queued", 2)] * 3
        loaded[0].status_message = "checked"  # an ORM change after the bulk update
    with store.session() as s:
        assert s.scalars(select(CompletionRow.version).order_by(CompletionRow.id)).all() == [3, 2, 2]
        assert s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.action == "Delete")) == 3


def _history_joining_every_line(session):
    """Batch Upload's history as it was counted before migration 0010: every upload line joined to its
    record (what the indexed count must keep giving, upload for upload)."""
    from collections import defaultdict

    from app.models.schema import UploadLine

    outcomes = defaultdict(lambda: defaultdict(int))
    for upload_id, created_by, status, count in session.execute(
        select(UploadLine.upload_id, CompletionRow.upload_id, CompletionRow.status, func.count())
        .join(CompletionRow, UploadLine.completion_id == CompletionRow.id)
        .group_by(UploadLine.upload_id, CompletionRow.upload_id, CompletionRow.status)
    ):
        outcome = batch_import._line_outcome(created_by == upload_id, Status(status))
        if outcome is not None:
            outcomes[upload_id][outcome] += count
        if outcome == "pending" and Status(status) in (Status.SUBMITTED, Status.DELETE_SUBMITTED):
            outcomes[upload_id]["submitted"] += count
    return {upload_id: dict(counts) for upload_id, counts in outcomes.items()}


def test_the_upload_history_counts_what_joining_every_line_counted(store, tmp_path):
    """Three uploads meeting at every turn (adds of every status, a resend, deletes of records of an
    earlier upload and of the entry form, refused and failed rows), then PARS's and the boards' answers
    to the deletes: each upload's accepted / rejected / pending / submitted are what they were."""
    from learner_support import completion as entry_completion, store_record

    day = _office_day(store, tmp_path)
    _delete_day(store, tmp_path, *day)
    with store.session() as s:
        activity_id = s.scalar(select(CompletionRow.activity_id))
    typed = store_record(store, activity_id, entry_completion())  # from the entry form: no upload
    with store.transaction() as s:
        set_status(s, s.get(CompletionRow, typed), Status.ACCEPTED, source="PARS")
        typed_row = s.get(CompletionRow, typed)
        typed_cells = dict(First_Name=typed_row.first_name, Last_Name=typed_row.last_name,
                           Completion_Date=typed_row.completion_date.strftime("%m-%d-%Y"))
    _, removal = _import(store, write_xlsx(tmp_path / "april.xlsx", [
        row(1, Record_Action="Delete"), row(30),  # already being deleted: an error; a new learner
    ]))
    with store.transaction() as s:
        answers = {"Delete Queued": Status.DELETE_SUBMITTED, "Queued": Status.SUBMITTED}
        for record in s.scalars(select(CompletionRow).order_by(CompletionRow.id)):
            if record.status in answers and record.id % 3:
                set_status(s, record, answers[record.status], source="PARS")
            elif record.status == "Delete Queued":
                set_status(s, record, Status.DELETED, source="PARS")
    with store.session() as s:
        views = {view.upload_id: view for view in batch_import.upload_history(s)}
        expected = _history_joining_every_line(s)
    assert len(views) == 4 and typed_cells  # every upload listed, including one that queued nothing new
    for upload_id, view in views.items():
        counts = expected.get(upload_id, {})
        assert (view.accepted, view.rejected, view.pending, view.submitted) == (
            counts.get("accepted", 0), counts.get("rejected", 0), counts.get("pending", 0), counts.get("submitted", 0)
        ), upload_id
    assert any(view.pending and view.submitted for view in views.values())
    assert any(view.accepted for view in views.values()) and any(view.rejected for view in views.values())


def test_the_upload_history_counts_records_from_the_index_alone(store, tmp_path):
    """A store of a million uploaded records has a million upload lines: the history no longer reads them."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans from its own statistics")
    from plan_support import plans_of

    add_activity(store)
    _import(store, write_xlsx(tmp_path / "learners.xlsx", [row(n) for n in range(1, 4)]))
    with store.session() as s:
        plans = plans_of(store, lambda: batch_import.upload_history(s))
    adds, deletes = plans
    assert adds == "SEARCH completion USING COVERING INDEX ix_completion_upload_status (upload_id>?)"
    # the lines of the uploads that queued deletes only (the upload table has a row per file)
    assert deletes.startswith("SEARCH upload_line USING INDEX ix_upload_line_upload_id (upload_id=?)")
    assert "SCAN upload_line" not in deletes and "SCAN completion" not in deletes


def test_a_second_file_with_the_same_rows_queues_nothing_twice(store, tmp_path):
    add_activity(store)
    path = write_xlsx(tmp_path / "learners.xlsx", [row(n) for n in range(1, 40)])
    _, summary = _import(store, path)
    before = counts(store)
    analysis, again = _import(store, path)
    assert summary.queued == 39
    assert again.queued == 0 and analysis.already_reported == 39
    after = counts(store)
    assert after["completion"] == before["completion"] and after["outbox"] == before["outbox"]
    assert after["upload"] == before["upload"] + 1


def test_ids_a_bulk_write_takes_do_not_collide_with_ordinary_inserts(store):
    with store.transaction() as s:
        s.add(LearnerRow(first_name="Ada", last_name="Lovelace", board_ids={}))
    with store.transaction() as s:
        ids = insert_rows(s, LearnerRow, [dict(first_name=f"N{n}", last_name="Bulk", board_ids={}) for n in range(5)],
                          with_ids=True)
    with store.transaction() as s:
        later = LearnerRow(first_name="Alan", last_name="Turing", board_ids={})
        s.add(later)
        s.flush()
        later_id = later.id
    with store.session() as s:
        stored = s.execute(select(LearnerRow.id, LearnerRow.first_key, LearnerRow.last_key)
                           .where(LearnerRow.last_name == "Bulk").order_by(LearnerRow.id)).all()
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [(i, f"n{n}", "bulk") for n, i in enumerate(ids)] == [tuple(line) for line in stored]
    assert later_id > max(ids)


def test_dates_and_times_are_written_as_one_insert_per_row_writes_them(store, reference_store):
    """Time columns are converted once per distinct value (a batch's rows share one timestamp): equal
    values give equal cells, and equal instants in different zones are still converted apart."""
    from datetime import timedelta, timezone

    from app.models.schema import UploadRow

    utc, paris = timezone.utc, timezone(timedelta(hours=1))
    times = [datetime(2026, 1, 2, 10, 0, 0, 123456), datetime(2026, 1, 2, 10, 0, 0, 123456), datetime(2026, 1, 3),
             datetime(2026, 1, 2, 10, tzinfo=utc), datetime(2026, 1, 2, 11, tzinfo=paris), None]
    if store.engine.dialect.name != "sqlite":
        times = [t for t in times if t is None or t.tzinfo is None]  # a zone is SQLite's text to keep, not PG's
    for target, write in ((store, insert_rows), (reference_store, _row_by_row)):
        with target.transaction() as s:
            write(s, UploadRow, [dict(at=t or datetime(2026, 1, 1), file_name=f"f{n}.xlsx", file_format="xlsx",
                                      attested_at=t) for n, t in enumerate(times)])
    query = select(UploadRow.at, UploadRow.attested_at).order_by(UploadRow.id)
    with store.session() as s, reference_store.session() as r:
        assert s.execute(query).all() == r.execute(query).all()


def test_a_bulk_write_is_rolled_back_with_its_transaction(store):
    before = counts(store)
    with pytest.raises(RuntimeError), store.transaction() as s:
        insert_rows(s, LearnerRow, [dict(first_name="Gone", last_name="Soon", board_ids={})], with_ids=True)
        raise RuntimeError("the unit of work failed after the write")
    assert counts(store) == before
    with store.session() as s:
        assert s.scalar(select(LearnerRow.id).where(LearnerRow.first_name == "Gone")) is None


# A `parsdesk import` that stops (and waits to be killed) right after the named table was written.
_STOPPING_IMPORT = """
import sys
from app.models import bulk
from app.services import batch_import, records

stop_after = sys.argv[1]

def stopping(session, target, rows, **options):
    ids = bulk.insert_rows(session, target, rows, **options)
    if getattr(target, "__tablename__", None) == stop_after:
        print("written", flush=True)
        sys.stdin.read()  # the test kills this process here, before the commit
    return ids

records.insert_rows = batch_import.insert_rows = stopping
from app.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("stop_after", ["completion", "upload_line"])
def test_an_import_killed_before_its_commit_leaves_nothing_half_written(store, tmp_path, stop_after):
    add_activity(store)
    path = write_xlsx(tmp_path / "learners.xlsx", [row(n) for n in range(1, 301)])
    before = _all_counts(store)
    command = [sys.executable, "-c", _STOPPING_IMPORT, stop_after,
               "import", str(path), "--db", store.location, "--as-of", AS_OF.isoformat()]
    child = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == b"written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdin.close()
        child.stdout.close()

    assert _all_counts(store) == before  # no upload, line, learner, record, board, event or outbox row
    _, summary = _import(store, path)  # and the file goes in whole afterwards, once
    assert summary.queued == 300
    assert set(statuses(store).values()) == {Status.QUEUED.value} and len(statuses(store)) == 300
    assert _all_counts(store)["outbox"] == before["outbox"] + 300
