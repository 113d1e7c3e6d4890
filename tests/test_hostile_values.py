"""Hostile field values: control, direction and zero-width characters, endless text, absurd amounts
and formulas. One rule in app/pars judges them for the form, batch import, `check` and the sandbox;
every workbook ParsDesk writes keeps them as inert text."""

from __future__ import annotations

import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.cli import main
from app.models import Store
from app.pars.catalog import LOCAL_CHECK
from app.pars.domain import (
    F_ACTION,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_CREDIT_ID,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    History,
)
from app.pars.excel import HEADERS, read_workbook, write_rejections, write_template
from app.pars.validation import validate, validate_activity
from app.pars.values import excel_safe, refused_character, shown
from tests.batch_support import ACTIVITY, AS_OF, add_activity, counts, row
from tests.batch_support import write_xlsx as write_template_rows
from tests.test_validation import make_activity, make_completion
from tests.xlsx_support import inline_row, template_rows, write_xlsx

TODAY = date(2026, 11, 27)

REFUSED = {
    "raw U+0001": "\x01",
    "NUL (Excel _x0000_)": "\x00",
    "ESC (Excel _x001B_)": "\x1b",
    "C1 NEL": "\x85",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first-strong isolate": "\u2068",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte-order mark": "\ufeff",
    "line separator": "\u2028",
    "replacement character": "\ufffd",
}


def judge(completion, activity: Activity | None = None) -> list:
    return validate(completion, activity or make_activity(), History(), TODAY)


# ------------------------------------------------------------------------------------- the one rule


@pytest.mark.parametrize("char", list(REFUSED.values()), ids=list(REFUSED))
def test_a_name_with_an_invisible_or_control_character_is_refused_naming_it(char: str) -> None:
    completion = make_completion()
    completion.learner.first_name = f"Ja{char}ne"

    issues = judge(completion)

    assert [(issue.code, issue.field) for issue in issues] == [(LOCAL_CHECK, F_FIRST_NAME)]
    assert f"(U+{ord(char):04X}) at position 3" in issues[0].message
    assert "retype it" in issues[0].message
    assert char not in issues[0].message  # the message itself is clean


@pytest.mark.parametrize("name", ["Müller", "D'Arcy", "O’Brien", "José-María", "Nguyễn", "王", "Zoë Ann"])
def test_real_names_pass(name: str) -> None:
    completion = make_completion()
    completion.learner.last_name = name
    assert judge(completion) == []


@pytest.mark.parametrize(
    "place, field_name",
    [
        (lambda c, bad: setattr(c.learner, "last_name", bad), F_LAST_NAME),
        (lambda c, bad: setattr(c.learner, "license_id", "A1" + bad), F_LICENSE_ID),
        (lambda c, bad: setattr(c.boards[0], "board_id", "12" + bad), F_BOARD_ID),
        (lambda c, bad: setattr(c, "credit_id", "ccid:1234567:" + bad), F_CREDIT_ID),
        (lambda c, bad: setattr(c.boards[0], "credit_types", {"Medical Knowledge" + bad: None}), F_CREDIT_TYPE),
    ],
    ids=["last name", "licence", "board ID", "credit ID", "credit type"],
)
def test_every_text_field_is_judged_by_the_same_rule(place, field_name: str) -> None:
    completion = make_completion()
    place(completion, "\u202e")
    issues = judge(completion)
    refused = [issue for issue in issues if issue.code == LOCAL_CHECK]
    assert [issue.field for issue in refused] == [field_name]
    assert "invisible text-direction character (U+202E)" in refused[0].message


@pytest.mark.parametrize(
    "place, field_name, limit",
    [
        (lambda c, n: setattr(c.learner, "first_name", "A" * n), F_FIRST_NAME, 100),
        (lambda c, n: setattr(c.learner, "license_id", "1" * n), F_LICENSE_ID, 50),
        (lambda c, n: setattr(c.boards[0], "board_id", "1" * n), F_BOARD_ID, 50),
        (lambda c, n: setattr(c, "credit_id", "c" * n), F_CREDIT_ID, 300),
    ],
    ids=["first name", "licence", "board ID", "credit ID"],
)
def test_text_fields_have_length_limits(place, field_name: str, limit: int) -> None:
    at_limit = make_completion()
    place(at_limit, limit)
    assert not [issue for issue in judge(at_limit) if issue.field == field_name]
    too_long = make_completion()
    place(too_long, 50_000)
    [issue] = [issue for issue in judge(too_long) if issue.field == field_name]
    assert issue.message == f"{field_name} is 50,000 characters long; at most {limit:,} are accepted"


