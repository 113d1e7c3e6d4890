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


ACCME_HEADERS = [  # document 917's header row, columns 1-15, as ACCME spells it (reference sheet §3)
    "Record Action", "ACCME Activity ID", "Completion Date", "First Name", "Last Name", "Date of Birth",
    "Licensing State", "Licensing ID or NPI", "Number of CME Credits", "Certifying Board", "Certifying Board ID",
    "Total Board Credits", "Credit Type ", "Credits Awarded for Credit Type", "Additional Credit Type",
]


def test_template_follows_document_917(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Sheet1", "Valid Values"]
    sheet = workbook["Sheet1"]
    assert "PARS learner upload" in sheet["A1"].value
    headers = [cell.value for cell in sheet[2]]
    assert headers[:15] == ACCME_HEADERS
    assert [h.strip() for h in headers] == list(HEADERS)
    assert sheet.freeze_panes == "A3"
    # the example record on row 3: a date cell and number cells, like ACCME's own sample rows
    assert sheet["C3"].value == datetime(2026, 3, 14) and sheet["C3"].number_format == "mm-dd-yyyy"
    assert sheet["I3"].value == 2 and sheet["I3"].number_format == "0.00"
    assert sheet["B3"].value == "123456789" and sheet["B3"].data_type == "s"
    # column formats for what the user types below: dates, amounts, text IDs
    assert sheet.column_dimensions["C"].number_format == "mm-dd-yyyy"
    assert sheet.column_dimensions["L"].number_format == "0.00"
    assert sheet.column_dimensions["H"].number_format == "@"
    batch = read_workbook(path)
    assert batch.format == "xlsx"
    assert batch.headers == list(HEADERS)
    [example] = batch.records
    assert example.row == 3
    assert example.completion.activity_id == "123456789"
    assert example.completion.completion_date == date(2026, 3, 14)
    assert example.completion.boards[0].credit_types == {"Medical Knowledge": Decimal("2")}


def _drop_down_values(workbook, column: str) -> list[str]:  # noqa: ANN001
    sheet = workbook["Sheet1"]
    [validation] = [dv for dv in sheet.data_validations.dataValidation if str(dv.sqref) == f"{column}3:{column}5002"]
    assert validation.type == "list" and validation.showErrorMessage
    source, cells = validation.formula1.split("!")
    assert source == "'Valid Values'"
    first, last = cells.replace("$", "").split(":")
    lists = workbook["Valid Values"]
    return [row[0].value for row in lists[first:last]]


def test_template_drop_downs_come_from_the_helper_sheet_and_the_catalogues(tmp_path: Path) -> None:
    from app.pars import catalog

    path = tmp_path / "template.xlsx"
    write_template(path)
    workbook = load_workbook(path)
    assert _drop_down_values(workbook, "A") == ["Add", "Delete"]
    assert _drop_down_values(workbook, "G") == sorted(catalog.states())
    assert _drop_down_values(workbook, "J") == list(catalog.board_codes())
    credit_types = _drop_down_values(workbook, "M")
    assert {"Medical Knowledge", "Lifelong Learning & Self-Assessment", "Accredited CME"} <= set(credit_types)
    assert _drop_down_values(workbook, "O") == credit_types


def test_reading_tolerates_accme_spelling_other_sheet_names_and_an_extra_sheet_first(tmp_path: Path) -> None:
    workbook = Workbook()
    notes = workbook.active
    notes.title = "Instructions"
    notes.append(["How to fill in this file"])
    notes.append(["Record Action means Add or Delete"])
    data = workbook.create_sheet("Learners 2026")
    data.append(["guidance"])
    data.append([f"{h}  " if h == "Last Name" else h for h in ACCME_HEADERS])
    data.append(["Add", 123456789, datetime(2026, 3, 14), "Jane", "Doe", "04/15", "CA", "A1", 2,
                 "ABIM", "123456", 2, "Medical Knowledge", 2, None])
    path = tmp_path / "lms.xlsx"
    workbook.save(path)
    batch = read_workbook(path)
    [record] = batch.records
    assert record.row == 3
    assert record.completion.learner.last_name == "Doe"
    assert record.completion.boards[0].credit_types == {"Medical Knowledge": Decimal("2")}


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


def test_equal_cells_of_different_kinds_keep_their_own_text(tmp_path: Path) -> None:
    """Cells are turned into text once per distinct value of a column: True, 1 and 1.0 are equal in
    Python but read "Yes", "1" and "1"; a date and a date-time of the same day both read as the day."""
    rows = [["guidance"], list(HEADERS)]
    for surgery, license_id in ((True, 1), (1, True), (1.5, 1.0), (False, 0)):
        row = ["Add", 123456789, datetime(2026, 3, 14), "Jane", "Doe", "04/15", "NY", license_id]
        row += [""] * (HEADERS.index("REMS Performs Surgery") - len(row)) + [surgery]
        rows.append(row)
    batch = read_workbook(make_workbook(tmp_path / "kinds.xlsx", rows))
    surgery_column, license_column = HEADERS.index("REMS Performs Surgery"), HEADERS.index("Licensing ID or NPI")
    assert [(r.values[surgery_column], r.values[license_column]) for r in batch.records] == [
        ("Yes", "1"), ("1", "Yes"), ("1.5", "1"), ("No", "0")]
    assert [r.completion.rems.performs_surgery for r in batch.records] == [True, True, None, False]


def test_a_sheet_with_one_readable_column_is_read(tmp_path: Path) -> None:
    """A rejection workbook cut down to the activity ID and PARS's error columns: one column ParsDesk
    reads, holding a number (this raised a TypeError traceback)."""
    path = make_workbook(tmp_path / "one.xlsx", [["ACCME Activity ID", "Error Code", "Error Message"],
                                                [123456789, 690, "unknown activity"]])
    batch = read_workbook(path)
    assert batch.headers == ["ACCME Activity ID"]
    assert [(r.row, r.values, r.completion.activity_id) for r in batch.records] == [(2, ["123456789"], "123456789")]


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
    workbook = load_workbook(out)
    assert workbook.sheetnames[0] == "Sheet1"  # the template's layout: it can be dropped back in
    sheet = workbook["Sheet1"]
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


# The reader finds each column's place once per sheet and hands every row's texts over by position
# (excel.completion_from_fields): these hold each field to its own column, whatever the sheet's layout.

def _every_field_distinct() -> Completion:
    """A record whose every field holds a value no other field holds (a field read from the wrong
    column, or passed to the wrong constructor argument, shows)."""
    return Completion(
        action=RecordAction.DELETE,
        activity_id="123456789",
        credit_id="ccid:1234567:abc",
        learner=Learner("Jane", "Doe", "04/15", "CA", "A1"),
        completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("1.5")),
        boards=[BoardPart("ABIM", "778899", Decimal("3"), {"Medical Knowledge": Decimal("2.25"),
                                                           "Patient Safety": Decimal("0.75")})],
        rems=RemsPart("Physician", "OR", "Individual", "Pain", True, "Trainee"),
    )


