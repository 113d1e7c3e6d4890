"""The batch import service (analyse, commit, history, rejection workbooks) and `parsdesk import`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select, update

from app.cli import main as cli_main
from app.models.schema import CompletionRow, OutboxRow, StatusEvent, UploadLine, UploadRow
from app.pars.batch import load_batch
from app.pars.domain import F_CME_CREDITS, F_COMPLETION_DATE, F_CREDIT_ID, F_DOB, RecordAction, Status
from app.pars.excel import F_ERROR_CODE, F_ERROR_MESSAGE
from app.services import batch_import, learners, records
from app.services.batch_import import ImportCancelled, RowKind, analyse, commit
from app.services.records import set_status
from tests.batch_support import (
    AS_OF,
    add_activity,
    completion,
    counts,
    row,
    statuses,
    write_xlsx,
    write_xml,
)


@pytest.fixture
def store(any_store):
    """Every test here runs on SQLite and on the office's PostgreSQL (tests/pg_support.py)."""
    return any_store


@pytest.fixture
def store(any_store):
    """Every test here runs on SQLite and on the office's PostgreSQL (tests/pg_support.py)."""
    return any_store

BAD_DATE = "02-20-2026"  # after the activity's end date (01-31-2026)
TOO_MANY_CREDITS = "9"  # the activity offers 8


@pytest.fixture
def activity_store(store):
    add_activity(store)
    return store


def _import(store, path: Path, *, user: str = "dana", resend_rejected: bool = False):
    batch = load_batch(path)
    with store.session() as s:
        analysis = analyse(s, batch, AS_OF)
    with store.transaction() as s:
        summary = commit(s, analysis, path.name, attested_by=user, actor=user, resend_rejected=resend_rejected)
    return analysis, summary


def _mixed_file(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "january.xlsx", [
        row(1),
        row(2, Completion_Date=BAD_DATE),
        row(3),
        row(4, Number_of_CME_Credits=TOO_MANY_CREDITS),
        row(5),
    ])


def _mark(store, status: Status, *, source: str = "board", code: int | None = None, message: str | None = None,
          credit_ids: list[str] | None = None) -> None:
    """Play PARS/the board: the records were sent (outbox emptied) and now stand at `status`."""
    with store.transaction() as s:
        query = select(CompletionRow)
        if credit_ids is not None:
            query = query.where(CompletionRow.credit_id.in_(credit_ids))
        for record in s.scalars(query):
            set_status(s, record, status, source=source, code=code, message=message)
            s.execute(delete(OutboxRow).where(OutboxRow.completion_id == record.id))


# --- analysis and commit ---------------------------------------------------------------------------


def test_analysis_counts_rows_and_names_each_problem_without_touching_the_store(activity_store, tmp_path):
    before = counts(activity_store)
    with activity_store.session() as s:
        analysis = analyse(s, load_batch(_mixed_file(tmp_path)), AS_OF)
    assert (analysis.records, analysis.valid, analysis.with_errors) == (5, 3, 2)
    assert (analysis.adds, analysis.deletes) == (3, 0)
    problems = analysis.problems()
    assert sorted({p.row for p in problems}) == [4, 6]  # sheet rows: data starts at row 3
    assert {(p.column, p.code) for p in problems if p.row == 4} == {(F_COMPLETION_DATE, 671)}
    assert {(p.column, p.code) for p in problems if p.row == 6} == {(F_CME_CREDITS, 674)}
    assert counts(activity_store) == before


