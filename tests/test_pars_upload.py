"""The upload-file route to PARS: queued records into PARS upload files (transactional claim, ≤ 5,000 per
file, deletes as rows), PARS's rejection workbook back in (status update vs corrected batch), the rest
marked, the sandbox's batch upload over HTTP and the two commands."""

from __future__ import annotations

import os
import stat
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.cli import main as cli_main
from app.models import Store
from app.models.schema import CompletionRow, OutboxRow, ParsFileLine, StatusEvent
from app.pars.domain import RecordAction, Status
from app.services import pars_upload
from app.services.pars_upload import (
    UploadRouteError,
    mark_rest_submitted,
    prepare_upload,
    store_runner,
    take_in_results,
    upload_files,
)
from sync_support import (
    JORDAN_ABIM,
    JORDAN_MISNAMED,
    SANDBOX_ACTIVITY,
    RecordSpec,
    add_activity,
    queue_records,
    running_sandbox,
    statuses,
)

SANDBOX_AUTH = ("demo", "demo-sandbox")


@pytest.fixture
def activity(store: Store) -> int:
    return add_activity(store, accme_id="123456789", abim_points=Decimal("8"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "upload files"
    folder.mkdir()
    return folder


def _prepare(store: Store, out: Path, **options: object) -> pars_upload.PrepareReport:
    return prepare_upload(store_runner(store), out, **options)


def _upload_to_sandbox(sandbox, path: Path, target: Path) -> httpx.Response:  # noqa: ANN001
    response = httpx.post(f"{sandbox.url}/_sandbox/batch-upload", params={"name": path.name},
                          content=path.read_bytes(), auth=SANDBOX_AUTH)
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return response


def test_queued_records_go_into_owner_only_files_of_at_most_the_limit_and_never_twice(
    store: Store, activity: int, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pars_upload, "MAX_RECORDS", 2)  # PARS's 5,000, made small
    ids = queue_records(store, activity, 5)
    report = _prepare(store, out)
    assert [f.records for f in report.files] == [2, 2, 1]
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in report.files)  # no .partial left
    for prepared in report.files:
        assert stat.S_IMODE(os.stat(prepared.path).st_mode) == 0o600
    assert set(statuses(store).values()) == {"Uploaded by file"}
    with store.session() as s:
        lines = s.scalars(select(ParsFileLine)).all()
        assert sorted(line.completion_id for line in lines) == ids  # each record in exactly one file
        assert s.scalars(select(OutboxRow)).all() == []  # nothing left for a sync to send
        event = s.scalars(select(StatusEvent).where(StatusEvent.completion_id == ids[0])
                          .order_by(StatusEvent.id.desc())).first()
        assert event.status == "Uploaded by file" and report.files[0].name in event.message
    assert _prepare(store, out).files == []  # a second run finds nothing: never in two files


def test_the_workbook_is_the_template_layout_with_deletes_repeating_what_was_sent(
    store: Store, activity: int, out: Path
) -> None:
    [add] = queue_records(store, activity, 1, label="a")
    [gone] = queue_records(store, activity, 1, label="d", status=Status.DELETE_QUEUED.value,
                           outbox_action=RecordAction.DELETE.value)
    [prepared] = _prepare(store, out).files
    assert (prepared.adds, prepared.deletes) == (1, 1)
    workbook = load_workbook(prepared.path)
    sheet = workbook["Sheet1"]
    assert workbook.sheetnames == ["Sheet1"]
    headers = [c.value for c in sheet[2]]
    assert headers[12] == "Credit Type "
    rows = {r[headers.index("Credit ID")]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
    with store.session() as s:
        credit = {row.id: row for row in s.scalars(select(CompletionRow))}
        delete_row, add_row = rows[credit[gone].credit_id], rows[credit[add].credit_id]
        assert delete_row[0] == "Delete" and add_row[0] == "Add"
        assert delete_row[headers.index("Last Name")] == credit[gone].last_name
        assert delete_row[headers.index("Completion Date")] == "01-06-2026"
    assert statuses(store) == {add: "Uploaded by file", gone: "Delete uploaded by file"}


def test_records_in_flight_or_needing_xml_or_unregistered_stay_queued(store: Store, activity: int, out: Path) -> None:
    in_flight, plain = queue_records(store, activity, 2)
    two_boards = queue_records(store, activity, 1, label="b",
                               spec=RecordSpec(board=("ABIM", "1", Decimal("1"), {"Medical Knowledge": "1"})))[0]
    unregistered = queue_records(store, add_activity(store, title="Not registered"), 1, label="u")[0]
    with store.transaction() as s:
        s.execute(OutboxRow.__table__.update().where(OutboxRow.completion_id == in_flight).values(in_flight=True))
        from app.models.schema import CompletionBoardRow
        s.add(CompletionBoardRow(completion_id=two_boards, board="ABS", board_id=None, points=Decimal("1"),
                                 credit_types={}))
    report = _prepare(store, out)
    assert [f.records for f in report.files] == [1]
    assert (report.need_xml, report.unregistered) == (1, 1)
    assert "prepare them as XML" in report.summary() and "ACCME activity ID" in report.summary()
    assert statuses(store)[plain] == "Uploaded by file"
    assert statuses(store)[in_flight] == statuses(store)[two_boards] == statuses(store)[unregistered] == "Queued"
    xml = _prepare(store, out, file_format="xml")
    assert [f.records for f in xml.files] == [1] and xml.files[0].name.endswith(".xml")
    assert statuses(store)[two_boards] == "Uploaded by file"


def test_a_failure_while_writing_leaves_every_record_queued_and_no_file(
    store: Store, activity: int, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = queue_records(store, activity, 3)

    def disk_full(path, completions):  # noqa: ANN001, ANN202
        Path(path).write_bytes(b"half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("app.pars.excel.write_upload_workbook", disk_full)
    with pytest.raises(UploadRouteError, match="No space left"):
        _prepare(store, out)
    assert list(out.iterdir()) == []
    assert statuses(store) == {i: "Queued" for i in ids}
    with store.session() as s:
        assert len(s.scalars(select(OutboxRow)).all()) == 3


def test_a_claim_lost_to_a_concurrent_sync_is_retried_without_double_files(
    store: Store, activity: int, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, left = queue_records(store, activity, 2)
    original = pars_upload._write_file
    raced = []

    def sync_takes_one_meanwhile(*args):  # noqa: ANN002, ANN202
        if not raced:  # another connection marks a row in flight between our read and our claim
            raced.append(True)
            other = Store.open(store.path, migrate_schema=False)
            try:
                with other.transaction() as s:
                    s.execute(OutboxRow.__table__.update().where(OutboxRow.completion_id == taken)
                              .values(in_flight=True))
            finally:
                other.close()
        return original(*args)

    monkeypatch.setattr(pars_upload, "_write_file", sync_takes_one_meanwhile)
    [prepared] = _prepare(store, out).files
    assert prepared.records == 1
    assert statuses(store) == {taken: "Queued", left: "Uploaded by file"}
    assert [p.name for p in out.iterdir()] == [prepared.name]


def test_pars_rejection_workbook_unchanged_marks_records_rejected_as_the_sync_would(
    store: Store, activity: int, out: Path, tmp_path: Path
) -> None:
    good, misnamed, too_many = queue_records(
        store, activity, 3,
        spec=lambda n: [RecordSpec(), RecordSpec(learner=JORDAN_MISNAMED, board=JORDAN_ABIM),
                        RecordSpec(cme_credits=Decimal("9"))][n],
    )
    [prepared] = _prepare(store, out).files
    rejections = tmp_path / "rejections.xlsx"
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
        response = _upload_to_sandbox(sandbox, prepared.path, rejections)
    assert (response.headers["X-PARS-Records"], response.headers["X-PARS-Rejected"]) == ("3", "1")
    sheet = load_workbook(rejections)["Sheet1"]
    assert [c.value for c in sheet[2]][-2:] == ["Error Code", "Error Description"]

    with store.transaction() as s:
        check, applied = take_in_results(s, rejections, actor="coordinator")
    assert check.kind == "results" and check.file_names == [prepared.name]
    assert "unchanged" in check.describe()
    assert (applied.rejected, applied.already) == (1, 0)
    with store.session() as s:
        row = s.get(CompletionRow, too_many)
        assert (row.status, row.status_code, row.status_source) == ("Rejected", 674, "PARS")
        assert row.status_message
        assert s.get(CompletionRow, good).status == "Uploaded by file"

    with store.transaction() as s:  # the same workbook dropped again changes nothing
        again, applied_again = take_in_results(s, rejections)
    assert again.kind == "results" and (applied_again.rejected, applied_again.already) == (0, 1)

    with store.transaction() as s:
        assert mark_rest_submitted(s, prepared.file_id, actor="coordinator") == 2
    assert statuses(store) == {good: "Accepted", misnamed: "Submitted", too_many: "Rejected"}
    with store.session() as s:
        [view] = upload_files(s)
    assert (view.rejected, view.submitted, view.waiting, view.results_file) == (1, 2, 0, "rejections.xlsx")


def test_a_corrected_workbook_is_a_new_batch_and_its_rejections_still_count(
    store: Store, activity: int, out: Path, tmp_path: Path
) -> None:
    from app.services.batch_import import analyse_file
    from app.pars.batch import load_batch

    good, too_many = queue_records(store, activity, 2, spec=lambda n: RecordSpec(cme_credits=Decimal(8 + n)))
    [prepared] = _prepare(store, out).files
    rejections = tmp_path / "rejections.xlsx"
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
        _upload_to_sandbox(sandbox, prepared.path, rejections)
    workbook = load_workbook(rejections)
    sheet = workbook["Sheet1"]
    headers = [c.value for c in sheet[2]]
    sheet.cell(3, headers.index("Number of CME Credits") + 1).value = "8"  # the coordinator's fix
    corrected = tmp_path / "rejections-fixed.xlsx"
    workbook.save(corrected)

    with store.transaction() as s:
        check, applied = take_in_results(s, corrected)
    assert check.kind == "corrected" and "corrected" in check.describe()
    assert applied.rejected == 1 and statuses(store)[too_many] == "Rejected"
    analysis = analyse_file(store, load_batch(corrected), date(2026, 2, 15))
    assert (analysis.valid, analysis.with_errors) == (1, 0)  # a resubmission with a new creditID


def test_a_batch_upload_rejection_workbook_is_not_mistaken_for_pars_results(
    store: Store, activity: int, tmp_path: Path
) -> None:
    from app.pars.excel import HEADERS, write_rejections

    queue_records(store, activity, 1)
    path = tmp_path / "ours.xlsx"
    write_rejections(path, list(HEADERS), [(["Add", "123456789", "13-45-2026", "Jane", "Doe"], 671, "bad date")])
    with store.transaction() as s:
        check, applied = take_in_results(s, path)
    assert check.kind == "batch" and applied is None


def test_a_dropped_learner_file_is_not_read_twice(store: Store, activity: int, tmp_path: Path, monkeypatch) -> None:
    """Every Batch Upload drop asks first whether the workbook is PARS's results: a learner file has no
    error columns, so its records are left for the import to read, not read here as well."""
    from app.pars import excel
    from app.pars.excel import HEADERS, write_rejections
    from tests.batch_support import row, write_xlsx

    reads: list[str] = []
    read_workbook = excel.read_workbook
    monkeypatch.setattr(excel, "read_workbook", lambda path: reads.append(Path(path).name) or read_workbook(path))
    learners = write_xlsx(tmp_path / "learners.xlsx", [row(n) for n in range(1, 4)])
    with store.transaction() as s:
        check, applied = take_in_results(s, learners)
    assert (check.kind, check.matches, applied, reads) == ("batch", [], None, [])
    rejections = tmp_path / "ours.xlsx"  # with error columns: read, then judged (not an upload file's)
    write_rejections(rejections, list(HEADERS), [(["Add", "123456789", "13-45-2026", "Jane", "Doe"], 671, "bad date")])
    with store.transaction() as s:
        check, applied = take_in_results(s, rejections)
    assert (check.kind, reads) == ("batch", ["ours.xlsx"])
    bomb = tmp_path / "not really.xlsx"  # what the reader refuses at the door is still refused
    bomb.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(excel.BatchFileError, match="not a valid .xlsx"), store.transaction() as s:
        take_in_results(s, bomb)


def test_a_refused_delete_returns_the_record_to_its_earlier_status(
    store: Store, activity: int, out: Path, tmp_path: Path
) -> None:
    [gone] = queue_records(store, activity, 1, label="d", status=Status.DELETE_QUEUED.value,
                           outbox_action=RecordAction.DELETE.value)
    with store.transaction() as s:  # it had been Accepted before the delete was queued
        s.add(StatusEvent(completion_id=gone, status="Accepted", source="PARS"))
        s.add(StatusEvent(completion_id=gone, status="Delete Queued", source="user"))
    [prepared] = _prepare(store, out).files
    rejections = tmp_path / "rejections.xlsx"
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:  # the sandbox never had it: 605
        response = _upload_to_sandbox(sandbox, prepared.path, rejections)
    assert response.headers["X-PARS-Rejected"] == "1"
    with store.transaction() as s:
        check, applied = take_in_results(s, rejections)
    assert check.kind == "results"
    with store.session() as s:
        row = s.get(CompletionRow, gone)
        assert (row.status, row.status_code) == ("Accepted", 605)
        assert row.status_message.startswith("Delete refused by PARS")


def test_the_sandbox_batch_upload_needs_a_login_and_a_learner_file(tmp_path: Path) -> None:
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
        url = f"{sandbox.url}/_sandbox/batch-upload"
        assert httpx.post(url, params={"name": "a.xlsx"}, content=b"x").status_code == 401
        refused = httpx.post(url, params={"name": "a.xlsx"}, content=b"not a workbook", auth=SANDBOX_AUTH)
        assert refused.status_code == 400 and "not a valid .xlsx" in refused.text
        wrong = httpx.post(url, params={"name": "a.csv"}, content=b"a,b", auth=SANDBOX_AUTH)
        assert wrong.status_code == 400 and ".xlsx or .xml" in wrong.text


def test_commands_export_upload_and_upload_results(
    store: Store, activity: int, out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, too_many = queue_records(store, activity, 2, spec=lambda n: RecordSpec(cme_credits=Decimal(8 + n)))
    store.close()
    assert cli_main(["export-upload", str(out), "--db", str(store.path), "--format", "xml"]) == 0
    [xml_file] = list(out.iterdir())
    assert xml_file.suffix == ".xml" and "2 records" in capsys.readouterr().out
    rejections = tmp_path / "rejections.xlsx"
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
        _upload_to_sandbox(sandbox, xml_file, rejections)
    assert cli_main(["upload-results", str(rejections), "--db", str(store.path), "--mark-rest-submitted"]) == 0
    printed = capsys.readouterr().out
    assert "1 record rejected" in printed and "1 other record marked Submitted" in printed
    reopened = Store.open(store.path)
    try:
        assert statuses(reopened) == {good: "Accepted", too_many: "Rejected"}
    finally:
        reopened.close()
    assert cli_main(["upload-results", str(tmp_path / "missing.xlsx"), "--db", str(store.path)]) == 2
    assert cli_main(["export-upload", str(tmp_path / "no such folder"), "--db", str(store.path)]) == 2


def test_import_command_knows_pars_results_and_corrected_workbooks(
    store: Store, activity: int, out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, too_many = queue_records(store, activity, 2, spec=lambda n: RecordSpec(cme_credits=Decimal(8 + n)))
    [prepared] = _prepare(store, out).files
    rejections = tmp_path / "rejections.xlsx"
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
        _upload_to_sandbox(sandbox, prepared.path, rejections)
    workbook = load_workbook(rejections)
    sheet = workbook["Sheet1"]
    headers = [c.value for c in sheet[2]]
    sheet.cell(3, headers.index("Number of CME Credits") + 1).value = "8"
    corrected = tmp_path / "corrected.xlsx"
    workbook.save(corrected)
    store.close()

    args = ["--db", str(store.path), "--as-of", "2026-02-15"]
    assert cli_main(["import", str(rejections), *args]) == 0  # unchanged: a status update, nothing queued
    assert "unchanged" in capsys.readouterr().out
    assert cli_main(["import", str(corrected), *args]) == 0  # corrected: a resubmission is queued
    printed = capsys.readouterr().out
    assert "corrected" in printed and "1 queued" in printed
    reopened = Store.open(store.path)
    try:
        now = statuses(reopened)
        assert now[too_many] == "Rejected" and now[good] == "Uploaded by file"
        assert sorted(now.values()).count("Queued") == 1
    finally:
        reopened.close()


def test_pars_results_without_the_credit_id_column_are_matched_by_content(
    store: Store, activity: int, out: Path, tmp_path: Path
) -> None:
    good, too_many = queue_records(store, activity, 2, spec=lambda n: RecordSpec(cme_credits=Decimal(8 + n)))
    [prepared] = _prepare(store, out).files
    rejections = tmp_path / "rejections.xlsx"
    with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
        _upload_to_sandbox(sandbox, prepared.path, rejections)
    workbook = load_workbook(rejections)
    sheet = workbook["Sheet1"]
    headers = [c.value for c in sheet[2]]
    sheet.delete_cols(headers.index("Credit ID") + 1)  # a PARS that keeps only its own columns
    stripped = tmp_path / "stripped.xlsx"
    workbook.save(stripped)
    with store.transaction() as s:
        check, applied = take_in_results(s, stripped)
    assert check.kind == "results" and applied.rejected == 1
    assert statuses(store)[too_many] == "Rejected"
