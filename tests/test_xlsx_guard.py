"""Workbooks built to exhaust memory, and workbooks that are not what their name says, are refused
with one line before python-calamine reads them: in a real `parsdesk` process under a memory cap."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.models import Store
from app.pars.batch import BatchFileError, load_batch
from app.pars import xlsx_guard
from app.pars.excel import read_workbook, write_template
from tests.test_hostile_files import store_fingerprint
from tests.xlsx_support import (
    column_letter,
    inline_row,
    run_parsdesk,
    shared_strings_xml,
    template_rows,
    write_compound_file,
    write_xlsx,
)

ONE_CELL = '<c r="{ref}" t="inlineStr"><is><t>x</t></is></c>'


def cell_at(ref: str, row: int) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        return write_xlsx(path, template_rows(f'<row r="{row}">{ONE_CELL.format(ref=ref)}</row>'))
    return make


def shared_string_count(count: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        rows = template_rows('<row r="4"><c r="A4" t="s"><v>0</v></c></row>')
        return write_xlsx(path, rows, shared_strings=shared_strings_xml(["Add"], count=count, unique=count))
    return make


def raw_sheet(sheet_data: str, dimension: str | None = "A1:W3") -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        return write_xlsx(path, template_rows(sheet_data), dimension=dimension)
    return make


# Each of these aborted `parsdesk check` and `import` (SIGABRT, "memory allocation of ... failed") or
# took gigabytes before the pre-scan.
BOMBS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "cell at XFD1048576": (cell_at("XFD1048576", 1048576), "reaches column XFD (cell XFD1048576)"),
    "cell at CV1048576": (cell_at("CV1048576", 1048576), "reaches column CV (cell CV1048576)"),
    "reference ZZZZZZZ5": (cell_at("ZZZZZZZ5", 5), "'ZZZZZZZ5', which is not a valid Excel cell reference"),
    "uniqueCount 4294967295": (shared_string_count("4294967295"), 'declares count="4294967295"'),
    "cell at A1048576": (cell_at("A1048576", 1048576), "reaches row 1,048,576 (cell A1048576)"),
    "cell without r on row 1048576": (
        raw_sheet('<row r="1048576"><c t="inlineStr"><is><t>x</t></is></c></row>'), "reaches row 1,048,576"),
    "r repeated": (raw_sheet('<row r="4"><c r="A4" r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'),
                   "reaches column XFD"),
    "'>' inside an attribute": (
        raw_sheet('<row r="4"><c foo=">" r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'),
        "reaches column XFD"),
    "lower-case reference": (cell_at("xfd1048576", 1048576), "reaches column XFD"),
    "declared range": (raw_sheet("", dimension="A1:XFD1048576"), "its used range is A1:XFD1048576"),
}


@pytest.mark.parametrize("kind", list(BOMBS))
def test_memory_bomb_is_one_line_exit_2_under_a_memory_cap(kind: str, tmp_path: Path) -> None:
    make, expected = BOMBS[kind]
    path = make(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 4096  # a few KB on disk: the danger is in what it declares

    done = run_parsdesk("check", str(path), "--as-of", "2026-04-01")

    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("parsdesk check: bomb.xlsx is refused: ")
    assert expected in done.stderr


@pytest.mark.parametrize("kind", ["cell at XFD1048576", "reference ZZZZZZZ5", "uniqueCount 4294967295"])
def test_import_of_a_memory_bomb_changes_nothing(kind: str, tmp_path: Path, store: Store) -> None:
    make, expected = BOMBS[kind]
    path = make(tmp_path / "bomb.xlsx")
    store.close()
    before = store_fingerprint(store.path)

    done = run_parsdesk("import", str(path), "--db", str(store.path))

    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and expected in done.stderr and "Traceback" not in done.stderr
    assert store_fingerprint(store.path) == before
    assert not (tmp_path / "bomb-rejections.xlsx").exists()


def test_a_workbook_at_the_limits_is_read(tmp_path: Path) -> None:
    """A notes column up to AX and a record on row 5,005 are within bounds (a row with only a note
    in a column ParsDesk does not read is not a record, and blank rows are skipped)."""
    last = inline_row(5005, ["Add", "123456789", "03-14-2026", "John", "Roe"])
    path = write_xlsx(tmp_path / "edge.xlsx", template_rows(
        '<row r="4"><c r="AX4" t="inlineStr"><is><t>office note</t></is></c></row>', last), dimension="A1:AX5005")
    batch = read_workbook(path)
    assert [record.row for record in batch.records] == [3, 5005]
    assert batch.records[1].completion.learner.first_name == "John"


def test_other_cell_spellings_are_judged_by_the_exact_scan(tmp_path: Path) -> None:
    """A sheet written with a namespace prefix (as some .NET tools do) is read; the same with a
    cell out of bounds is refused."""
    def prefixed(rows: str) -> str:
        for tag in ("row", "c", "is", "t"):
            rows = rows.replace(f"<{tag} ", f"<x:{tag} ").replace(f"<{tag}>", f"<x:{tag}>")
            rows = rows.replace(f"</{tag}>", f"</x:{tag}>")
        return rows

    good = write_xlsx(tmp_path / "prefixed.xlsx", prefixed(template_rows()), sheet_prefix="x")
    assert read_workbook(good).records[0].completion.learner.last_name == "Doe"
    bad = write_xlsx(tmp_path / "prefixed-bomb.xlsx",
                     prefixed(template_rows(f'<row r="9">{ONE_CELL.format(ref="XFD9")}</row>')), sheet_prefix="x")
    with pytest.raises(BatchFileError, match="reaches column XFD"):
        read_workbook(bad)


def test_shared_strings_within_bounds_are_read(tmp_path: Path) -> None:
    rows = template_rows('<row r="4"><c r="A4" t="s"><v>0</v></c><c r="B4" t="s"><v>1</v></c></row>')
    path = write_xlsx(tmp_path / "sst.xlsx", rows, shared_strings=shared_strings_xml(["Delete", "123456789"]))
    record = read_workbook(path).records[1]
    assert (record.completion.action.value, record.completion.activity_id) == ("Delete", "123456789")


def test_more_shared_strings_than_declared_is_refused(tmp_path: Path) -> None:
    """A table that says it is small but holds more items than a learner file can use is refused by
    its count of items (the declared count is not trusted)."""
    from app.pars.xlsx_guard import MAX_SHARED_STRINGS

    rows = template_rows('<row r="4"><c r="A4" t="s"><v>0</v></c></row>')
    path = write_xlsx(tmp_path / "many.xlsx", rows, shared_strings=shared_strings_xml(
        ["Add", *(f"{n * 7919:x}" for n in range(MAX_SHARED_STRINGS))], count="1", unique="1"))
    with pytest.raises(BatchFileError, match="its shared-string table holds more than 350,250 texts"):
        read_workbook(path)


def test_texts_mentioning_si_do_not_count_as_shared_strings(tmp_path: Path) -> None:
    """The quick bound counts every "si" in the part; texts full of them are counted exactly instead."""
    from app.pars.xlsx_guard import MAX_SHARED_STRINGS

    rows = template_rows('<row r="4"><c r="A4" t="s"><v>0</v></c></row>')
    texts = ["Add", "si" * (MAX_SHARED_STRINGS + 10)]
    path = write_xlsx(tmp_path / "si.xlsx", rows, shared_strings=shared_strings_xml(texts))
    assert read_workbook(path).records[1].completion.action.value == "Add"


def test_formula_without_a_saved_value_says_open_and_save_in_excel(tmp_path: Path, capsys) -> None:
    rows = template_rows('<row r="4"><c r="A4" t="inlineStr"><is><t>Add</t></is></c>'
                         '<c r="I4"><f>SUM(I3:I3)</f></c><c r="L4"><f>1+1</f><v></v></c></row>')
    path = write_xlsx(tmp_path / "generated.xlsx", rows)

    assert main(["check", str(path), "--as-of", "2026-04-01"]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "formulas whose results were never saved (cells I4, L4)" in err
    assert "open it in Excel and save it" in err and "677" not in err


def test_formula_with_its_saved_value_is_read_as_the_value(tmp_path: Path) -> None:
    rows = template_rows('<row r="4"><c r="A4" t="inlineStr"><is><t>Add</t></is></c>'
                         '<c r="I4"><f>1+1</f><v>2</v></c></row>')
    record = read_workbook(write_xlsx(tmp_path / "saved.xlsx", rows)).records[1]
    assert record.completion.cme is not None and str(record.completion.cme.credits) == "2"


def test_password_protected_workbook_is_named_as_such(tmp_path: Path, capsys) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = tmp_path / "plain.xlsx"
    write_template(plain)
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as source:
        encrypted = io.BytesIO()
        OOXMLFile(source).encrypt("s3cret", encrypted)
    locked.write_bytes(encrypted.getvalue())

    assert main(["check", str(locked)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "locked.xlsx is a password-protected workbook" in err and "damaged" not in err


def test_old_xls_renamed_xlsx_says_save_as_xlsx(tmp_path: Path) -> None:
    path = write_compound_file(tmp_path / "old.xlsx", {"Workbook": b"\x09\x08\x10\x00" + b"\0" * 200,
                                                      "\x05SummaryInformation": b"\0" * 64})
    with pytest.raises(BatchFileError) as refused:
        load_batch(path)
    message = str(refused.value)
    assert "old Excel 97-2003 (.xls) format" in message and "save it as .xlsx" in message
    assert "damaged" not in message


def test_a_truncated_zip_is_still_called_damaged(tmp_path: Path) -> None:
    whole = tmp_path / "whole.xlsx"
    write_template(whole)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(whole.read_bytes()[:1500])
    with pytest.raises(BatchFileError, match="damaged/truncated"):
        load_batch(cut)


# ------------------------------------------------------------------- the pre-scan's fast path
# A sheet whose cell tags are all "plain" (`<c r="B12" s="3" t="s">`, see xlsx_guard._plain_sheet)
# is judged by a few whole-segment searches; any other spelling goes through the exact tag-by-tag
# scan. These cases pin, for each spelling, which way it goes and what the verdict is, so that a
# faster fast path cannot quietly accept (or refuse) a different set of files.

INLINE_X = '<is><t>x</t></is></c>'


def row_4(*cells: str) -> str:
    return '<row r="4">' + "".join(cells) + "</row>"


def one_row(row: str, cell: str) -> str:
    return f'<row r="{row}">{cell}{INLINE_X}</row>'


COLUMN_AY = "reaches column AY"
# name: (rows after the template's rows 1-3, declared used range, judged by the fast path, verdict)
FAST_PATH_CASES: dict[str, tuple[str, str, bool | None, str]] = {
    # cell positions at and beyond the bounds (columns A-AX, rows 1-5,005)
    "AX5005": (row_4('<c r="A4" t="s"><v>0</v></c>') + one_row("5005", '<c r="AX5005" t="inlineStr">'),
               "A1:W3", True, "read"),
    "AY4": (row_4('<c r="AY4" t="inlineStr">' + INLINE_X), "A1:W3", False, "reaches column AY (cell AY4)"),
    "BA4": (row_4('<c r="BA4" t="inlineStr">' + INLINE_X), "A1:W3", False, "reaches column BA (cell BA4)"),
    "AAA4": (row_4('<c r="AAA4" t="inlineStr">' + INLINE_X), "A1:W3", False, "reaches column AAA (cell AAA4)"),
    "Z4, AA4, AW4": (row_4('<c r="Z4"/><c r="AA4"/><c r="AW4" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "A5006": (one_row("5006", '<c r="A5006" t="inlineStr">'), "A1:W3", False, "reaches row 5,006 (cell A5006)"),
    "A5005": (one_row("5005", '<c r="A5005" t="inlineStr">'), "A1:W3", True, "read"),
    "A5000": (one_row("5000", '<c r="A5000" t="inlineStr">'), "A1:W3", True, "read"),
    "A4999": (one_row("4999", '<c r="A4999" t="inlineStr">'), "A1:W3", True, "read"),
    "A999, A1000": (one_row("999", '<c r="A999"/><c r="A1000" t="inlineStr">'), "A1:W3", True, "read"),
    "A9999": (one_row("9999", '<c r="A9999" t="inlineStr">'), "A1:W3", False, "reaches row 9,999 (cell A9999)"),
    "A10000": (one_row("10000", '<c r="A10000" t="inlineStr">'), "A1:W3", False,
               "reaches row 10,000 (cell A10000)"),
    "A0": (row_4('<c r="A0" t="inlineStr">' + INLINE_X), "A1:W3", False,
           "has cell A0, which is not a valid Excel cell position"),
    "A00": (row_4('<c r="A00" t="inlineStr">' + INLINE_X), "A1:W3", False,
            "has cell A00, which is not a valid Excel cell position"),
    "leading zeros": (row_4('<c r="B0004" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "leading zeros, row 5,005": (one_row("5005", '<c r="A0005005" t="inlineStr">'), "A1:W3", True, "read"),
    "leading zeros, row 5,006": (one_row("5006", '<c r="A0005006" t="inlineStr">'), "A1:W3", False,
                                 "reaches row 5,006 (cell A0005006)"),
    "leading zeros, 8 digits": (row_4('<c r="A00000004" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "lower case": (row_4('<c r="b4" t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "lower case beyond": (row_4('<c r="ay4" t="inlineStr">' + INLINE_X), "A1:W3", False, COLUMN_AY),
    "dollar signs": (row_4('<c r="$B$4" t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "no row": (row_4('<c r="B" t="inlineStr">' + INLINE_X), "A1:W3", False,
               "has 'B', which is not a valid Excel cell reference"),
    "no column": (row_4('<c r="4" t="inlineStr">' + INLINE_X), "A1:W3", False,
                  "has '4', which is not a valid Excel cell reference"),
    "empty reference": (row_4('<c r="" t="inlineStr">' + INLINE_X), "A1:W3", False,
                        "has '', which is not a valid Excel cell reference"),
    "row before column": (row_4('<c r="4B" t="inlineStr">' + INLINE_X), "A1:W3", False,
                          "has '4B', which is not a valid Excel cell reference"),
    # the attributes after r
    "t before s": (row_4('<c r="B4" t="inlineStr" s="1">' + INLINE_X), "A1:W3", True, "read"),
    "cm, vm and ph": (row_4('<c r="B4" cm="1" vm="2" ph="1" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "t repeated": (row_4('<c r="B4" t="s" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "empty value": (row_4('<c r="B4" s="" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "16-character value": (row_4('<c r="B4" t="inlineStr" s="1234567890123456">' + INLINE_X), "A1:W3", True,
                           "read"),
    "17-character value": (row_4('<c r="B4" t="inlineStr" s="12345678901234567">' + INLINE_X), "A1:W3", False,
                           "read"),
    "self-closing": (row_4('<c r="B4" s="1"/><c r="C4"/><c r="D4" t="inlineStr">' + INLINE_X), "A1:W3", True,
                     "read"),
    "r repeated, in bounds": (row_4('<c r="B4" r="C4" t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "r repeated, beyond": (row_4('<c r="B4" r="AY4" t="inlineStr">' + INLINE_X), "A1:W3", False,
                           "reaches column AY (cell AY4)"),
    "r repeated after s": (row_4('<c r="B4" s="1" r="AY4" t="inlineStr">' + INLINE_X), "A1:W3", False,
                           "reaches column AY (cell AY4)"),
    "another attribute": (row_4('<c r="B4" foo="1" t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "'>' in a value": (row_4('<c r="B4" foo=">" t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "quote in a value": (row_4("<c r=\"B4\" s='\"' r=\"AY4\">" + INLINE_X), "A1:W3", False, COLUMN_AY),
    "single quotes": (row_4("<c r='B4' t='inlineStr'>" + INLINE_X), "A1:W3", False,
                      "has '', which is not a valid Excel cell reference"),
    "tab before r": (row_4('<c\tr="B4" t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "tab before r, beyond": (row_4('<c\tr="AY4">' + INLINE_X), "A1:W3", False, COLUMN_AY),
    "newline in the tag": (row_4('<c r="B4"\nt="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "two spaces": (row_4('<c r="B4"  t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "space before >": (row_4('<c r="B4" t="inlineStr" >' + INLINE_X), "A1:W3", False, "read"),
    "spaces around =": (row_4('<c r = "AY4">' + INLINE_X), "A1:W3", False, COLUMN_AY),
    "r last": (row_4('<c t="inlineStr" r="B4">' + INLINE_X), "A1:W3", False, "read"),
    "r last, beyond": (row_4('<c t="inlineStr" r="AY4">' + INLINE_X), "A1:W3", False, COLUMN_AY),
    "no r": (row_4('<c t="inlineStr">' + INLINE_X), "A1:W3", False, "read"),
    "no r, 50 cells": (row_4('<c r="AW4"/><c/><c>' + INLINE_X), "A1:W3", False, COLUMN_AY),
    "bare <c>": (row_4("<c>" + INLINE_X), "A1:W3", False, "read"),
    "bare <c/>": (row_4("<c/>"), "A1:W3", False, "read"),
    "unclosed tag": (row_4('<c r="B4" t="inlineStr"' + INLINE_X), "A1:W3", False, "has a malformed cell or row tag"),
    # rows: with plain cells only the cells' own positions are judged (they are what calamine uses)
    "bad row number, plain cells": ('<row r="x4"><c r="B4" t="inlineStr">' + INLINE_X + "</row>", "A1:W3", True,
                                    "read"),
    "bad row number, other cells": ('<row r="x4"><c r="B4" foo="1" t="inlineStr">' + INLINE_X + "</row>", "A1:W3",
                                    False, "has row number 'x4', which is not valid"),
    "tags starting with c": ('<row r="4"><c r="B4" t="inlineStr"><is><t>x</t></is></c></row>'
                             '<cols><col min="1" max="2"/></cols><cfRule type="x"/>', "A1:W3", True, "read"),
    # namespace prefixes, formulas, text that looks like markup
    "prefixed cells": ('<x:row r="4"><x:c r="B4" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c></x:row>', "A1:W3",
                       False, "read"),
    "prefixed cell, beyond": ('<x:row r="4"><x:c r="AY4"/></x:row>', "A1:W3", False, COLUMN_AY),
    "text with ':c '": (row_4('<c r="B4" t="inlineStr"><is><t>note:c d</t></is></c>'), "A1:W3", False, "read"),
    "text with ':' and '!'": (row_4('<c r="B4" t="inlineStr"><is><t>10:30, done!</t></is></c>'), "A1:W3", True,
                              "read"),
    "comment": (row_4('<!-- a note --><c r="B4" t="inlineStr">' + INLINE_X), "A1:W3", True, "read"),
    "formula with its value": (row_4('<c r="A4" t="inlineStr"><is><t>Add</t></is></c><c r="I4"><f>1+1</f><v>2</v></c>'),
                               "A1:W3", True, "read"),
    "formula without its value": (row_4('<c r="I4"><f>1+1</f></c>'), "A1:W3", True,
                                  "sheet.xlsx has formulas whose results were never saved (cell I4)"),
    "prefixed formula without its value": (row_4('<c r="I4"><x:f>1+1</x:f></c>'), "A1:W3", True,
                                           "sheet.xlsx has formulas whose results were never saved (cell I4)"),
    "shared formula without its value": (row_4('<c r="I4"><f t="shared" si="0"/></c>'), "A1:W3", True,
                                         "sheet.xlsx has formulas whose results were never saved (cell I4)"),
    "DOCTYPE after the cells": (row_4('<c r="B4" t="inlineStr">' + INLINE_X) + "<!DOCTYPE x>", "A1:W3", None,
                                "declares a DOCTYPE or entity, which Excel never writes"),
    "ENTITY after the cells": (row_4('<c r="B4" t="inlineStr">' + INLINE_X) + '<!ENTITY x "y">', "A1:W3", None,
                               "declares a DOCTYPE or entity, which Excel never writes"),
    # the used range the sheet declares
    "used range to AY": ("", "A1:AY3", None, "reaches column AY (its used range is A1:AY3)"),
    "used range to row 5,006": ("", "A1:W5006", None, "reaches row 5,006 (its used range is A1:W5006)"),
    "used range of one cell": ("", "B2", True, "read"),
    "used range in lower case": ("", "a1:w3", True, "read"),
    "used range with three ends": ("", "A1:W3:ZZ9", True, "read"),
    "used range without a row": ("", "A1:W", None, "has 'W', which is not a valid Excel cell reference"),
}


def fast_path_judges(path: Path) -> bool | None:
    """Whether the fast path judged the sheet (True), left it to the exact scan (False) or refused it (None)."""
    with zipfile.ZipFile(path) as archive:
        scan = xlsx_guard._SheetScan(path, "sheet")
        try:
            return xlsx_guard._plain_sheet(path, archive, "xl/worksheets/sheet1.xml", scan)
        except BatchFileError:
            return None


def verdict(path: Path) -> str:
    try:
        xlsx_guard.check_container(path)
    except BatchFileError as exc:
        return str(exc)
    return "read"


@pytest.mark.parametrize("chunk_bytes", [xlsx_guard.CHUNK_BYTES, 200, 64])
@pytest.mark.parametrize("case", list(FAST_PATH_CASES))
def test_each_cell_spelling_gets_its_verdict_whatever_the_chunk_size(
    case: str, chunk_bytes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks put a segment boundary next to every tag of these sheets."""
    rows, used_range, fast, expected = FAST_PATH_CASES[case]
    path = write_xlsx(tmp_path / "sheet.xlsx", template_rows(rows), dimension=used_range)
    monkeypatch.setattr(xlsx_guard, "CHUNK_BYTES", chunk_bytes)

    assert fast_path_judges(path) is fast
    result = verdict(path)
    if expected == "read":
        assert result == "read"
    else:
        assert expected in result and result.count("\n") == 0
        assert result.startswith(("sheet.xlsx is refused: sheet 'Learners' ", "sheet.xlsx has formulas"))


