"""Workbooks built to exhaust memory, and workbooks that are not what their name says, are refused
with one line before python-calamine reads them: in a real `parsdesk` process under a memory cap."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.models import Store
from app.pars.batch import BatchFileError, load_batch
from app.pars.excel import read_workbook, write_template
from tests.test_hostile_files import store_fingerprint
from tests.xlsx_support import (
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
