"""A small streaming .xlsx writer for sheets of text: the rejection workbooks.

openpyxl builds a Python object per cell and needs about a second for 5,000 rows of the template even
in write-only mode; a rejection workbook is written after every import with failures and on the GUI's
"Download rejections", so it should cost next to nothing. The sheet XML is written here directly,
row by row, into the zip: every value is an inline string cell (`t="inlineStr"`, formatted as Text),
so nothing written can ever be a formula, whatever it starts with ("=", "+", "-", "@"), and values
are made XML-safe first (`values.excel_safe`). Integers are written as numbers.

    write_text_sheet(path, "Rejected learners", [("Record Action", 14), ...], rows, guidance="...")

The layout is the template's: a merged guidance row, a bold header row, data from row 3, panes frozen
below the headers. The workbook opens in Excel and LibreOffice and reads back with openpyxl and
python-calamine (tests/test_hostile_values.py).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from app.pars.values import excel_safe

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_CONTENT_TYPES = (
    _HEADER + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _HEADER + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    _HEADER + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_REL}/styles" Target="styles.xml"/></Relationships>'
)
# Cell formats: 0 General, 1 Text ("@", built-in format 49), 2 guidance (italic, wrapped, top),
# 3 header (bold, light blue fill, Text).
TEXT, GUIDANCE, HEADER = 1, 2, 3
_STYLES = (
    _HEADER + f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><i/><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="49" fontId="2" fillId="2" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1" '
    'applyFill="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def column_letter(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _text(value: str) -> str:
    return excel_safe(value).translate(_ESCAPES)


def _sheet_name(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title)[:31]
    return _text(cleaned) or "Sheet1"


def write_text_sheet(
    path: Path | str,
    title: str,
    columns: Sequence[tuple[str, float]],
    rows: Iterable[Sequence[object]],
    *,
    guidance: str | None = None,
) -> int:
    """Write one sheet: the guidance row (merged across the columns), the header row, then `rows`
    (strings become Text cells, ints numbers, None and "" empty cells). Returns the rows written."""
    letters = [column_letter(number) for number in range(1, max(len(columns), 1) + 1)]
    first_data_row = 3 if guidance is not None else 2
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr(
            "xl/workbook.xml",
            _HEADER + f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><bookViews><workbookView/></bookViews>'
            f'<sheets><sheet name="{_sheet_name(title)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            top = f"A{first_data_row}"
            cols = "".join(
                f'<col min="{number}" max="{number}" width="{width}" customWidth="1" style="{TEXT}"/>'
                for number, (_, width) in enumerate(columns, start=1)
            )
            sheet.write((
                _HEADER + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheetViews>'
                f'<sheetView workbookViewId="0"><pane ySplit="{first_data_row - 1}" topLeftCell="{top}" '
                f'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="{top}" '
                f'sqref="{top}"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
                f"<cols>{cols}</cols><sheetData>"
            ).encode())
            if guidance is not None:
                sheet.write((
                    f'<row r="1" ht="48" customHeight="1"><c r="A1" s="{GUIDANCE}" t="inlineStr"><is>'
                    f'<t xml:space="preserve">{_text(guidance)}</t></is></c></row>'
                ).encode())
            headers = "".join(
                f'<c r="{letter}{first_data_row - 1}" s="{HEADER}" t="inlineStr"><is><t xml:space="preserve">'
                f"{_text(header)}</t></is></c>"
                for letter, (header, _) in zip(letters, columns)
            )
            sheet.write(f'<row r="{first_data_row - 1}">{headers}</row>'.encode())
            written = 0
            chunk: list[str] = []
            for number, values in enumerate(rows, start=first_data_row):
                cells = [f'<row r="{number}">']
                for letter, value in zip(letters, values):
                    if value is None or value == "":
                        continue
                    if isinstance(value, int) and not isinstance(value, bool):
                        cells.append(f'<c r="{letter}{number}"><v>{value}</v></c>')
                    else:
                        text = value if isinstance(value, str) else str(value)
                        cells.append(f'<c r="{letter}{number}" s="{TEXT}" t="inlineStr"><is><t xml:space="preserve">'
                                     f"{_text(text)}</t></is></c>")
                cells.append("</row>")
                chunk.append("".join(cells))
                written += 1
                if len(chunk) >= 500:
                    sheet.write("".join(chunk).encode())
                    chunk.clear()
            sheet.write("".join(chunk).encode())
            merge = (f'<mergeCells count="1"><mergeCell ref="A1:{letters[-1]}1"/></mergeCells>'
                     if guidance is not None and len(letters) > 1 else "")
            sheet.write((
                f'</sheetData>{merge}<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
                'header="0.3" footer="0.3"/></worksheet>'
            ).encode())
    return written