def honest_row(row: int) -> str:
    """A 23-column record in the spellings Excel, openpyxl and ParsDesk write."""
    cells = []
    for index in range(1, 24):
        ref = f"{column_letter(index)}{row}"
        form = index % 5
        if form == 0:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>text {row} {index}</t></is></c>')
        elif form == 1:
            cells.append(f'<c r="{ref}" t="n"><v>{row}.5</v></c>')
        elif form == 2:
            cells.append(f'<c r="{ref}" s="1" t="n"><v>46124</v></c>')
        elif form == 3:
            cells.append(f'<c r="{ref}" s="2"><v>{index}</v></c>')
        else:
            cells.append(f'<c r="{ref}" s="3"/>')
    return f'<row r="{row}">{"".join(cells)}</row>'


def big_sheet(path: Path, insert: str = "", at: int = 0, rows: int = 5002) -> Path:
    """A sheet of honest rows 4 to `rows` (about 5 MB of XML, several 1 MB chunks) with `insert`
    starting exactly `at` bytes into the sheet part (after a row padded to the right length)."""
    marker = "<!--here-->"
    with zipfile.ZipFile(write_xlsx(path, template_rows(marker), dimension=f"A1:W{rows}")) as archive:
        size = archive.read("xl/worksheets/sheet1.xml").index(marker.encode())
    before: list[str] = []
    after = [honest_row(row) for row in range(4, rows + 1)]
    while after and size + len(after[0]) + 200 <= at:
        size += len(after[0])
        before.append(after.pop(0))
    row = 3 + len(before)
    empty_filler = f'<row r="{row}"><c r="X{row}" t="inlineStr"><is><t></t></is></c></row>'
    filler = empty_filler.replace("<t></t>", "<t>" + "p" * (at - size - len(empty_filler)) + "</t>")
    write_xlsx(path, template_rows(*before, filler, insert, *after), dimension=f"A1:W{rows}")
    with zipfile.ZipFile(path) as archive:
        assert archive.read("xl/worksheets/sheet1.xml")[at:].startswith(insert.encode())
    return path


