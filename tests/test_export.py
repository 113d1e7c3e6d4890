"""Excel exports of learner records: the workbook layout and `parsdesk export`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.cli import main
from app.pars.domain import BoardPart, Status
from app.services import learners
from app.services.export import COLUMNS, export_records

from learner_support import add_activity, completion, store_record


def _headers() -> list[str]:
    return [c.header for c in COLUMNS]


def test_export_has_header_frozen_panes_real_dates_and_rejection_columns(store, tmp_path):
    activity = add_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace"), status=Status.ACCEPTED)
    store_record(
        store, activity,
        completion("Grace", "Hopper", license_id="G2", completed=date(2026, 1, 7),
                   boards=[BoardPart("ABIM", "654321", Decimal("7.5"), {"Medical Knowledge": None})]),
        status=Status.REJECTED, code=665, message="Diplomate name does not match Board record",
    )
    out = tmp_path / "learners.xlsx"
    with store.session() as s:
        written = export_records(out, learners.records_for_activity(s, activity))
    assert written == 2

    sheet = load_workbook(out).active
    assert [c.value for c in sheet[1]] == _headers()
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:S3"
    col = {h: i for i, h in enumerate(_headers())}
    hopper = next(row for row in sheet.iter_rows(min_row=2) if row[col["Last Name"]].value == "Hopper")
    date_cell = hopper[col["Completion Date"]]
    assert date_cell.is_date and date_cell.value == datetime(2026, 1, 7)
    assert date_cell.number_format == "mm/dd/yyyy"
    assert hopper[col["Total Board Credits"]].value == 7.5
    assert hopper[col["Status"]].value == "Rejected"
    assert hopper[col["Status Code"]].value == 665
    assert hopper[col["Status Message"]].value == "Diplomate name does not match Board record"
    assert hopper[col["Certifying Board IDs"]].value == "ABIM 654321"
    # who made the latest change: the board for Hopper's rejection; the coordinator for a queued record
    assert hopper[col["Last Changed By"]].value == "board"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width  # titles get room
    # DOB is personal data the worklist does not need
    assert not any("Birth" in h for h in _headers())


def test_export_command_writes_filtered_records(store, tmp_path, capsys):
    activity = add_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace"), status=Status.ACCEPTED)
    store_record(store, activity, completion("Grace", "Hopper", license_id="G2"), status=Status.REJECTED, code=665)
    out = tmp_path / "rejected.xlsx"
    store.close()

    code = main(["export", str(out), "--db", store.location, "--activity", "123456789", "--status", "rejected"])

    assert code == 0
    assert "Wrote 1 learner record to" in capsys.readouterr().out
    sheet = load_workbook(out).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and rows[0][_headers().index("Last Name")] == "Hopper"


def test_export_command_reports_unknown_activity_and_bad_status(store, tmp_path, capsys):
    add_activity(store)
    store.close()
    assert main(["export", str(tmp_path / "x.xlsx"), "--db", store.location, "--activity", "555555555"]) == 1
    assert "no learner records for activity '555555555'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["export", str(tmp_path / "x.xlsx"), "--db", store.location, "--status", "Pending"])
    assert exited.value.code == 2
    assert "unknown status 'Pending'" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_export_command_writes_pars_learner_xml_with_the_same_filters(store, tmp_path, capsys):
    import os
    import stat

    from app.pars.xml_codec import parse_document

    activity = add_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace"), status=Status.ACCEPTED)
    store_record(store, activity, completion("Grace", "Hopper", license_id="G2"), status=Status.REJECTED, code=665)
    out = tmp_path / "rejected.xml"
    store.close()

    code = main(["export", str(out), "--db", str(store.path), "--activity", "123456789", "--status", "rejected"])

    assert code == 0
    assert "Wrote 1 learner record to" in capsys.readouterr().out
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    [record] = parse_document(out.read_bytes())
    assert record.completion.learner.last_name == "Hopper"
    assert record.completion.activity_id == "123456789" and record.completion.credit_id
    assert b"<ACCMELearnerReports>" in out.read_bytes()
    assert main(["export", str(tmp_path / "x.csv"), "--db", str(store.path)]) == 2


def test_an_export_reads_back_the_same_through_python_calamine_and_openpyxl(store, tmp_path):
    """The export's sheet XML is written directly (app/pars/xlsx_writer.py): both readers ParsDesk
    meets see the same table, with texts that look like formulas or numbers kept as texts."""
    from python_calamine import CalamineWorkbook

    activity = add_activity(store)
    store_record(store, activity, completion("=SUM(A1)", "O'Brien & <Sons>", license_id="0012345"),
                 status=Status.REJECTED, code=665, message="Diplomate name does not match Board record")
    out = tmp_path / "learners.xlsx"
    with store.session() as s:
        assert export_records(out, learners.records_for_activity(s, activity), sheet_title="Q1: [draft]") == 1

    col = {h: i for i, h in enumerate(_headers())}
    by_calamine = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    by_openpyxl = [list(row) for row in load_workbook(out).active.iter_rows(values_only=True)]
    assert by_calamine[0] == by_openpyxl[0] == _headers()
    for row in (by_calamine[1], by_openpyxl[1]):
        assert row[col["First Name"]] == "=SUM(A1)" and row[col["Last Name"]] == "O'Brien & <Sons>"
        assert row[col["Licensing ID or NPI"]] == "0012345"
        assert row[col["Status Code"]] == 665 and row[col["Number of CME Credits"]] == 8.0
    assert by_calamine[1][col["Completion Date"]] == date(2026, 1, 6)
    assert by_openpyxl[1][col["Completion Date"]] == datetime(2026, 1, 6)
    assert load_workbook(out).sheetnames == ["Q1_ _draft_"]