def test_messages_quoting_a_value_show_refused_characters_as_codes() -> None:
    completion = make_completion(action="\x1b[2J\x1b[31mAdd")
    issues = judge(completion)
    [action] = [issue for issue in issues if issue.field == F_ACTION and issue.code == 602]
    assert "\x1b" not in action.message and "<U+001B>[2J" in action.message
    assert shown("x" * 500).endswith("…") and len(shown("x" * 500)) == 41
    assert refused_character("plain text") is None


def test_an_activity_title_with_a_direction_override_is_refused() -> None:
    issues = validate_activity(make_activity(title="Grand Rounds \u202egnp.exe"))
    assert [(issue.code, issue.field) for issue in issues] == [(LOCAL_CHECK, "Title")]


# ------------------------------------------------------------------------------------ absurd amounts

HUGE = ["1" + "0" * 30, Decimal("1E+30"), "1E+30", "NaN", "Infinity", "-Infinity", Decimal("NaN"),
        Decimal("Infinity"), "9" * 5000]


@pytest.mark.parametrize("amount", HUGE, ids=[str(value)[:12] for value in HUGE])
def test_an_absurd_amount_is_673_wherever_it_is(amount) -> None:
    for place, field_name in (
        (lambda c: setattr(c, "cme", CmePart(amount)), F_CME_CREDITS),
        (lambda c: setattr(c.boards[0], "points", amount), F_BOARD_POINTS),
        (lambda c: setattr(c.boards[0], "credit_types", {"Medical Knowledge": amount}), F_CREDIT_TYPE_AMOUNT),
    ):
        completion = make_completion()
        place(completion)
        issues = judge(completion)
        assert (673, field_name) in [(issue.code, issue.field) for issue in issues], issues
        assert all(len(issue.message) < 300 for issue in issues)


def test_an_activity_with_absurd_points_is_673_not_a_crash() -> None:
    activity = make_activity(cme_credits=Decimal("1E+30"),
                             boards=(BoardRegistration("ABIM", Decimal("1E+30"), ("Medical Knowledge",)),))
    issues = validate_activity(activity)
    assert 673 in [issue.code for issue in issues]
    assert "1000000000000000000000000000000" not in " ".join(issue.message for issue in issues)
    # a record against it is judged without an exception either
    assert isinstance(judge(make_completion(), activity), list)


# ----------------------------------------------------------------------------- through check / import


def hostile_workbook(path: Path) -> Path:
    """Row 3: Excel escapes that decode to ESC and NUL in the names; row 4: a direction override;
    row 5: a clean record whose Credit ID and name look like formulas (valid, but must stay text)."""
    def cells(first: str, last: str, credit_id: str = "") -> list[str]:
        values = dict(row(1, First_Name=first, Last_Name=last))
        values["Credit ID"] = credit_id
        return [values.get(header, "") for header in HEADERS]

    return write_xlsx(path, inline_row(1, ["PARS learner upload"]) + inline_row(2, HEADERS)
                      + inline_row(3, cells("Ja_x001B_[31mne", "D_x0000_oe"))
                      + inline_row(4, cells("Ada", "Lovelace\u202eecalevoL"))
                      + inline_row(5, cells("=HYPERLINK(\"http://x.test\",\"click\")", "+1-2", "=cmd|' /C calc'!A0")),
                      dimension=None)


def activities_json(folder: Path) -> Path:
    import json

    path = folder / "activities.json"
    path.write_text(json.dumps([{
        "activity_id": ACTIVITY.activity_id, "title": ACTIVITY.title, "type": ACTIVITY.activity_type,
        "start_date": ACTIVITY.start_date.isoformat(), "end_date": ACTIVITY.end_date.isoformat(),
        "cme_credits": str(ACTIVITY.cme_credits),
        "boards": [{"board": "ABIM", "max_points": "8", "credit_types": ["Medical Knowledge"],
                    "credit_claim_date": "2026-03-31"}],
    }]))
    return path