CHUNK = xlsx_guard.CHUNK_BYTES
# What is put into a 5,000-row sheet, where (byte offsets), and what becomes of the file.
BIG_SHEET_CASES: dict[str, tuple[str, bool | None, str]] = {
    "nothing": ("", True, "read"),
    "a cell in column AY": ('<row r="77"><c r="AY77" t="inlineStr"><is><t>x</t></is></c></row>', False,
                            "reaches column AY (cell AY77)"),
    "a cell on row 5,006": ('<row r="5006"><c r="A5006" s="1"/></row>', False, "reaches row 5,006 (cell A5006)"),
    "a cell with another attribute": ('<row r="77"><c r="A77" foo="1"/></row>', False, "read"),
    "a prefixed cell": ('<row r="77"><x:c r="A77"/></row>', False, "read"),
    "a DOCTYPE": ("<!DOCTYPE x>", None, "declares a DOCTYPE or entity, which Excel never writes"),
    "a formula without its value": ('<row r="77"><c r="C77"><f>1+1</f></c></row>', True,
                                    "has formulas whose results were never saved (cell C77)"),
    "a formula with its value": ('<row r="77"><c r="C77"><f>1+1</f><v>2</v></c></row>', True, "read"),
}


@pytest.mark.parametrize("at", [CHUNK - 9, CHUNK, 3 * CHUNK + 1, 4 * CHUNK + 100_000])
@pytest.mark.parametrize("case", list(BIG_SHEET_CASES))
def test_a_full_sheet_is_judged_wherever_the_odd_tag_is(case: str, at: int, tmp_path: Path) -> None:
    """At a 1 MB chunk boundary (straddling it or just after it), in a middle chunk, in the last one."""
    insert, fast, expected = BIG_SHEET_CASES[case]
    path = big_sheet(tmp_path / "sheet.xlsx", insert, at)

    assert fast_path_judges(path) is fast
    result = verdict(path)
    assert result == "read" if expected == "read" else expected in result