def test_each_column_reaches_its_own_field_whatever_the_column_order(tmp_path: Path) -> None:
    """Columns in reverse order, with a column ParsDesk does not know, a repeated column (the first
    counts) and PARS's error columns among them."""
    expected = _every_field_distinct()
    values = completion_to_values(expected)
    headers = [*reversed(HEADERS), "Notes", "First Name", F_ERROR_CODE, F_ERROR_MESSAGE]
    row = [*reversed(values), "a note", "Not Jane", "690", "bad"]
    batch = read_workbook(make_workbook(tmp_path / "shuffled.xlsx", [["g"], headers, row]))
    assert batch.headers == headers[:-2]
    assert batch.records[0].values == row[:-2]
    assert batch.records[0].completion == expected
    assert row_to_completion(dict(zip(HEADERS, values))) == expected


def test_columns_the_sheet_lacks_read_as_empty(tmp_path: Path) -> None:
    headers = ["ACCME Activity ID", "Last Name", "Certifying Board", "Credit Type", "Completion Date"]
    path = make_workbook(tmp_path / "few.xlsx", [headers, [123456789, "Doe", "abim", "Medical Knowledge", "03-14-2026"]])
    assert read_workbook(path).records[0].completion == Completion(
        action=None, activity_id="123456789", learner=Learner(last_name="Doe"), completion_date=date(2026, 3, 14),
        boards=[BoardPart("ABIM", None, None, {"Medical Knowledge": None})],
    )


def test_cells_holding_only_spaces_count_as_empty(tmp_path: Path) -> None:
    """A board, CME or REMS part exists only when one of its cells holds more than spaces; a row of
    spaces is no record at all."""
    index = HEADERS.index
    spaces = [""] * len(HEADERS)
    spaces[index("First Name")] = " "
    spaces[index("Certifying Board ID")] = "\t"
    row = completion_to_values(Completion(activity_id="123456789", learner=Learner("A", "B")))
    for header in ("Number of CME Credits", "Certifying Board", "Certifying Board ID", "Total Board Credits",
                   "Additional Credit Type", "REMS Profession", "REMS Performs Surgery"):
        row[index(header)] = "  "
    one_filled = list(row)
    one_filled[index("Credits Awarded for Additional Credit Type")] = " 2 "
    one_filled[index("REMS Practice Area")] = "Pain "
    path = make_workbook(tmp_path / "spaces.xlsx", [["g"], list(HEADERS), spaces, row, one_filled])
    records = read_workbook(path).records
    assert [record.row for record in records] == [4, 5]
    plain, filled = (record.completion for record in records)
    assert (plain.cme, plain.boards, plain.rems) == (None, [], None)
    assert filled.cme is None
    assert filled.boards == [BoardPart("", None, None, {})]
    assert filled.rems == RemsPart(practice_area="Pain")


def test_a_credit_type_named_in_both_columns_is_kept_for_678(tmp_path: Path) -> None:
    index = HEADERS.index
    row = completion_to_values(_every_field_distinct())
    row[index("Additional Credit Type")] = " Medical Knowledge"
    completion = read_workbook(make_workbook(tmp_path / "twice.xlsx", [["g"], list(HEADERS), row])).records[0].completion
    assert completion.boards[0].credit_types == {"Medical Knowledge": Decimal("2.25")}
    assert completion.boards[0].repeated_types == ["Medical Knowledge"]