def test_commit_queues_valid_rows_and_keeps_failed_rows_only_as_upload_lines(activity_store, tmp_path):
    _, summary = _import(activity_store, _mixed_file(tmp_path))
    assert (summary.records, summary.queued, summary.errors, summary.adds) == (5, 3, 2, 3)
    with activity_store.session() as s:
        records = s.scalars(select(CompletionRow).order_by(CompletionRow.upload_row)).all()
        assert [(r.upload_id, r.upload_row, r.status) for r in records] == [
            (summary.upload_id, 3, "Queued"), (summary.upload_id, 5, "Queued"), (summary.upload_id, 7, "Queued")
        ]
        assert all(r.permission_given for r in records)
        assert len(s.scalars(select(OutboxRow)).all()) == 3
        upload = s.get(UploadRow, summary.upload_id)
        assert (upload.records, upload.queued, upload.errors, upload.attested_by) == (5, 3, 2, "dana")
        assert upload.attested_at is not None
        lines = s.scalars(select(UploadLine).order_by(UploadLine.row_number)).all()
        assert [line.row_number for line in lines] == [3, 4, 5, 6, 7]
        assert [line.error_code is not None for line in lines] == [False, True, False, True, False]
        assert lines[1].values[2] == BAD_DATE  # the original cell, for the rejection workbook
        assert lines[0].completion_id == records[0].id and lines[1].completion_id is None


def test_nothing_is_queued_without_the_uploaders_attestation(activity_store, tmp_path):
    with activity_store.session() as s:
        analysis = analyse(s, load_batch(_mixed_file(tmp_path)), AS_OF)
    before = counts(activity_store)
    with pytest.raises(ValueError, match="attestation"):
        with activity_store.transaction() as s:
            commit(s, analysis, "january.xlsx", attested_by="  ")
    assert counts(activity_store) == before


def test_cancel_during_analysis_stops_and_changes_nothing(activity_store, tmp_path):
    path = write_xlsx(tmp_path / "big.xlsx", [row(n) for n in range(1, 601)])
    seen: list[int] = []
    before = counts(activity_store)
    with activity_store.session() as s, pytest.raises(ImportCancelled):
        analyse(s, load_batch(path), AS_OF, should_stop=lambda: len(seen) > 1, on_progress=lambda d, t: seen.append(d))
    assert seen and max(seen) < 600  # stopped part-way through the rows
    assert counts(activity_store) == before


def test_uploading_the_same_file_again_creates_no_duplicates(activity_store, tmp_path):
    path = _mixed_file(tmp_path)
    _import(activity_store, path)
    first = statuses(activity_store)
    analysis, summary = _import(activity_store, path)
    assert (summary.adds, summary.already_reported, summary.errors) == (0, 3, 2)
    assert statuses(activity_store) == first
    notes = dict(analysis.notes())
    credit_id = next(iter(first))
    assert any(credit_id in note and "(Queued)" in note for note in notes.values())


def _reject(store, credit_id: str, code: int = 664, *, on: datetime = datetime(2026, 11, 20, 15, 30)) -> int:
    """PARS/the board rejected this record at `on` (UTC); returns its id."""
    message = "Diplomate date of birth does not match Board record for this diplomate ID"
    _mark(store, Status.REJECTED, code=code, message=message, credit_ids=[credit_id])
    with store.transaction() as s:
        record = s.scalars(select(CompletionRow).where(CompletionRow.credit_id == credit_id)).one()
        s.execute(update(StatusEvent).where(StatusEvent.completion_id == record.id,
                                            StatusEvent.status == Status.REJECTED.value).values(at=on))
        return record.id


def _credit_id(store, upload_row: int) -> str:
    with store.session() as s:
        return s.scalar(select(CompletionRow.credit_id).where(CompletionRow.upload_row == upload_row)
                        .order_by(CompletionRow.id))


