"""The PARS Excel learner template: reading tolerantly, writing the template and rejection workbooks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from app.pars.batch import load_batch
from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart
from app.pars.excel import (
    F_ERROR_CODE,
    F_ERROR_MESSAGE,
    HEADERS,
    completion_to_values,
    read_workbook,
    row_to_completion,
    write_rejections,
    write_template,
)
from app.pars.xml_codec import write_xml_sample


def make_workbook(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_template_has_guidance_headers_example_and_drop_downs(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    sheet = load_workbook(path).active
    assert "PARS learner upload" in sheet["A1"].value
    assert [cell.value for cell in sheet[2]] == list(HEADERS)
    assert sheet.freeze_panes == "A3"
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert lists["A3"] == '"Add,Delete"'
    assert "ABIM" in lists["J3"] and "ABPATH" in lists["J3"]
    batch = read_workbook(path)
    assert batch.format == "xlsx"
    assert batch.headers == list(HEADERS)
    [example] = batch.records
    assert example.row == 3
    assert example.completion.activity_id == "123456789"
    assert example.completion.boards[0].credit_types == {"Medical Knowledge": Decimal("2")}


def test_headers_are_matched_tolerantly_and_found_on_row_one(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "loose.xlsx",
        [
            ["  record action ", "accme activity id", "Completion-Date", "first  name", "LAST NAME",
             "Date of Birth:", "Licensing State", "Licensing ID or NPI", "Notes", "Number of CME Credits"],
            ["add", "123456789", "03-14-2026", "Jane", "Doe", "4/5", "California", "A1", "keep me", "1.5"],
        ],
    )
    batch = read_workbook(path)
    assert batch.headers[8] == "Notes"  # unknown columns are kept for the rejection file but not read
    [record] = batch.records
    assert record.row == 2
    assert record.values[8] == "keep me"
    completion = record.completion
    assert completion.action is RecordAction.ADD
    assert completion.learner == Learner("Jane", "Doe", "04/05", "CA", "A1")
    assert completion.completion_date == date(2026, 3, 14)
    assert completion.cme == CmePart(Decimal("1.5"))
    assert completion.boards == [] and completion.rems is None


def test_date_cells_numbers_and_text_dates_read_alike(tmp_path: Path) -> None:
    cells = ["Add", 123456789, datetime(2026, 3, 14), "Jane", "Doe", datetime(1970, 4, 15), "ny",
             1234567893, 2, "abim", 123456, 2.75, "Medical Knowledge", 1.25]
    text = ["Add", "123456789", "03/14/2026", "Jane", "Doe", "04/15", "NY", "1234567893", "2", "ABIM",
            "123456", "2.75", "Medical Knowledge", "1.25"]
    path = make_workbook(tmp_path / "mixed.xlsx", [["guidance"], list(HEADERS), cells, [], text])
    batch = read_workbook(path)
    assert [r.row for r in batch.records] == [3, 5]  # the blank row 4 is skipped, numbering kept
    first, second = (r.completion for r in batch.records)
    assert first == second
    assert first.learner.birth_date == "04/15"
    assert first.learner.license_id == "1234567893"
    assert first.boards == [BoardPart("ABIM", "123456", Decimal("2.75"), {"Medical Knowledge": Decimal("1.25")})]
    assert batch.records[0].values[:3] == ["Add", "123456789", "03-14-2026"]


def test_unreadable_values_are_kept_as_text_for_validation(tmp_path: Path) -> None:
    row = ["Update", "12345", "13-45-2026", "", "Doe", "31/31", "Atlantis", "", "lots", "ABXYZ", "", "1.3"]
    path = make_workbook(tmp_path / "bad.xlsx", [["g"], list(HEADERS), row])
    completion = read_workbook(path).records[0].completion
    assert completion.action == "Update"
    assert completion.completion_date == "13-45-2026"
    assert completion.learner.first_name is None
    assert completion.learner.birth_date == "31/31"
    assert completion.learner.licensing_state == "Atlantis"
    assert completion.cme == CmePart("lots")
    assert completion.boards[0].board == "ABXYZ" and completion.boards[0].points == Decimal("1.3")


def test_rems_columns(tmp_path: Path) -> None:
    values = completion_to_values(Completion(activity_id="123456789", learner=Learner("A", "B")))
    index = HEADERS.index
    values[index("REMS Profession")] = "physician"
    values[index("REMS State of Practice")] = "Oregon"
    values[index("REMS Performs Surgery")] = "yes"
    values[index("REMS Time in Practice")] = "6-10"
    path = make_workbook(tmp_path / "rems.xlsx", [["g"], list(HEADERS), values])
    rems = read_workbook(path).records[0].completion.rems
    assert rems is not None
    assert rems.profession == "Physician" and rems.state_of_practice == "OR" and rems.performs_surgery is True
    assert rems.time_in_practice is not None and rems.time_in_practice.startswith("6-10")


def test_row_values_round_trip_through_completion() -> None:
    completion = Completion(
        action=RecordAction.DELETE,
        activity_id="123456789",
        credit_id="ccid:1234567:abc",
        learner=Learner("Jane", "Doe", "04/15", "CA", "A1"),
        completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("2")),
        boards=[BoardPart("ABIM", "1", Decimal("2"), {"Medical Knowledge": Decimal("2"), "Patient Safety": None})],
        rems=RemsPart("Physician", "OR", "Individual", "Pain", False, "Trainee"),
    )
    values = completion_to_values(completion)
    assert row_to_completion(dict(zip(HEADERS, values))) == completion


def test_rejection_workbook_reads_back_ignoring_error_columns(tmp_path: Path) -> None:
    source = make_workbook(tmp_path / "in.xlsx", [["g"], list(HEADERS), ["Add", "123456789", "13-45-2026", "Jane"]])
    batch = read_workbook(source)
    out = tmp_path / "rejected.xlsx"
    write_rejections(out, batch.headers, [(batch.records[0].values, 671, "Completion date 13-45-2026 is not a date")])
    sheet = load_workbook(out).active
    assert [c.value for c in sheet[2]][-2:] == [F_ERROR_CODE, F_ERROR_MESSAGE]
    assert sheet.cell(3, len(HEADERS) + 1).value == 671
    again = read_workbook(out)
    assert again.headers == batch.headers
    assert again.records[0].values == batch.records[0].values
    assert again.records[0].completion == batch.records[0].completion


def test_xml_batch_is_laid_out_in_template_columns(tmp_path: Path) -> None:
    path = tmp_path / "sample.xml"
    write_xml_sample(path)
    batch = load_batch(path)
    assert batch.format == "xml" and batch.headers == list(HEADERS)
    assert [r.row for r in batch.records] == [1, 2]
    assert batch.records[0].values[HEADERS.index("Certifying Board")] == "ABIM"
    assert batch.records[1].completion.rems is not None


@pytest.mark.parametrize("header_row", [1, 2])
def test_load_batch_dispatches_xlsx(tmp_path: Path, header_row: int) -> None:
    rows: list[list[object]] = [["guidance"]] if header_row == 2 else []
    rows += [list(HEADERS), ["Add", "123456789"]]
    batch = load_batch(make_workbook(tmp_path / "f.xlsx", rows))
    assert [r.row for r in batch.records] == [header_row + 1]