def test_many_plain_cells_in_rarer_spellings_are_still_judged_exactly(tmp_path: Path) -> None:
    """Plain cell tags whose attributes come in an order or kind Excel rarely writes (t before s, cm,
    vm, ph, empty values): a whole sheet of them is judged by the fast path, and one cell beyond the
    bounds after thousands of them is found."""
    spellings = ['<c r="{ref}" t="n" s="1"><v>1</v></c>', '<c r="{ref}" cm="1"><v>1</v></c>',
                 '<c r="{ref}" vm="1" t="e"><v>1</v></c>', '<c r="{ref}" ph="1"/>', '<c r="{ref}" s=""/>']
    rows = "".join(
        f'<row r="{row}">'
        + "".join(spellings[(row + index) % 5].format(ref=f"{column_letter(index)}{row}") for index in range(1, 24))
        + "</row>"
        for row in range(4, 5006)
    )
    good = write_xlsx(tmp_path / "rare.xlsx", template_rows(rows), dimension="A1:W5005")
    assert fast_path_judges(good) is True
    assert verdict(good) == "read"

    last = '<row r="5005"><c r="AY5005" cm="1"/></row>'
    bad = write_xlsx(tmp_path / "rare-bad.xlsx", template_rows(rows, last), dimension="A1:W5005")
    assert fast_path_judges(bad) is False
    assert "reaches column AY (cell AY5005)" in verdict(bad)