def test_redropping_a_file_leaves_a_still_rejected_row_alone_unless_asked(activity_store, tmp_path):
    path = write_xlsx(tmp_path / "one.xlsx", [row(1)])
    _import(activity_store, path)
    rejected = _reject(activity_store, _credit_id(activity_store, 3))

    analysis, summary = _import(activity_store, path)
    assert [v.kind for v in analysis.verdicts] == [RowKind.STILL_REJECTED]
    [(row_number, note)] = analysis.rejected_before()
    assert row_number == 3 and note.startswith("rejected 664 on 11-20-2026: will be sent unchanged")
    assert (summary.adds, summary.queued, summary.still_rejected) == (0, 0, 1)
    assert sorted(statuses(activity_store).values()) == ["Rejected"]

    analysis, summary = _import(activity_store, path, resend_rejected=True)  # the coordinator asks
    assert (summary.adds, summary.resent) == (1, 1)
    with activity_store.session() as s:
        resent = s.scalars(select(CompletionRow).where(CompletionRow.replaces_id == rejected)).one()
        notes = [e.message for e in s.scalars(select(StatusEvent).where(StatusEvent.completion_id == rejected))]
    assert resent.status == Status.QUEUED and resent.birth_date == "03/14"
    assert f"Resubmitted as {resent.credit_id} (one.xlsx, row 3)" in notes


def test_redropping_a_file_skips_rows_whose_rejection_was_corrected_and_accepted(activity_store, tmp_path):
    path = write_xlsx(tmp_path / "two.xlsx", [row(1), row(2)])
    _import(activity_store, path)
    _mark(activity_store, Status.ACCEPTED, credit_ids=[_credit_id(activity_store, 4)])
    rejected = _reject(activity_store, _credit_id(activity_store, 3))
    with activity_store.session() as s:
        corrected = learners.completion_for_edit(s, rejected)
    corrected.learner.birth_date = "03/15"
    with activity_store.transaction() as s:
        result = learners.resubmit(s, rejected, corrected, "dana", AS_OF)
    _mark(activity_store, Status.ACCEPTED, credit_ids=[result.credit_id])

    analysis, summary = _import(activity_store, path)
    assert [v.kind for v in analysis.verdicts] == [RowKind.ALREADY_REPORTED] * 2
    notes = dict(analysis.notes())
    assert notes[3].startswith("rejected 664 on 11-20-2026 as ")
    assert f"since corrected as {result.credit_id} (Accepted)" in notes[3]
    assert (summary.adds, summary.still_rejected, summary.already_reported) == (0, 0, 2)


def test_a_corrected_rejection_workbook_row_is_linked_and_stored_with_its_new_values(activity_store, tmp_path):
    _, summary = _import(activity_store, write_xlsx(tmp_path / "jan.xlsx", [row(1), row(2)]))
    rejected_credit = _credit_id(activity_store, 3)
    rejected = _reject(activity_store, rejected_credit)
    out = tmp_path / "jan-rejections.xlsx"
    with activity_store.session() as s:
        assert batch_import.write_upload_rejections(s, summary.upload_id, out) == 1
    workbook = load_workbook(out)
    sheet = workbook.active
    header = [c.value for c in sheet[2]]
    assert sheet.cell(3, header.index(F_CREDIT_ID) + 1).value == rejected_credit
    sheet.cell(3, header.index(F_DOB) + 1, "03/15")
    workbook.save(out)

    analysis, again = _import(activity_store, out)
    assert (again.adds, again.errors) == (1, 0)
    assert analysis.verdicts[0].target_id == rejected
    with activity_store.session() as s:
        new = s.scalars(select(CompletionRow).where(CompletionRow.replaces_id == rejected)).one()
        sent = records.completion_to_domain(new)
    assert new.credit_id != rejected_credit and sent.learner.birth_date == "03/15"


def test_a_rejection_workbook_of_a_template_without_a_credit_id_column_gains_one(activity_store, tmp_path):
    from openpyxl import Workbook

    from app.pars.excel import HEADERS

    headers = [h for h in HEADERS if h != F_CREDIT_ID]
    workbook = Workbook()
    workbook.active.append(["PARS learner upload"])
    workbook.active.append(headers)
    workbook.active.append([row(1).get(h, "") for h in headers])
    path = tmp_path / "pars-template.xlsx"
    workbook.save(path)
    _, summary = _import(activity_store, path)
    rejected_credit = _credit_id(activity_store, 3)
    _reject(activity_store, rejected_credit)
    with activity_store.session() as s:
        headers_out, rows = batch_import.rejection_rows(s, summary.upload_id)
    assert headers_out[-1] == F_CREDIT_ID and rows[0][0][-1] == rejected_credit


