"""Hand-made .xlsx and OLE files for the hostile-file tests: every byte of the sheet XML is chosen by
the test, so a workbook can hold what no spreadsheet program would write (a cell at XFD1048576,
a shared-string count of 4,294,967,295, a formula without its value)."""

from __future__ import annotations

import resource
import struct
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from app.pars.excel import HEADERS

ROOT = Path(__file__).resolve().parent.parent
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# Address space for a child `parsdesk` process: a 5,000-row check needs well under 400 MB, and an
# allocation of the sizes the bombs ask for (4 GB to 512 GB) fails at once instead of swapping.
CHILD_MEMORY_BYTES = 1024 * 1024 * 1024

EXAMPLE_ROW = ["Add", "123456789", "03-14-2026", "Jane", "Doe", "04/15", "CA", "A123456", "2"]


def column_letter(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def inline_row(row: int, values: Sequence[str]) -> str:
    cells = "".join(
        f'<c r="{column_letter(index)}{row}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
        for index, value in enumerate(values, start=1)
    )
    return f'<row r="{row}">{cells}</row>'


def template_rows(*extra_rows: str) -> str:
    """Guidance, headers and one example record (rows 1-3), then `extra_rows` as written."""
    return inline_row(1, ["PARS learner upload"]) + inline_row(2, HEADERS) + inline_row(3, EXAMPLE_ROW) + "".join(
        extra_rows
    )


def write_xlsx(
    path: Path,
    sheet_data: str,
    *,
    dimension: str | None = "A1:W3",
    shared_strings: str | None = None,
    sheet_prefix: str = "",
) -> Path:
    """A minimal but complete workbook (content types, relationships, one sheet) around `sheet_data`."""
    dimension_xml = f'<dimension ref="{dimension}"/>' if dimension else ""
    if sheet_prefix:
        sheet = (f'<?xml version="1.0" encoding="UTF-8"?><{sheet_prefix}:worksheet xmlns:{sheet_prefix}="{MAIN_NS}">'
                 f"{dimension_xml}<{sheet_prefix}:sheetData>{sheet_data}</{sheet_prefix}:sheetData>"
                 f"</{sheet_prefix}:worksheet>")
    else:
        sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}">{dimension_xml}'
                 f"<sheetData>{sheet_data}</sheetData></worksheet>")
    overrides = (
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    )
    relationships = (f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>')
    if shared_strings is not None:
        overrides += ('<Override PartName="/xl/sharedStrings.xml" '
                      'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        relationships += f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<sheets><sheet name="Learners" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}">{relationships}'
            "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
    return path


def shared_strings_xml(texts: Sequence[str], count: str | None = None, unique: str | None = None) -> str:
    items = "".join(f"<si><t>{escape(text)}</t></si>" for text in texts)
    return (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}" count="{count or len(texts)}" '
            f'uniqueCount="{unique or len(texts)}">{items}</sst>')


# ------------------------------------------------------------------------------- OLE compound files

_FREE, _END_OF_CHAIN, _FAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_NO_STREAM = 0xFFFFFFFF


def _directory_entry(name: str, kind: int, start: int, size: int, child: int = _NO_STREAM,
                     right: int = _NO_STREAM) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", _NO_STREAM, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
            + struct.pack("<IQ", start, size))


def write_compound_file(path: Path, streams: dict[str, bytes]) -> Path:
    """A version-3 OLE compound file (what Excel 97-2003 and encrypted Office files are) holding
    `streams` in the root storage. Each stream is padded to 4,096 bytes so it lives in regular
    sectors (no mini stream), which keeps this writer small."""
    sector = 512
    payloads = [data.ljust(max(4096, -(-len(data) // sector) * sector), b"\0") for data in streams.values()]
    data_sectors = sum(len(payload) // sector for payload in payloads)
    directory_sectors = -(-(len(streams) + 1) // 4)
    fat_sectors = 1
    while (fat_sectors + directory_sectors + data_sectors) > fat_sectors * (sector // 4):
        fat_sectors += 1
    fat: list[int] = [_FAT_SECTOR] * fat_sectors
    directory_start = len(fat)
    for index in range(directory_sectors):
        fat.append(directory_start + index + 1 if index + 1 < directory_sectors else _END_OF_CHAIN)
    starts = []
    for payload in payloads:
        first = len(fat)
        count = len(payload) // sector
        starts.append(first)
        fat.extend(first + index + 1 if index + 1 < count else _END_OF_CHAIN for index in range(count))
    fat.extend([_FREE] * (fat_sectors * (sector // 4) - len(fat)))

    names = list(streams)
    # The root's children form a red-black tree; a right-leaning chain is a valid (all-black) tree.
    entries = [_directory_entry("Root Entry", 5, _END_OF_CHAIN, 0, child=1 if names else _NO_STREAM)]
    for index, (name, payload) in enumerate(zip(names, payloads)):
        right = index + 2 if index + 1 < len(names) else _NO_STREAM
        entries.append(_directory_entry(name, 2, starts[index], len(streams[name]), right=right))
    directory = b"".join(entries).ljust(directory_sectors * sector, b"\0")

    header = bytearray(sector)
    header[0:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIII", header, 44, fat_sectors, directory_start, 0, 4096, _END_OF_CHAIN)
    struct.pack_into("<II", header, 64, 0, _END_OF_CHAIN)
    struct.pack_into("<I", header, 72, 0)  # no DIFAT sectors beyond the header
    for index in range(109):
        struct.pack_into("<I", header, 76 + 4 * index, index if index < fat_sectors else _FREE)
    body = struct.pack(f"<{len(fat)}I", *fat) + directory + b"".join(payloads)
    path.write_bytes(bytes(header) + body)
    return path


# ------------------------------------------------------------------------------------ child processes


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))


def run_parsdesk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`parsdesk ARGS` in a fresh interpreter whose address space is capped (see CHILD_MEMORY_BYTES)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory,
    )