def test_cells_are_counted_by_the_fast_path(tmp_path: Path) -> None:
    """Every position of A1:AX5005 once is within bounds; one cell more is refused before calamine
    would build a grid for it. (Stored uncompressed: such a sheet compresses beyond the zip-bomb ratio.)"""
    def sheet(extra: str) -> str:
        letters = [column_letter(index) for index in range(1, xlsx_guard.MAX_COLUMNS + 1)]
        rows = "".join(f'<row r="{row}">' + "".join(f'<c r="{letter}{row}"/>' for letter in letters) + "</row>"
                       for row in range(1, xlsx_guard.MAX_SHEET_ROWS + 1))
        return (f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                f"{rows}{extra}</sheetData></worksheet>")

    def workbook(name: str, extra: str) -> Path:
        path = write_xlsx(tmp_path / name, template_rows())
        with zipfile.ZipFile(path) as source:
            parts = {item.filename: source.read(item) for item in source.infolist()}
        parts["xl/worksheets/sheet1.xml"] = sheet(extra).encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
            for member, data in parts.items():
                target.writestr(member, data)
        return path

    full = workbook("full.xlsx", "")
    assert fast_path_judges(full) is True
    assert verdict(full) == "read"
    over = workbook("over.xlsx", '<row r="5005"><c r="A5005"/></row>')
    assert "has more than 250,250 cells" in verdict(over)