def test_an_xml_correction_of_a_rejected_record_is_linked_under_a_new_credit_id(activity_store, tmp_path):
    original = completion(1, credit_id="ccid:1234567:lms-1")
    _import(activity_store, write_xml(tmp_path / "first.xml", [original]))
    rejected = _reject(activity_store, "ccid:1234567:lms-1")
    fixed = completion(1, credit_id="ccid:1234567:lms-1")
    fixed.learner.birth_date = "03/15"

    analysis, summary = _import(activity_store, write_xml(tmp_path / "fixed.xml", [fixed]))
    assert (summary.adds, summary.errors) == (1, 0), analysis.problems()
    with activity_store.session() as s:
        new = s.scalars(select(CompletionRow).where(CompletionRow.replaces_id == rejected)).one()
    assert new.credit_id != "ccid:1234567:lms-1" and new.birth_date == "03/15"


def test_an_xml_correction_with_its_own_new_credit_id_is_linked_by_learner_and_date(activity_store, tmp_path):
    _import(activity_store, write_xml(tmp_path / "first.xml", [completion(1, credit_id="ccid:1234567:lms-1")]))
    rejected = _reject(activity_store, "ccid:1234567:lms-1")
    fixed = completion(1, credit_id="ccid:1234567:lms-2")
    fixed.learner.licensing_state = "NY"

    _, summary = _import(activity_store, write_xml(tmp_path / "fixed.xml", [fixed]))
    assert summary.adds == 1
    with activity_store.session() as s:
        new = s.scalars(select(CompletionRow).where(CompletionRow.replaces_id == rejected)).one()
    assert (new.credit_id, new.licensing_state) == ("ccid:1234567:lms-2", "NY")


def test_cli_import_resends_still_rejected_rows_only_with_the_flag(activity_store, tmp_path, capsys):
    path = write_xlsx(tmp_path / "one.xlsx", [row(1)])
    _import(activity_store, path)
    _reject(activity_store, _credit_id(activity_store, 3))
    capsys.readouterr()
    args = ["import", str(path), "--db", activity_store.location, "--as-of", AS_OF.isoformat()]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "1 rejected before (not resent)" in out
    assert "row 3: rejected 664 on 11-20-2026: will be sent unchanged" in out and "--resend-rejected" in out
    assert sorted(statuses(activity_store).values()) == ["Rejected"]

    assert cli_main([*args, "--resend-rejected"]) == 0
    assert "1 rejected before and resent unchanged" in capsys.readouterr().out
    assert sorted(statuses(activity_store).values()) == ["Queued", "Rejected"]


# --- deletes by file -------------------------------------------------------------------------------


def test_excel_delete_finds_the_reported_record_by_its_content(activity_store, tmp_path):
    _import(activity_store, write_xlsx(tmp_path / "adds.xlsx", [row(1), row(2)]))
    _mark(activity_store, Status.ACCEPTED)
    with activity_store.session() as s:
        target = s.scalar(select(CompletionRow.credit_id).where(CompletionRow.upload_row == 4))
    analysis, summary = _import(activity_store, write_xlsx(tmp_path / "del.xlsx", [row(2, Record_Action="Delete")]))
    assert analysis.verdicts[0].kind is RowKind.DELETE and analysis.verdicts[0].completion.credit_id == target
    assert (summary.deletes, summary.errors) == (1, 0)
    assert statuses(activity_store)[target] == Status.DELETE_QUEUED
    with activity_store.session() as s:
        assert s.scalars(select(OutboxRow.action)).all() == [RecordAction.DELETE.value]