def assert_no_formulas(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<(\w+:)?f[\s>/]", archive.read(name)), f"a formula in {name}"


def test_check_refuses_control_and_direction_characters_and_prints_none(tmp_path: Path, capsys) -> None:
    path = hostile_workbook(tmp_path / "learners.xlsx")
    out = tmp_path / "rejected.xlsx"

    code = main(["check", str(path), "--activities", str(activities_json(tmp_path)), "--as-of",
                 AS_OF.isoformat(), "--rejections", str(out)])

    printed = capsys.readouterr()
    assert code == 1, printed.err
    assert "Row 3:" in printed.out and "Row 4:" in printed.out and "Row 5:" not in printed.out
    assert "First Name: First Name contains a control character (U+001B) at position 3" in printed.out
    assert "Last Name: Last Name contains a control character (U+0000) at position 2" in printed.out
    assert "Last Name contains an invisible text-direction character (U+202E)" in printed.out
    assert refused_character(printed.out.replace("\n", " ")) is None
    # The rejection workbook opens, keeps each row readable, and holds nothing Excel would run.
    assert_no_formulas(out)
    sheet = load_workbook(out).active
    assert sheet["D3"].value == "Ja<U+001B>[31mne" and sheet["E3"].value == "D<U+0000>oe"
    assert sheet["E4"].value == "Lovelace\u202eecalevoL"


def test_import_queues_only_the_clean_row_and_writes_formulas_as_text(tmp_path: Path, store: Store, capsys) -> None:
    add_activity(store)
    store.close()
    path = hostile_workbook(tmp_path / "learners.xlsx")

    code = main(["import", str(path), "--db", str(store.path), "--as-of", AS_OF.isoformat()])

    printed = capsys.readouterr()
    assert code == 1, printed.err
    assert refused_character(printed.out.replace("\n", " ")) is None
    assert "\x1b" not in printed.out + printed.err
    reopened = Store.open(store.path)
    try:
        assert counts(reopened)["completion"] == 1
        out = tmp_path / "exported.xlsx"
        assert main(["export", str(out), "--db", str(store.path)]) == 0
    finally:
        reopened.close()
    assert_no_formulas(out)
    exported = load_workbook(out).active
    texts = [cell.value for line in exported.iter_rows() for cell in line if isinstance(cell.value, str)]
    assert '=HYPERLINK("http://x.test","click")' in texts and "+1-2" in texts
    rejections = tmp_path / "learners-rejections.xlsx"
    assert_no_formulas(rejections)


def test_write_rejections_keeps_formula_like_values_as_text_and_drops_the_example_line(tmp_path: Path) -> None:
    out = tmp_path / "rejected.xlsx"
    values = ["Add", "123456789", "=1+1", "@SUM(A1)", "-2+3", "=HYPERLINK(\"http://x\")", "\x07bell"]
    write_rejections(out, list(HEADERS[:7]), [(values, 671, "=bad message")])

    assert_no_formulas(out)
    sheet = load_workbook(out).active
    assert "Row 3 is an example" not in sheet["A1"].value
    assert [cell.value for cell in sheet[3]] == [*values[:6], "<U+0007>bell", 671, "=bad message"]
    assert all(cell.data_type == "s" for cell in sheet[3] if isinstance(cell.value, str))
    assert all(cell.number_format == "@" for cell in sheet[3][:7])
    # read back as a batch: the same values, the error columns ignored
    record = read_workbook(out).records[0]
    assert record.row == 3 and record.values[2] == "=1+1"


def test_the_template_holds_no_formula(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    assert_no_formulas(path)


def test_excel_safe_replaces_only_what_xml_cannot_hold() -> None:
    assert excel_safe("a\tb\nc\u202ed\x00e\x1b") == "a\tb\nc\u202ed<U+0000>e<U+001B>"


def test_hostile_names_in_a_template_file_read_back_as_refused_rows(tmp_path: Path) -> None:
    path = write_template_rows(tmp_path / "t.xlsx", [row(1, First_Name="Ada\u200b"), row(2)])
    batch = read_workbook(path)
    issues = [judge(record.completion, ACTIVITY) for record in batch.records]
    assert [issue.field for issue in issues[0] if issue.code == LOCAL_CHECK] == [F_FIRST_NAME]
    assert not [issue for issue in issues[1] if issue.code == LOCAL_CHECK]


def test_template_rows_support_builds_a_workbook_read_as_one_record(tmp_path: Path) -> None:
    assert len(read_workbook(write_xlsx(tmp_path / "x.xlsx", template_rows())).records) == 1


# ------------------------------------------------------------------------------------------ the form


def test_the_entry_form_shows_the_refused_character_next_to_the_field(qtbot, store: Store) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.ui.learner_dialog import LearnerDialog
    from tests.learner_support import recent_activity
    from tests.ui_support import make_context

    activity = recent_activity(store)
    dialog = LearnerDialog(make_context(store), None, activity, online_match=False)
    qtbot.addWidget(dialog)
    dialog.show()
    # Pasted, as such characters usually arrive (from an e-mail or a web page).
    QApplication.clipboard().setText("Ada\u202eecalevoL")
    dialog.first_name.setFocus()
    qtbot.keyClick(dialog.first_name, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert dialog.first_name.text() == "Ada\u202eecalevoL"
    dialog.validate_now()

    assert (LOCAL_CHECK, F_FIRST_NAME) in [(issue.code, issue.field) for issue in dialog.issues]
    label = dialog.field_errors[F_FIRST_NAME]
    assert "U+202E" in label.text() and label.isVisible()
    result = dialog.submit()
    assert result is not None and not result.saved


# --------------------------------------------------------------------------------------- the sandbox


def test_the_sandbox_answers_673_and_refuses_hidden_characters(tmp_path: Path) -> None:
    from app.pars.client import ParsClient
    from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS
    from app.pars.domain import Completion, Learner, RecordAction
    from app.sandbox import SandboxServer
    from tests.sync_support import clock_starting_at
    from datetime import datetime, time as time_of_day

    activity = Activity(activity_id="123456789", title="Course", activity_type="Course",
                        start_date=date(2026, 1, 5), end_date=date(2026, 1, 31), cme_credits=Decimal("8"))
    noon = clock_starting_at(datetime.combine(date(2026, 2, 15), time_of_day(12)))

    def record(credit: str, learner: Learner, amount) -> Completion:
        return Completion(activity_id="123456789", credit_id=f"ccid:1234567:{credit}", learner=learner,
                          completion_date=date(2026, 1, 20), cme=CmePart(amount))

    pat = Learner("Pat", "Doe", "02/02", "TX", "Q99999")
    with SandboxServer("127.0.0.1", 0, board_delay=30.0, activities=[activity], clock=noon) as server, \
            ParsClient(server.url, SANDBOX_DEMO_CREDENTIALS, backoff=0.01) as client:
        results = client.save_learner_activity([
            (RecordAction.ADD, record("huge", pat, Decimal("1E+30"))),
            (RecordAction.ADD, record("nan", pat, "NaN")),
            (RecordAction.ADD, record("bidi", Learner("Pat\u202e", "Doe", "02/02", "TX", "Q99999"), Decimal("1"))),
            (RecordAction.ADD, record("fine", pat, Decimal("1"))),
        ])
    assert [(r.status, r.code) for r in results[:2]] == [("Rejected", 673), ("Rejected", 673)]
    assert results[2].status == "Rejected" and "U+202E" in (results[2].message or "")
    assert results[3].status == "Accepted"


def test_text_cells_used_by_export_hold_formulas_and_controls_as_text(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from app.pars.excel import TextCells

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Learners")
    text = TextCells(sheet)
    sheet.append(text.row(["=HYPERLINK(\"http://x\")", "Ada\x07", "", "0012345"]))
    out = tmp_path / "export.xlsx"
    workbook.save(out)

    assert_no_formulas(out)
    values = [cell.value for cell in load_workbook(out).active[1]]
    assert values == ['=HYPERLINK("http://x")', "Ada<U+0007>", None, "0012345"]


def test_plain_values_stay_plain_strings_and_only_risky_ones_become_text_cells(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from app.pars.excel import TextCells

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Learners")
    text = TextCells(sheet)
    assert text.plain_or_cell("Ada Lovelace") == "Ada Lovelace"  # openpyxl stores it as a string already
    sheet.append([text.plain_or_cell(value) for value in ("=1+1", "Ada\x07", "+1-2", "@x")])
    out = tmp_path / "plain.xlsx"
    workbook.save(out)
    assert_no_formulas(out)
    assert [cell.value for cell in load_workbook(out).active[1]] == ["=1+1", "Ada<U+0007>", "+1-2", "@x"]
