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
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

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


# --- a table of typed values (the learner export) ----------------------------------------------------

_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's 1900 date system, as serial day numbers count
_EXCEL_EPOCH_DAY = _EXCEL_EPOCH.date().toordinal()
_BUILTIN_FORMATS = {"0.00": 2, "mm-dd-yy": 14}
_TABLE_TEXT, _TABLE_HEADER, _FIRST_FORMAT_STYLE = 1, 2, 3


def _table_styles(formats: list[str]) -> str:
    """General, Text, the header (bold, filled, wrapped, Text), then one cell format per number format."""
    custom = {fmt: 164 + n for n, fmt in enumerate(f for f in formats if f not in _BUILTIN_FORMATS)}
    num_fmts = "".join(f'<numFmt numFmtId="{number}" formatCode="{_text(fmt).replace(chr(34), "&quot;")}"/>'
                       for fmt, number in custom.items())
    format_xfs = "".join(
        f'<xf numFmtId="{_BUILTIN_FORMATS.get(fmt) or custom[fmt]}" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/>'
        for fmt in formats
    )
    return (
        _HEADER + f'<styleSheet xmlns="{_MAIN}">'
        + (f'<numFmts count="{len(custom)}">{num_fmts}</numFmts>' if custom else "")
        + '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
        '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE6F0"/><bgColor indexed="64"/></patternFill></fill>'
        "</fills>"
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{_FIRST_FORMAT_STYLE + len(formats)}">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="49" fontId="1" fillId="2" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1" '
        'applyFill="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
        f"{format_xfs}</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def write_table_sheet(
    path: Path | str | BinaryIO,
    title: str,
    columns: Sequence[tuple[str, float, str | None]],
    rows: Iterable[Sequence[object]],
) -> int:
    """Write one sheet: a bold header row frozen above the data, an auto filter over the table, then
    `rows`. Columns are (header, width, number format or None). Values: str -> a Text cell (never a
    formula, made XML-safe), int/float/Decimal -> a number, date/datetime -> a date cell; a column's
    number format applies to its numbers and dates. Returns the rows written.

    openpyxl's write-only mode builds and validates a Python object per cell; writing the XML
    directly keeps an export of a million records close to the cost of reading them."""
    letters = [column_letter(number) for number in range(1, max(len(columns), 1) + 1)]
    formats = list(dict.fromkeys(fmt for _, _, fmt in columns if fmt))
    if not all(fmt for _, _, fmt in columns) and "mm-dd-yy" not in formats:
        formats.append("mm-dd-yy")  # a date in a column without a format: Excel's short date
    style_of = {fmt: _FIRST_FORMAT_STYLE + n for n, fmt in enumerate(formats)}
    number_styles = [f' s="{style_of[fmt]}"' if fmt else "" for _, _, fmt in columns]
    date_styles = [f' s="{style_of[fmt or "mm-dd-yy"]}"' for _, _, fmt in columns]
    # columns of text are formatted as Text, so a value retyped there keeps its leading zeros
    column_styles = ["" if fmt else f' style="{_TABLE_TEXT}"' for _, _, fmt in columns]
    name = _sheet_name(title)
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _table_styles(formats))
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            cols = "".join(
                f'<col min="{number}" max="{number}" width="{width}" customWidth="1"{style}/>'
                for number, ((_, width, _), style) in enumerate(zip(columns, column_styles), start=1)
            )
            headers = "".join(
                f'<c r="{letter}1" s="{_TABLE_HEADER}" t="inlineStr"><is><t xml:space="preserve">{_text(header)}</t></is></c>'
                for letter, (header, _, _) in zip(letters, columns)
            )
            sheet.write((
                _HEADER + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheetViews>'
                '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
                'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
                f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData><row r="1">{headers}</row>'
            ).encode())
            chunk: list[str] = []
            for number, values in enumerate(rows, start=2):
                cells = [f'<row r="{number}">']
                for index, value in enumerate(values):
                    if value is None or value == "":
                        continue
                    if isinstance(value, str):
                        cells.append(f'<c r="{letters[index]}{number}" s="{_TABLE_TEXT}" t="inlineStr"><is>'
                                     f'<t xml:space="preserve">{_text(value)}</t></is></c>')
                    elif isinstance(value, datetime):
                        serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86400
                        cells.append(f'<c r="{letters[index]}{number}"{date_styles[index]}><v>{serial!r}</v></c>')
                    elif isinstance(value, date):
                        serial = value.toordinal() - _EXCEL_EPOCH_DAY
                        cells.append(f'<c r="{letters[index]}{number}"{date_styles[index]}><v>{serial}</v></c>')
                    elif isinstance(value, bool):
                        cells.append(f'<c r="{letters[index]}{number}" t="b"><v>{int(value)}</v></c>')
                    elif isinstance(value, (int, float, Decimal)):
                        shown = repr(float(value)) if isinstance(value, Decimal) else repr(value)
                        cells.append(f'<c r="{letters[index]}{number}"{number_styles[index]}><v>{shown}</v></c>')
                    else:
                        raise TypeError(f"cannot write a {type(value).__name__} to a sheet cell")
                cells.append("</row>")
                chunk.append("".join(cells))
                written += 1
                if len(chunk) >= 500:
                    sheet.write("".join(chunk).encode())
                    chunk.clear()
            sheet.write("".join(chunk).encode())
            table = f"A1:{letters[-1]}{written + 1}"
            sheet.write((
                f'</sheetData><autoFilter ref="{table}"/><pageMargins left="0.7" right="0.7" top="0.75" '
                'bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
            ).encode())
        quoted = name.replace("'", "''")
        absolute = f"$A$1:${letters[-1]}${written + 1}"
        archive.writestr(
            "xl/workbook.xml",
            _HEADER + f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><bookViews><workbookView/></bookViews>'
            f'<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets><definedNames>'
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">&apos;{quoted}&apos;!{absolute}'
            "</definedName></definedNames></workbook>",
        )
    return written