def test_excel_delete_with_no_matching_record_is_605(activity_store, tmp_path):
    _import(activity_store, write_xlsx(tmp_path / "adds.xlsx", [row(1)]))
    _mark(activity_store, Status.ACCEPTED)
    before = statuses(activity_store)
    analysis, summary = _import(
        activity_store, write_xlsx(tmp_path / "del.xlsx", [row(1, Record_Action="Delete", Number_of_CME_Credits="3")])
    )
    assert (summary.deletes, summary.errors) == (0, 1)
    assert analysis.problems()[0].code == 605
    assert statuses(activity_store) == before


def test_excel_delete_of_a_record_not_yet_sent_removes_it_locally(activity_store, tmp_path):
    _import(activity_store, write_xlsx(tmp_path / "adds.xlsx", [row(1)]))
    _, summary = _import(activity_store, write_xlsx(tmp_path / "del.xlsx", [row(1, Record_Action="Delete")]))
    assert summary.deletes == 1
    assert list(statuses(activity_store).values()) == [Status.DELETED]
    with activity_store.session() as s:
        assert s.scalars(select(OutboxRow)).all() == []


def test_xml_delete_needs_the_credit_id_and_every_field_to_match(activity_store, tmp_path):
    _import(activity_store, write_xml(tmp_path / "adds.xml", [
        completion(1, credit_id="ccid:1234567:one"), completion(2, credit_id="ccid:1234567:two"),
    ]))
    _mark(activity_store, Status.ACCEPTED)
    analysis, summary = _import(activity_store, write_xml(tmp_path / "del.xml", [
        completion(1, credit_id="ccid:1234567:one", action=RecordAction.DELETE),
        completion(2, credit_id="ccid:1234567:two", action=RecordAction.DELETE, cme="3"),
        completion(3, credit_id="ccid:1234567:unknown", action=RecordAction.DELETE),
    ]))
    assert [v.kind for v in analysis.verdicts] == [RowKind.DELETE, RowKind.ERROR, RowKind.ERROR]
    assert [p.code for p in analysis.problems()] == [605, 605]
    assert "Number of CME Credits" in analysis.problems()[0].message  # names the field, not its value
    assert "ccid:1234567:unknown" in analysis.problems()[1].message
    assert (summary.deletes, summary.errors) == (1, 2)
    assert statuses(activity_store) == {"ccid:1234567:one": "Delete Queued", "ccid:1234567:two": "Accepted"}


def test_a_delete_of_a_record_the_board_still_processes_is_refused(activity_store, tmp_path):
    _import(activity_store, write_xlsx(tmp_path / "adds.xlsx", [row(1)]))
    _mark(activity_store, Status.SUBMITTED, source="PARS")
    analysis, summary = _import(activity_store, write_xlsx(tmp_path / "del.xlsx", [row(1, Record_Action="Delete")]))
    assert summary.deletes == 0 and summary.errors == 1
    assert "Submitted" in analysis.problems()[0].message
    assert list(statuses(activity_store).values()) == ["Submitted"]


# --- history and rejection workbooks ---------------------------------------------------------------


def test_history_shows_each_upload_with_what_became_of_its_records(activity_store, tmp_path):
    _, summary = _import(activity_store, _mixed_file(tmp_path))
    with activity_store.session() as s:
        ids = s.scalars(select(CompletionRow.credit_id).order_by(CompletionRow.upload_row)).all()
    _mark(activity_store, Status.ACCEPTED, credit_ids=[ids[0]])
    _mark(activity_store, Status.REJECTED, code=665, message="Diplomate name does not match", credit_ids=[ids[1]])
    with activity_store.session() as s:
        [view] = batch_import.upload_history(s)
    assert (view.upload_id, view.file_name, view.file_format) == (summary.upload_id, "january.xlsx", "xlsx")
    assert (view.records, view.queued, view.errors) == (5, 3, 2)
    assert (view.accepted, view.rejected, view.pending, view.submitted) == (1, 1, 1, 0)
    _mark(activity_store, Status.SUBMITTED, source="PARS", credit_ids=[ids[2]])
    with activity_store.session() as s:
        [view] = batch_import.upload_history(s)
    assert (view.pending, view.submitted) == (1, 1)