CELL_STARTS = ['<c r="', "<c r='", '<c\tr="', '<c  r="', '<c s="1" r="', "<col", "<c", "<x:c r=\""]
COLUMNS = ["A", "B", "W", "X", "Z", "AA", "AW", "AX", "AY", "AZ", "BA", "ZZ", "AAA", "XFD", "a", "aX", "$A", ""]
ROWS = ["1", "9", "10", "99", "100", "999", "1000", "4999", "5000", "5004", "5005", "5006", "5009", "5010", "5100",
        "6000", "9999", "10000", "0", "00", "007", "0005005", "0005006", "00000004", "1048576", "$4", ""]
ENDS = ['">', '"/>', '" >', '" t="s">', '" t="inlineStr"/>', '" s="1" t="s">', '" t="s" s="1">', '" s="">',
        '" s="1234567890123456">', '" s="12345678901234567">', '" cm="1" vm="1" ph="1">', '" s="1"  t="s">',
        '" r="AY4">', '" s="1" r="XFD1">', '" foo="1">', '" t=\'s\'>', '" s="-1">', '" t="s"', '"\n>', "'>",
        '" t="s"/ >']


def test_the_quick_question_gives_the_exact_answer_for_every_spelling() -> None:
    """_has_other_cell asks _OTHER_CELL only of the cells its quicker pattern does not recognise:
    for each of some 80,000 spellings, alone and among plain cells, its answer is _OTHER_CELL's."""
    plain = '<c r="B7" t="inlineStr"><is><t>x</t></is></c>'
    questions = 0
    for start in CELL_STARTS:
        for column in COLUMNS:
            for row in ROWS:
                for end in ENDS:
                    tag = (start + column + row + end).encode()
                    for segment in (tag, (plain * 3).encode() + tag + plain.encode()):
                        expected = xlsx_guard._OTHER_CELL.search(segment) is not None
                        assert xlsx_guard._has_other_cell(segment) is expected, segment
                        questions += 1
    assert questions > 80_000


