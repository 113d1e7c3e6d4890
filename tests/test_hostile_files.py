"""Files that are broken or built to hurt: each gets one clear line, exit 2, and leaves the store alone."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.cli import main
from app.models import Store
from app.models.schema import ActivityRow, CompletionRow, UploadRow
from app.pars.excel import GUIDANCE, HEADERS, write_template

ROOT = Path(__file__).resolve().parent.parent


def wrong_extension(folder: Path) -> Path:
    path = folder / "learners.csv"
    path.write_text("Record Action,ACCME Activity ID\nAdd,123456789\n")
    return path


def text_named_xlsx(folder: Path) -> Path:
    path = folder / "learners.xlsx"
    path.write_text("Record Action;ACCME Activity ID\nAdd;123456789\n")
    return path


def truncated_xlsx(folder: Path) -> Path:
    whole = folder / "whole.xlsx"
    write_template(whole)
    data = whole.read_bytes()
    path = folder / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def zip_not_workbook(folder: Path) -> Path:
    path = folder / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return path


def zip_bomb(folder: Path) -> Path:
    """A workbook-looking zip whose sheet expands ~1000 times (8 MB of zeros; kept small for speed)."""
    path = folder / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (8 * 1024 * 1024))
    return path


def billion_laughs(folder: Path) -> Path:
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    path = folder / "laughs.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>'
        "<ACCMELearnerReports><ActivityReports><ActivityReport><ReportingOrganization>&lol9;"
        "</ReportingOrganization></ActivityReport></ActivityReports></ACCMELearnerReports>"
    )
    return path


def external_entity(folder: Path) -> Path:
    path = folder / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        "<ACCMELearnerReports><ActivityReports><ActivityReport><Member><Name><GivenName>&secret;"
        "</GivenName></Name></Member></ActivityReport></ActivityReports></ACCMELearnerReports>"
    )
    return path


def entity_in_xlsx_sheet(folder: Path) -> Path:
    """A real workbook whose sheet XML declares an external entity and uses it in a cell."""
    template = folder / "template.xlsx"
    write_template(template)
    path = folder / "xxe.xlsx"
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                assert ">Jane<" in text
                text = text.replace(
                    "<worksheet", '<!DOCTYPE w [<!ENTITY secret SYSTEM "file:///etc/passwd">]><worksheet', 1
                ).replace(">Jane<", ">&secret;<", 1)
                data = text.encode()
            target.writestr(item, data)
    return path


def not_xml(folder: Path) -> Path:
    path = folder / "garbage.xml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    return path


def too_many_rows(folder: Path) -> Path:
    path = folder / "big.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Learners")
    sheet.append([GUIDANCE])
    sheet.append(list(HEADERS))
    for index in range(5001):
        sheet.append(["Add", "123456789", "03-14-2026", f"F{index}", "L"])
    workbook.save(path)
    return path


def too_many_reports(folder: Path) -> Path:
    path = folder / "big.xml"
    report = "<ActivityReport><CreditID>x</CreditID></ActivityReport>"
    path.write_text(f"<ACCMELearnerReports><ActivityReports>{report * 5001}</ActivityReports></ACCMELearnerReports>")
    return path


def empty_xlsx(folder: Path) -> Path:
    path = folder / "empty.xlsx"
    path.write_bytes(b"")
    return path


def empty_xml(folder: Path) -> Path:
    path = folder / "empty.xml"
    path.write_bytes(b"")
    return path


def missing_header_row(folder: Path) -> Path:
    path = folder / "headless.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Add", "123456789", "03-14-2026", "Jane", "Doe"])
    sheet.append(["Add", "123456789", "03-15-2026", "John", "Roe"])
    workbook.save(path)
    return path


def headers_without_records(folder: Path) -> Path:
    path = folder / "headers-only.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([GUIDANCE])
    sheet.append(list(HEADERS))
    sheet.append([])
    workbook.save(path)
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "wrong extension": (wrong_extension, "unsupported file type (.csv); PARS learner batches are .xlsx or .xml"),
    "text named .xlsx": (text_named_xlsx, "is not a valid .xlsx workbook"),
    "truncated xlsx": (truncated_xlsx, "is not a valid .xlsx workbook"),
    "zip but not a workbook": (zip_not_workbook, "is a zip archive but not an Excel workbook"),
    "zip bomb": (zip_bomb, "zip bomb"),
    "billion laughs": (billion_laughs, "declares a DOCTYPE"),
    "external entity": (external_entity, "declares a DOCTYPE"),
    "entity in an xlsx sheet": (entity_in_xlsx_sheet, "declares a DOCTYPE or entity, which Excel never writes"),
    "not xml": (not_xml, "is not well-formed XML"),
    "5,001 rows": (too_many_rows, "The file has 5,001 learner records; PARS accepts at most 5,000 per file."),
    "5,001 xml reports": (too_many_reports, "The file has 5,001 learner records; PARS accepts at most 5,000"),
    "empty xlsx": (empty_xlsx, "the file is empty"),
    "empty xml": (empty_xml, "the file is empty"),
    "missing header row": (missing_header_row, "has no header row"),
    "headers but no records": (headers_without_records, "no learner records below them"),
}


def store_fingerprint(path: Path) -> tuple[str, tuple[int, ...]]:
    store = Store.open(path)
    try:
        with store.session() as session:
            counts = tuple(
                session.scalar(select(func.count()).select_from(table))
                for table in (ActivityRow, CompletionRow, UploadRow)
            )
    finally:
        store.close()
    return hashlib.sha256(path.read_bytes()).hexdigest(), counts


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_file_gets_one_line_exit_2_and_no_store_change(
    kind: str, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = CASES[kind]
    path = make(tmp_path)
    store.close()
    before = store_fingerprint(store.path)

    code = main(["check", str(path), "--db", store.location])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("parsdesk check: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err
    assert "root:" not in captured.err  # nothing of /etc/passwd
    assert store_fingerprint(store.path) == before


def test_zip_that_would_unpack_too_far_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.pars.batch_reading as batch_reading
    import app.pars.excel as excel
    from app.pars.batch import BatchFileError

    path = tmp_path / "large.xlsx"
    write_template(path)
    monkeypatch.setattr(batch_reading, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(BatchFileError, match="would unpack to"):
        excel.read_workbook(path)


def _no_activities(folder: Path) -> Path:
    path = folder / "none.json"
    path.write_text("[]")
    return path


def test_hostile_file_through_a_real_process(tmp_path: Path) -> None:
    path = billion_laughs(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "check", str(path), "--activities", str(_no_activities(tmp_path))],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "DOCTYPE" in done.stderr and "Traceback" not in done.stderr


def test_oversized_xml_is_refused_by_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import app.pars.xml_codec as codec

    monkeypatch.setattr(codec, "MAX_XML_BYTES", 64)
    path = tmp_path / "large.xml"
    path.write_bytes(b"<ACCMELearnerReports>" + b" " * 100 + b"</ACCMELearnerReports>")
    assert main(["check", str(path), "--activities", str(_no_activities(tmp_path))]) == 2
    assert "XML learner files above" in capsys.readouterr().err


def test_zip_bomb_check_reads_only_the_directory(tmp_path: Path) -> None:
    """The guard looks at the zip directory, so refusing a bomb costs no decompression."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"a" * (4 * 1024 * 1024))
    path = tmp_path / "b.xlsx"
    path.write_bytes(buffer.getvalue())
    from app.pars.batch import BatchFileError, load_batch

    with pytest.raises(BatchFileError, match=r"would expand [\d,]+ times"):
        load_batch(path)


def test_a_file_that_is_not_a_store_is_one_line_and_untouched(tmp_path: Path, capsys) -> None:
    learners = tmp_path / "template.xlsx"
    write_template(learners)
    fake = tmp_path / "notes.sqlite3"
    fake.write_text("not a database")
    assert main(["check", str(learners), "--db", str(fake)]) == 3  # the store: an environment problem
    err = capsys.readouterr().err
    assert err.strip() == (f"parsdesk check: {fake.resolve()} is not a ParsDesk store (not a database); "
                           "ParsDesk leaves it as it is")
    assert fake.read_text() == "not a database"