def test_rejection_workbook_holds_validation_failures_and_later_board_rejections(activity_store, tmp_path):
    _, summary = _import(activity_store, _mixed_file(tmp_path))
    with activity_store.session() as s:
        rejected = s.scalar(select(CompletionRow.credit_id).where(CompletionRow.upload_row == 7))
    _mark(activity_store, Status.REJECTED, code=665, message="Diplomate name does not match board records",
          credit_ids=[rejected])
    out = tmp_path / "january-rejections.xlsx"
    with activity_store.session() as s:
        written = batch_import.write_upload_rejections(s, summary.upload_id, out)
    assert written == 3
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[2]]
    assert header[-2:] == [F_ERROR_CODE, F_ERROR_MESSAGE]
    body = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
    assert [r[3] for r in body] == ["Learner2", "Learner4", "Learner5"]
    assert int(body[0][-2]) == 671 and int(body[2][-2]) == 665
    assert str(body[1][-2]).isdigit() and body[1][-1]
    assert "board records" in body[2][-1]
    reread = load_batch(out)  # the error columns are ignored when the file comes back
    assert len(reread.records) == 3 and F_ERROR_CODE not in reread.headers


def test_fixed_rejection_workbook_rows_come_back_queued(activity_store, tmp_path):
    _, summary = _import(activity_store, _mixed_file(tmp_path))
    out = tmp_path / "january-rejections.xlsx"
    with activity_store.session() as s:
        batch_import.write_upload_rejections(s, summary.upload_id, out)
    workbook = load_workbook(out)
    sheet = workbook.active
    header = [c.value for c in sheet[2]]
    sheet.cell(3, header.index(F_COMPLETION_DATE) + 1, "01-20-2026")
    sheet.cell(4, header.index(F_CME_CREDITS) + 1, "2")
    workbook.save(out)
    _, again = _import(activity_store, out)
    assert (again.adds, again.errors) == (2, 0)
    assert list(statuses(activity_store).values()).count("Queued") == 5


# --- parsdesk import ---------------------------------------------------------------------------------


def test_cli_import_queues_a_clean_file_and_exits_0(activity_store, tmp_path, capsys):
    path = write_xlsx(tmp_path / "clean.xlsx", [row(1), row(2)])
    code = cli_main(["import", str(path), "--db", activity_store.location, "--as-of", AS_OF.isoformat()])
    assert code == 0
    assert "2 records, 2 queued" in capsys.readouterr().out
    assert list(statuses(activity_store).values()) == ["Queued", "Queued"]
    assert not (tmp_path / "clean-rejections.xlsx").exists()


def test_cli_import_with_failing_rows_writes_rejections_and_exits_1(activity_store, tmp_path, capsys):
    path = _mixed_file(tmp_path)
    code = cli_main(["import", str(path), "--db", activity_store.location, "--as-of", AS_OF.isoformat()])
    out = capsys.readouterr().out
    assert code == 1
    assert "row 4, Completion Date: 671" in out
    rejections = tmp_path / "january-rejections.xlsx"
    assert rejections.exists() and str(rejections) in out
    assert len(load_batch(rejections).records) == 2


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("learners.csv", b"Record Action,ACCME Activity ID\n", "unsupported file type"),
        ("truncated.xlsx", b"PK\x03\x04" + b"\x00" * 40, "not a valid .xlsx"),
        ("empty.xml", b"", "empty"),
        (
            "laughs.xml",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<ACCMELearnerReports>&lol2;</ACCMELearnerReports>",
            "",
        ),
    ],
)
def test_cli_import_of_an_unreadable_file_exits_2_with_one_line_and_no_change(
    activity_store, tmp_path, capsys, name, content, expected
):
    path = tmp_path / name
    path.write_bytes(content)
    before = counts(activity_store)
    code = cli_main(["import", str(path), "--db", activity_store.location])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert expected in err and name in err
    assert counts(activity_store) == before