@pytest.mark.parametrize("rare", ['<c r="B7" ph="1"/>', '<c r="B5004" t="s"/>', "<col/>"])
def test_past_its_limit_of_exact_questions_the_rest_is_asked_at_once(rare: str) -> None:
    many = rare.encode() * (xlsx_guard._EXACT_QUESTIONS + 10)
    assert not xlsx_guard._has_other_cell(many)
    for bad in (b'<c r="AY7"/>', b"<c/>", b'<c r="B7" r="XFD1"/>'):
        assert xlsx_guard._has_other_cell(many + bad)
        assert xlsx_guard._has_other_cell(bad + many)


@pytest.mark.parametrize("where", ["head", "after 1 MB"])
@pytest.mark.parametrize("declaration", ["<!DOCTYPE x>", '<!ENTITY x "y">'])
def test_a_doctype_in_the_shared_strings_is_refused_wherever_it_is(declaration: str, where: str,
                                                                  tmp_path: Path) -> None:
    texts = ["Add", *(f"text {n}, done!" for n in range(80_000))]
    strings = shared_strings_xml(texts)
    strings = (strings.replace("<sst ", declaration + "<sst ", 1) if where == "head"
               else strings.replace("<si><t>text 70000,", declaration + "<si><t>text 70000,", 1))
    rows = template_rows('<row r="4"><c r="A4" t="s"><v>0</v></c></row>')
    path = write_xlsx(tmp_path / "sheet.xlsx", rows, shared_strings=strings)
    assert len(zipfile.ZipFile(path).read("xl/sharedStrings.xml")) > xlsx_guard.CHUNK_BYTES
    assert verdict(path) == ("sheet.xlsx is refused: part xl/sharedStrings.xml declares a DOCTYPE or entity, "
                             "which Excel never writes.")
    clean = write_xlsx(tmp_path / "clean.xlsx", rows, shared_strings=shared_strings_xml(texts))
    assert verdict(clean) == "read"


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels"])
def test_a_doctype_in_the_workbook_part_is_refused(part: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "made.xlsx", template_rows())
    with zipfile.ZipFile(path) as source:
        parts = {item.filename: source.read(item) for item in source.infolist()}
    parts[part] = parts[part].replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e "!">]>', 1)
    target = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in parts.items():
            archive.writestr(member, data)
    assert verdict(target) == f"sheet.xlsx is refused: part {part} declares a DOCTYPE or entity, which Excel never writes."


