"""A workbook's first sheet is parsed on a thread while the caller does other work (app.pars.batch_reading):
the container is still judged before anything is parsed, the parse's failures still reach the user as
one line, and no parse is ever left running behind a caller that gave up."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest

from app.pars import catalog
from app.pars.batch import BatchFileError, load_batch
from app.pars.batch_reading import SheetParse, start_reading
from tests.test_check_cli import fill_template, learner_row
from tests.test_xlsx_guard import cell_at

PARSE_THREAD = "parsdesk-sheet-parse"


def parse_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == PARSE_THREAD]


@pytest.fixture
def slow_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each parse takes at least a second, so a parse left running is still running when looked for."""
    parse_first_sheet = SheetParse._parse_first_sheet

    def slowly(self: SheetParse) -> None:
        threading.Event().wait(1.0)
        parse_first_sheet(self)

    monkeypatch.setattr(SheetParse, "_parse_first_sheet", slowly)


def unreadable_sheet(path: Path) -> Path:
    """A template whose sheet XML is broken after the pre-scan's checks: only the parse notices."""
    fill_template(path, [learner_row(1)])
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"</sheetData>", b"</sheetDat>")
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def test_a_refused_container_starts_no_parse(tmp_path: Path) -> None:
    path = cell_at("XFD1048576", 1048576)(tmp_path / "bomb.xlsx")
    with pytest.raises(BatchFileError, match="reaches column XFD"):
        start_reading(path)
    assert parse_threads() == []


def test_the_records_of_a_started_reading_are_those_of_load_batch(tmp_path: Path) -> None:
    path = fill_template(tmp_path / "l.xlsx", [learner_row(index) for index in range(1, 40)])
    reading = start_reading(path)
    started = reading.batch()
    reading.close()
    again = load_batch(path)
    assert [(r.row, r.values, r.completion) for r in started.records] == \
        [(r.row, r.values, r.completion) for r in again.records]
    assert len(started.records) == 39
    assert parse_threads() == []


def test_a_parse_that_fails_on_its_thread_is_one_line_for_the_user(tmp_path: Path) -> None:
    reading = start_reading(unreadable_sheet(tmp_path / "l.xlsx"))
    with pytest.raises(BatchFileError, match=r"^l\.xlsx could not be read as an Excel workbook: ") as caught:
        reading.batch()
    assert "\n" not in str(caught.value)
    assert parse_threads() == []


def test_a_reading_given_up_before_its_records_waits_for_its_parse(tmp_path: Path, slow_parse: None) -> None:
    path = fill_template(tmp_path / "l.xlsx", [learner_row(index) for index in range(1, 400)])
    reading = start_reading(path)
    reading.close()
    assert parse_threads() == []


def test_a_bad_catalogue_met_while_the_sheet_parses_leaves_no_parse_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_parse: None
) -> None:
    def broken() -> None:
        raise catalog.CatalogError("boards.toml: not valid TOML")

    monkeypatch.setattr(catalog, "load", broken)
    path = fill_template(tmp_path / "l.xlsx", [learner_row(index) for index in range(1, 400)])
    with pytest.raises(catalog.CatalogError):
        load_batch(path)
    assert parse_threads() == []


def test_an_xml_batch_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "l.xml"
    path.write_text("<not a learner file")
    reading = start_reading(path)
    with pytest.raises(BatchFileError):
        reading.batch()
    reading.close()