def test_cli_help_says_running_import_is_the_permission_attestation(capsys):
    with pytest.raises(SystemExit):
        cli_main(["import", "--help"])
    assert "attests" in capsys.readouterr().out


def test_bulk_queueing_reuses_stored_learners_like_the_entry_form(activity_store, tmp_path):
    from app.models.schema import LearnerRow, OutboxRow, StatusEvent

    _import(activity_store, write_xlsx(tmp_path / "first.xlsx", [row(1)]))
    # the same learner again (another date) plus a new learner twice in one file
    _import(activity_store, write_xlsx(tmp_path / "second.xlsx", [
        row(1, Completion_Date="01-07-2026"), row(2), row(2, Completion_Date="01-08-2026"),
    ]))
    with activity_store.session() as s:
        learners = s.scalars(select(LearnerRow).order_by(LearnerRow.id)).all()
        assert [l.first_name for l in learners] == ["Learner1", "Learner2"]
        assert learners[1].board_ids == {"ABIM": "100002"}
        records = s.scalars(select(CompletionRow)).all()
        assert len(records) == 4 and all(r.status == "Queued" and r.permission_given for r in records)
        assert [len(r.boards) for r in records] == [1, 1, 1, 1]
        assert records[1].boards[0].credit_types == {"Medical Knowledge": "4"}
        assert len(s.scalars(select(StatusEvent)).all()) == 4
        assert sorted(s.scalars(select(OutboxRow.credit_id)).all()) == sorted(r.credit_id for r in records)


def test_points_already_granted_to_a_learner_count_against_a_new_row(activity_store, tmp_path):
    _import(activity_store, write_xlsx(tmp_path / "first.xlsx", [row(1), row(2)]))
    _mark(activity_store, Status.ACCEPTED)
    with activity_store.session() as s:
        analysis = analyse(s, load_batch(write_xlsx(tmp_path / "more.xlsx", [
            row(1, Completion_Date="01-09-2026", Total_Board_Credits="5", Credits_Awarded_for_Credit_Type="5"),
            row(3, Completion_Date="01-09-2026", Total_Board_Credits="5", Credits_Awarded_for_Credit_Type="5"),
        ])), AS_OF)
    # learner 1 has 4 of the activity's 8 ABIM points already; learner 3 has none
    assert [v.kind for v in analysis.verdicts] == [RowKind.ERROR, RowKind.ADD]
    assert analysis.problems()[0].code == 711


def test_cli_import_into_an_unusable_store_exits_3(tmp_path, capsys):
    not_a_store = tmp_path / "notes.sqlite3"
    not_a_store.write_text("these are not the records you are looking for\n" * 50)
    path = write_xlsx(tmp_path / "clean.xlsx", [row(1)])
    assert cli_main(["import", str(path), "--db", str(not_a_store)]) == 3
    err = capsys.readouterr().err
    assert "not a ParsDesk store" in err and "Traceback" not in err