def missing_formula_values_tag_by_tag(path: Path, archive: zipfile.ZipFile, member: str) -> tuple[int, list[str]]:
    """How xlsx_guard judged formula cells before it learned to jump between formulas: every cell
    part of the sheet in order. Kept as the specification the quicker scan is checked against."""
    missing: list[str] = []
    count = 0
    reference = b""
    has_formula = has_value = False
    for segment in xlsx_guard._chunks(path, archive, member):
        for part in xlsx_guard._CELL_PART.finditer(segment):
            closing, name, attributes, self_closing = part.groups()
            if name == b"c":
                if closing or self_closing:
                    if has_formula and not has_value and not self_closing:
                        count += 1
                        if len(missing) < 3:
                            missing.append(reference.decode("ascii", "backslashreplace") or "?")
                    has_formula = has_value = False
                    continue
                reference = xlsx_guard._attributes(attributes).get(b"r", b"")[:20]
                has_formula = has_value = False
            elif closing:
                continue
            elif name == b"f":
                has_formula = True
            elif not self_closing and not segment.startswith(b"</", part.end()):
                has_value = True
    return count, missing


CELL_PARTS = ['<c r="A1">', '<c r="B2"/>', "</c>", "<c>", '<c r="C3" t="s">', '<x:c r="D4">', "</x:c>", "<f>", "</f>",
              "<f/>", '<f t="shared" si="0"/>', "<x:f>", "</x:f>", "<v>", "</v>", "<v/>", "<is>", "</is>", "<t>", "</t>",
              "1+1", "a:f b", "x", '<c r="E5" a<f ="1">', '<v a<f ="1">', '<row r="1">', "</row>", "<f foo>", "<c/>",
              "</c/>", "<cfoo>", "<fx>", "<x:v>", "</x:v>", " ", '<c r="F6" s=">">', "<c r='G7'>", "<f\n>", "<v >",
              '<c r="H8"\t>', "</c >", "<!-- <f> -->", "<x:is>", '<c r="\u00ff9">']


def test_formula_cells_are_judged_as_reading_every_cell_part_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """_check_formula_values jumps from formula to formula; on 4,000 random soups of cell parts
    (well and badly formed, prefixed, in chunks of 8 bytes to 1 MB) it finds the same cells as
    reading every part in order."""
    rng = random.Random(12)
    refused = 0
    for _ in range(4000):
        body = "".join(rng.choice(CELL_PARTS) for _ in range(rng.randint(0, 60)))
        sheet = f'<?xml version="1.0" encoding="UTF-8"?><worksheet><sheetData>{body}</sheetData></worksheet>'
        monkeypatch.setattr(xlsx_guard, "CHUNK_BYTES", rng.choice([8, 13, 40, 64, 1 << 20]))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("sheet.xml", sheet)
        with zipfile.ZipFile(buffer) as archive:
            count, missing = missing_formula_values_tag_by_tag(Path("f.xlsx"), archive, "sheet.xml")
            try:
                xlsx_guard._check_formula_values(Path("f.xlsx"), archive, "sheet.xml")
                assert count == 0, sheet
            except BatchFileError as exc:
                listed = ", ".join(missing) + (f" and {count - len(missing):,} more" if count > len(missing) else "")
                assert f"(cell{'s' if count > 1 else ''} {listed})," in str(exc), sheet
                refused += 1
    assert refused > 1000


def test_formulas_in_every_row_are_each_judged(tmp_path: Path) -> None:
    """A formula in every record (as a sheet with a computed column has), some with their results
    and some without, far apart and in several 1 MB chunks: each one without is counted."""
    def row(number: int) -> str:
        value = "" if number % 1000 == 7 else f"<v>{number}</v>"
        formula = f'<c r="X{number}"><f>W{number}+0</f>{value}</c>'
        return honest_row(number).replace("</row>", formula + "</row>")

    rows = "".join(row(number) for number in range(4, 5003))
    path = write_xlsx(tmp_path / "sheet.xlsx", template_rows(rows), dimension="A1:X5002")
    assert verdict(path) == (
        "sheet.xlsx has formulas whose results were never saved (cells X7, X1007, X2007 and 2 more), so their "
        "values cannot be read: open it in Excel and save it, then load it again."
    )
    saved = write_xlsx(tmp_path / "saved.xlsx", template_rows(rows.replace("+0</f></c>", "+0</f><v>1</v></c>")),
                       dimension="A1:X5002")
    assert verdict(saved) == "read"