def test_a_delete_whose_record_changed_since_the_analysis_is_refused_at_commit(activity_store, tmp_path):
    _import(activity_store, write_xlsx(tmp_path / "adds.xlsx", [row(1), row(2)]))
    _mark(activity_store, Status.ACCEPTED)
    with activity_store.session() as s:
        analysis = analyse(s, load_batch(write_xlsx(tmp_path / "del.xlsx", [
            row(1, Record_Action="Delete"), row(2, Record_Action="Delete"),
        ])), AS_OF)
    assert analysis.deletes == 2
    with activity_store.session() as s:
        first = s.scalar(select(CompletionRow.credit_id).where(CompletionRow.upload_row == 3))
    _mark(activity_store, Status.SUBMITTED, source="PARS", credit_ids=[first])  # a sync ran meanwhile
    with activity_store.transaction() as s:
        summary = commit(s, analysis, "del.xlsx", attested_by="dana")
    assert (summary.deletes, summary.errors) == (1, 1)
    assert sorted(statuses(activity_store).values()) == ["Delete Queued", "Submitted"]
    with activity_store.session() as s:
        headers, rows = batch_import.rejection_rows(s, summary.upload_id)
    assert [(values[3], code) for values, code, _ in rows] == [("Learner1", 0)]
    assert "Submitted" in rows[0][2]


def test_a_check_reads_only_the_records_of_the_files_learners(activity_store, tmp_path, capsys):
    """`check --db` and import read the store through indexes on the file's learners and creditIDs:
    other learners' records are never loaded, and the file's learner is found even when the stored
    name differs in accents and case, so 711-style duplicate checks still see it."""
    others = tmp_path / "others.xlsx"
    write_xlsx(others, [row(n) for n in range(1, 41)])
    _import(activity_store, others)
    mine = tmp_path / "mine.xlsx"
    # learner 7 again (name typed in capitals): 6 more ABIM points would pass the 8 the activity offers
    write_xlsx(mine, [row(7, First_Name="LEARNER7", Total_Board_Credits="6")])
    with activity_store.session() as s:
        history = batch_import.history_for_batch(s, load_batch(mine))
    assert {p.credit_id for p in history.priors} == {
        credit_id for credit_id, in activity_store.session().execute(
            select(CompletionRow.credit_id).where(CompletionRow.first_name == "Learner7"))
    }
    assert cli_main(["check", str(mine), "--db", activity_store.location, "--as-of", "2026-02-15"]) == 1
    assert "711" in capsys.readouterr().out


def test_a_value_longer_than_the_store_keeps_is_a_row_error_on_both_engines(activity_store, tmp_path):
    """PostgreSQL enforces column sizes that SQLite ignores: an over-long name must be the row's error,
    not a failed import (it was a DataError on the office database)."""
    path = write_xlsx(tmp_path / "long.xlsx", [row(1, First_Name="A" * 250), row(2)])
    with activity_store.session() as s:
        analysis = analyse(s, load_batch(path), AS_OF)
    with activity_store.transaction() as s:
        summary = commit(s, analysis, path.name, attested_by="tester", actor="tester")
    assert (summary.queued, summary.errors) == (1, 1)
    with activity_store.session() as s:
        line = s.scalars(select(UploadLine).where(UploadLine.row_number == 3)).one()
    assert "First Name is 250 characters long" in line.error_message


def test_the_store_lookups_of_a_check_go_through_the_learners_indexes_not_the_activity(store, tmp_path):
    """A store has no planner statistics, so SQLite is free to answer "records of these learners in
    this activity" by walking every record of the activity (a fifth of a million-record store) or by
    scanning a row-value IN list. Each lookup of `check --db` and import must instead start from the
    file's learners: a name, board ID or creditID index."""
    from plan_support import plans_of

    if store.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans from its own statistics")
    add_activity(store)
    others = tmp_path / "others.xlsx"
    write_xlsx(others, [row(n) for n in range(1, 41)])
    _import(store, others)
    mine = tmp_path / "mine.xlsx"
    write_xlsx(mine, [row(n, Credit_ID=f"ccid:1234567:new{n}") for n in range(5, 9)])
    batch = load_batch(mine)

    def check() -> None:
        with store.session() as s:
            batch_import.history_for_batch(s, batch)

    plans = plans_of(store, check)
    assert plans
    for plan in plans:
        assert "SCAN completion" not in plan, plan
        assert "ix_completion_activity" not in plan, plan
