"""A bounded pre-scan of an .xlsx before python-calamine reads it.

python-calamine sizes its grid from the cell positions it meets and its string table from the
shared-string counts a file declares, before reading the values. A 3 KB workbook with one cell at
XFD1048576 (or `uniqueCount="4294967295"`, or a reference like ZZZZZZZ5) makes it ask for hundreds
of GB and abort the whole process, which no `except` can catch. So each part calamine would read
is streamed here first, in fixed-size chunks with no tree and no entities, and a workbook that
reaches beyond the template's width, beyond 5,000 data rows or declares more strings than such a
sheet can hold is refused with one line.

    check_container(path)    # the zip itself (sizes, ratios), then prescan(): raises BatchFileError
    sniff_old_office(path)   # the message for an encrypted workbook or an .xls renamed .xlsx, or None
    prescan(path, archive)   # raises BatchFileError; `archive` is the already opened zipfile

The scan reads raw bytes with regular expressions that follow XML's attribute grammar (quoted
values, any attribute order, namespace prefixes), so it is not fooled by a `>` inside a value and
counts every element start it cannot parse as a refusal. Comments and CDATA are not skipped: a
reference hidden there is judged too, which can only refuse more, never less.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from app.pars.batch_limits import MAX_RECORDS, BatchFileError

# The template has 23 columns (25 with a rejection workbook's Error Code and Error Message); about
# twice that leaves room for an office's own notes columns. Data starts on row 3; the header row may
# be as low as row 5, so the last row a full file can use is 5,005.
TEMPLATE_COLUMNS = 23
MAX_COLUMNS = 50  # column AX
HEADER_ROWS = 5
MAX_SHEET_ROWS = MAX_RECORDS + HEADER_ROWS
MAX_CELLS = MAX_COLUMNS * MAX_SHEET_ROWS
# A full template sheet holds at most MAX_CELLS texts; helper sheets add a few hundred.
MAX_SHARED_STRINGS = MAX_CELLS + 100_000
# One XML part (sheet, shared strings, workbook): a 5,000-row template with long texts is ~45 MB.
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_SMALL_PART_BYTES = 8 * 1024 * 1024  # workbook.xml and its relationships
MAX_TAG_BYTES = 64 * 1024  # no start tag of a cell, row or dimension is anywhere near this long
CHUNK_BYTES = 1024 * 1024
# Zip-bomb guard: an honest 5,000-row template unpacks to a few MB.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 1024 * 1024  # small members may compress extremely well (shared strings, styles)

OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_ENCRYPTION_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
MAX_OLE_SCAN_BYTES = 64 * 1024 * 1024

_PREFIX = rb"(?:[A-Za-z_][\w.\-]*:)?"
_ATTRIBUTE = rb"""([^\s=/>]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')"""
_ATTRIBUTES = rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*"""
# Every start of a <c>, <row>, <dimension> or </row> tag, parseable or not...
_SHEET_TAG_START = re.compile(rb"</?" + _PREFIX + rb"(?:c|row|dimension)(?=[\s/>])")
# ...and the same tags when they are well formed: (closing slash, name, attributes).
_SHEET_TAG = re.compile(
    rb"<(/?)" + _PREFIX + rb"(c|row|dimension)(?=[\s/>])(" + _ATTRIBUTES + rb")\s*/?>"
)
_ATTRIBUTE_PAIR = re.compile(_ATTRIBUTE)
_FORMULA_START = re.compile(rb"<" + _PREFIX + rb"f(?=[\s/>])")
# Inside one cell: its start, a formula, a value, an inline string, and its end.
_CELL_PART = re.compile(
    rb"<(/?)" + _PREFIX + rb"(c|f|v|is)(?=[\s/>])(" + _ATTRIBUTES + rb")\s*(/?)>"
)
_SST_TAG = re.compile(rb"<" + _PREFIX + rb"sst(?=[\s/>])(" + _ATTRIBUTES + rb")\s*/?>")
_SST_ITEM = re.compile(rb"<" + _PREFIX + rb"si(?=[\s/>])")
_CELL_REFERENCE = re.compile(rb"\$?([A-Za-z]+)\$?([0-9]+)")
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']*)["']""")

_SHEET_TYPES = ("/worksheet", "/chartsheet", "/dialogsheet", "/macrosheet")
_SHARED_STRINGS_TYPE = "/sharedStrings"


def column_letters(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


_LAST_COLUMN = column_letters(MAX_COLUMNS)


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + (char - 64)
    return number


# ------------------------------------------------------------------------------------ old formats


def sniff_old_office(path: Path) -> str | None:
    """Why an OLE compound file named .xlsx cannot be read: password protection or the .xls format.

    Excel saves a password-protected workbook as an OLE file holding EncryptionInfo and
    EncryptedPackage streams; an Excel 97-2003 workbook is an OLE file too. None when `path` is not
    an OLE file at all.
    """
    try:
        with path.open("rb") as stream:
            if stream.read(len(OLE_MAGIC)) != OLE_MAGIC:
                return None
            # The directory entries name the streams in UTF-16; look for them in bounded chunks.
            carry = b""
            read = 0
            while read < MAX_OLE_SCAN_BYTES:
                chunk = stream.read(CHUNK_BYTES)
                if not chunk:
                    break
                read += len(chunk)
                window = carry + chunk
                if any(name in window for name in _ENCRYPTION_STREAMS):
                    return (
                        f"{path.name} is a password-protected workbook: ParsDesk cannot read it. Open it in "
                        "Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
                        "Password, clear it) and save it again."
                    )
                carry = window[-64:]
    except OSError:
        return None
    return (
        f"{path.name} is in the old Excel 97-2003 (.xls) format although it is named .xlsx: open it in "
        "Excel and save it as .xlsx (Excel Workbook)."
    )


# ------------------------------------------------------------------------------------- the pre-scan


def _declares_doctype(data: bytes) -> bool:
    """Whether `data` holds "<!DOCTYPE" or "<!ENTITY" (Excel writes neither). A search for the rare
    '!' alone is many times faster than for a word, and a part without one needs no other."""
    return b"!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data)


def _shown(text: str) -> str:
    """A sheet name safe to print: printable characters only, at most 40 of them."""
    return "".join(char if char.isprintable() else "?" for char in text[:40])


def _refuse(path: Path, reason: str) -> BatchFileError:
    return BatchFileError(f"{path.name} is refused: {reason}.")


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    """Attributes of a start tag matched by one of the patterns above (the last of a repeated name)."""
    return {name: first if first is not None else second
            for name, first, second in _ATTRIBUTE_PAIR.findall(raw)}


def _chunks(path: Path, archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member's bytes in segments that never cut a tag in two (each ends before a '<')."""
    carry = b""
    with archive.open(member) as stream:
        first = True
        while True:
            chunk = stream.read(CHUNK_BYTES)
            if first:
                first = False
                _check_prologue(path, member, chunk)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"<")
            if cut <= 0:
                carry = data
            else:
                carry = data[cut:]
                yield data[:cut]
            if len(carry) > MAX_TAG_BYTES + CHUNK_BYTES:
                raise _refuse(path, f"part {member} has a tag longer than {MAX_TAG_BYTES:,} bytes")
        if carry:
            yield carry


def _check_prologue(path: Path, member: str, head: bytes) -> None:
    """Excel writes UTF-8 without a DOCTYPE; anything else is refused rather than guessed at."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:256]:
        raise _refuse(path, f"part {member} is not UTF-8 text (Excel writes UTF-8)")
    declared = _ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).strip().lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        raise _refuse(path, f"part {member} declares the {declared.group(1)[:20].decode('ascii', 'backslashreplace')} "
                            "encoding (Excel writes UTF-8)")


def _member_size(path: Path, archive: zipfile.ZipFile, member: str, limit: int) -> None:
    size = archive.getinfo(member).file_size
    if size > limit:
        raise _refuse(path, f"part {member} would unpack to {size / 1_048_576:,.0f} MB "
                            f"(limit {limit // 1_048_576} MB)")


class _SheetScan:
    """Tracks the positions calamine would give cells: explicit `r` attributes, or the next column
    and row when a cell or row leaves it out."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.row = 0  # 1-based row of the current <row>; 0 before the first
        self.column = 0  # 1-based column of the last cell in the current row
        self.cells = 0
        self.formulas = False

    def refuse(self, reason: str) -> BatchFileError:
        return _refuse(self.path, f"{self.label} {reason}")

    def reference(self, raw: bytes) -> tuple[int, int]:
        match = _CELL_REFERENCE.fullmatch(raw)
        if not match or len(match.group(1)) > 3 or len(match.group(2)) > 7:
            shown = raw[:20].decode("ascii", "backslashreplace")
            raise self.refuse(f"has '{shown}', which is not a valid Excel cell reference")
        return _column_number(match.group(1)), int(match.group(2))

    def check(self, column: int, row: int, what: str) -> None:
        if row < 1 or column < 1:
            raise self.refuse(f"has {what}, which is not a valid Excel cell position")
        if column > MAX_COLUMNS:
            raise self.refuse(
                f"reaches column {column_letters(column)} ({what}); the PARS template uses columns A to "
                f"{column_letters(TEMPLATE_COLUMNS)} and ParsDesk reads up to column {_LAST_COLUMN}: delete "
                "the unused columns to the right of the data in Excel and save it again"
            )
        if row > MAX_SHEET_ROWS:
            raise self.refuse(
                f"reaches row {row:,} ({what}); a PARS learner file holds at most {MAX_RECORDS:,} "
                "records: delete the unused rows below the data in Excel and save it again"
            )

    def segment(self, data: bytes) -> None:
        if _declares_doctype(data):
            raise self.refuse("declares a DOCTYPE or entity, which Excel never writes")
        if not self.formulas and _FORMULA_START.search(data):
            self.formulas = True
        tags = _SHEET_TAG.findall(data)
        if len(tags) != len(_SHEET_TAG_START.findall(data)):
            raise self.refuse("has a malformed cell or row tag")
        check = self.check
        for closing, name, attributes in tags:
            if name == b"c":
                if closing:
                    continue
                self.cells += 1
                reference = _attributes(attributes).get(b"r") if attributes else None
                if reference is None:
                    column, row = self.column + 1, self.row
                    shown = f"cell {column_letters(column)}{row}"
                else:
                    column, row = self.reference(reference)
                    shown = f"cell {reference.decode('ascii')}"
                if column > MAX_COLUMNS or row > MAX_SHEET_ROWS or row < 1:
                    check(column, row, shown)
                self.column = column
            elif name == b"row":
                if closing:
                    continue
                value = _attributes(attributes).get(b"r") if attributes else None
                if value is None:
                    self.row += 1
                elif value.isdigit() and len(value) <= 7:
                    self.row = int(value)
                else:
                    raise self.refuse(f"has row number '{value[:20].decode('ascii', 'backslashreplace')}', which is "
                                      "not valid")
                # A row alone (a height, a style) holds nothing to read: only its cells are judged.
                self.column = 0
            else:  # dimension: the used range the sheet declares
                ref = _attributes(attributes).get(b"ref", b"")
                for end in ref.split(b":")[:2]:
                    if end:
                        column, row = self.reference(end)
                        check(column, row, f"its used range is {ref[:40].decode('ascii', 'backslashreplace')}")
        if self.cells > MAX_CELLS:
            raise self.refuse(f"has more than {MAX_CELLS:,} cells")


def _digits_at_most(limit: int) -> bytes:
    """A pattern for decimal numbers from 1 to `limit` (leading zeros allowed)."""
    digits = str(limit)
    options = [digits.encode()]
    if len(digits) > 1:
        options.append(rb"[1-9][0-9]{0,%d}" % (len(digits) - 2))
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - position - 1
            options.append(digits[:position].encode() + b"[%d-%d][0-9]{%d}" % (lowest, int(digit) - 1, rest))
    return rb"0*(?:" + b"|".join(options) + rb")"


def _letters_at_most(limit: int) -> bytes:
    """A pattern for column letters (upper case) from A to column number `limit`."""
    letters = column_letters(limit)
    options = [letters.encode()]
    if len(letters) > 1:
        options.append(rb"[A-Z]{1,%d}" % (len(letters) - 1))
    for position, letter in enumerate(letters):
        if letter != "A":
            rest = len(letters) - position - 1
            options.append(letters[:position].encode() + b"[A-%s][A-Z]{%d}" % (chr(ord(letter) - 1).encode(), rest))
    return rb"(?:" + b"|".join(options) + rb")"


# The fast path: the cell tags Excel, LibreOffice and openpyxl write, `<c r="B12" s="3" t="s">`,
# whose attribute values hold no quote or '>' and cannot repeat `r`, within the bounds. When every
# cell start of a sheet is one of these, the sheet is judged by a few whole-segment searches; any
# other cell tag (or one out of bounds) sends the whole sheet through _SheetScan, which names it.
_PLAIN_CELL_START = b'<c r="'
_PLAIN_CELL_REST = (
    rb' r="' + _letters_at_most(MAX_COLUMNS) + _digits_at_most(MAX_SHEET_ROWS)
    + rb'"(?: (?:s|t|cm|vm|ph)="[A-Za-z0-9]{0,16}")*/?>'
)
# A cell start that is not a plain cell tag (a plain tag has no '<' inside, so every cell start is
# either the start of a plain tag or one of these). This defines the fast path, but asked at each of
# a sheet's 100,000 cells it is slow: the lookahead backtracks through its alternatives.
_OTHER_CELL = re.compile(rb"<c(?=[\s/>])(?!" + _PLAIN_CELL_REST + rb")")
# So each '<c' is first matched against the plain tags written most, in a form the regex engine
# decides in a few steps (no backtracking, no repeated group): columns A to AX, rows 1 to 4,999
# without leading zeros, then `t`, `s` or `s` and `t` with short values. Only a '<c' this does not
# recognise (rows 5,000 to 5,005, other attributes, other tags starting with "c", a bad cell) is
# asked _OTHER_CELL. Every tag it recognises is plain by _PLAIN_CELL_REST too, so the answer is the same.
_USUAL_CELL_REST = (
    rb' r="(?:[B-Z]|A[A-X]?)(?:[1-4][0-9]{3}|[1-9][0-9]{0,2}+)"'
    rb'(?: t="[A-Za-z]{1,16}"| s="[0-9]{1,16}"(?: t="[A-Za-z]{1,16}"|)|)/?>'
)
_UNUSUAL_CELL = re.compile(rb"<c(?!" + _USUAL_CELL_REST + rb")")
# Past this many '<c' in one segment that needed the exact question, ask it of the rest at once:
# never much slower than asking it of every cell, as a sheet of rarer plain spellings would need.
_EXACT_QUESTIONS = 1000
# A formula's tag name: "f" after "<" or a namespace prefix's ":".
_FORMULA_NAME = re.compile(rb"f(?<=[<:]f)[\s/>]")
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_DIMENSION = re.compile(rb"dimension")


def _has_other_cell(segment: bytes) -> bool:
    """Whether a cell start in `segment` is not a plain cell tag: `_OTHER_CELL.search(segment)`,
    asked only where _UNUSUAL_CELL finds a '<c' it does not recognise."""
    position = 0
    for _ in range(_EXACT_QUESTIONS):
        unusual = _UNUSUAL_CELL.search(segment, position)
        if unusual is None:
            return False
        if _OTHER_CELL.match(segment, unusual.start()):
            return True
        position = unusual.end()
    return _OTHER_CELL.search(segment, position) is not None


def _plain_sheet(path: Path, archive: zipfile.ZipFile, member: str, scan: _SheetScan) -> bool:
    """Judge a sheet made only of plain cell tags; False (nothing judged) when it has another kind."""
    for segment in _chunks(path, archive, member):
        # Namespace prefixes are rare too: without a ':' the segment has no prefixed tag.
        prefixed = b":" in segment
        if _has_other_cell(segment) or (prefixed and _PREFIXED_CELL.search(segment)):
            return False
        if _declares_doctype(segment):
            raise scan.refuse("declares a DOCTYPE or entity, which Excel never writes")
        if not scan.formulas and _FORMULA_NAME.search(segment):
            scan.formulas = True
        for mention in _DIMENSION.finditer(segment):
            tag = _SHEET_TAG.match(segment, segment.rfind(b"<", 0, mention.start()))
            if tag:
                scan.segment(tag.group(0))
        # every cell start is a plain tag here, and every plain tag starts so
        scan.cells += segment.count(_PLAIN_CELL_START)
        if scan.cells > MAX_CELLS:
            raise scan.refuse(f"has more than {MAX_CELLS:,} cells")
    return True


def _scan_sheet(path: Path, archive: zipfile.ZipFile, member: str, label: str) -> None:
    _member_size(path, archive, member, MAX_PART_BYTES)
    scan = _SheetScan(path, label)
    if not _plain_sheet(path, archive, member, scan):
        scan = _SheetScan(path, label)
        for segment in _chunks(path, archive, member):
            scan.segment(segment)
    if scan.formulas:
        _check_formula_values(path, archive, member)


class _FormulaCells:
    """Which formula cells have no saved value, reading the sheet's cell parts in order: a cell's
    start (its `r`), a formula, a value (`<v>` or `<is>` with content) and the cell's end.

    Only the parts of a cell holding a formula count, so between formulas the scan jumps: from where
    it is to the next formula only the last cell start, and the values after the last cell start or
    end, change what follows, and they are found by walking back from the formula a few tags."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.count = 0
        self.reference = b""  # `r` of the last cell started
        self.has_formula = self.has_value = False  # since the last cell start or end

    def step(self, segment: bytes, part: re.Match[bytes]) -> bool:
        """Take one cell part into account; True at a cell's start or end."""
        closing, name, attributes, self_closing = part.groups()
        if name == b"c":
            if closing or self_closing:
                if self.has_formula and not self.has_value and not self_closing:
                    self.count += 1
                    if len(self.missing) < 3:
                        self.missing.append(self.reference.decode("ascii", "backslashreplace") or "?")
            else:
                self.reference = _attributes(attributes).get(b"r", b"")[:20]
            self.has_formula = self.has_value = False
            return True
        if closing:
            return False
        if name == b"f":
            self.has_formula = True
        elif not self_closing and not segment.startswith(b"</", part.end()):  # a <v> or <is> with content
            self.has_value = True
        return False

    def skip(self, segment: bytes, start: int, end: int) -> None:
        """Take into account the cell parts in segment[start:end], which hold no formula."""
        value_after_last_cell_part = False
        position = end
        while (position := segment.rfind(b"<", start, position)) >= 0:
            part = _CELL_PART.match(segment, position)
            if part is None:
                continue
            closing, name, attributes, self_closing = part.groups()
            if name != b"c":
                if not closing and not self_closing and not segment.startswith(b"</", part.end()):
                    value_after_last_cell_part = True
                continue
            self.has_value = value_after_last_cell_part
            if not (closing or self_closing):
                self.reference = _attributes(attributes).get(b"r", b"")[:20]
                return
            # a cell's end: the reference is still that of the last cell started, further back
            while (position := segment.rfind(b"<", start, position)) >= 0:
                part = _CELL_PART.match(segment, position)
                if part and part.group(2) == b"c" and not part.group(1) and not part.group(4):
                    self.reference = _attributes(part.group(3)).get(b"r", b"")[:20]
                    return
            return
        self.has_value = self.has_value or value_after_last_cell_part

    def segment(self, segment: bytes) -> None:
        position = 0
        while position < len(segment):
            if self.has_formula:
                # inside a formula's cell: every part counts, up to the cell's end
                for part in _CELL_PART.finditer(segment, position):
                    if self.step(segment, part):
                        position = part.end()
                        break
                else:
                    return
                continue
            formula = None
            search_from = position
            while formula is None and (name := _FORMULA_NAME.search(segment, search_from)):
                start = segment.rfind(b"<", position, name.start())
                part = _CELL_PART.match(segment, start) if start >= 0 else None
                if part and part.group(2) == b"f":
                    formula = part
                search_from = name.end()
            if formula is None:
                self.skip(segment, position, len(segment))
                return
            self.skip(segment, position, formula.start())
            self.step(segment, formula)
            position = formula.end()


def _check_formula_values(path: Path, archive: zipfile.ZipFile, member: str) -> None:
    """Refuse formula cells whose result was never saved (written by a program, not by Excel):
    calamine would read them as empty and every such row would look incomplete."""
    cells = _FormulaCells()
    for segment in _chunks(path, archive, member):
        cells.segment(segment)
    count, missing = cells.count, cells.missing
    if count:
        listed = ", ".join(missing) + (f" and {count - len(missing):,} more" if count > len(missing) else "")
        raise BatchFileError(
            f"{path.name} has formulas whose results were never saved (cell{'s' if count > 1 else ''} "
            f"{listed}), so their values cannot be read: open it in Excel and save it, then load it again."
        )


def _scan_shared_strings(path: Path, archive: zipfile.ZipFile, member: str) -> None:
    _member_size(path, archive, member, MAX_PART_BYTES)
    at_most = 0
    declared_checked = False
    for segment in _chunks(path, archive, member):
        if _declares_doctype(segment):
            raise _refuse(path, f"part {member} declares a DOCTYPE or entity, which Excel never writes")
        if not declared_checked:
            header = _SST_TAG.search(segment)
            if header:
                declared_checked = True
                for name, value in _attributes(header.group(1)).items():
                    if name in (b"count", b"uniqueCount"):
                        if not value.isdigit() or len(value) > 12 or int(value) > MAX_SHARED_STRINGS:
                            shown = value[:20].decode("ascii", "backslashreplace")
                            raise _refuse(path, f"its shared-string table declares {name.decode()}=\"{shown}\" "
                                                f"(at most {MAX_SHARED_STRINGS:,} texts fit a PARS learner file)")
        # "si" is in every item's start tag, whatever its prefix: a cheap upper bound of the items
        at_most += segment.count(b"si")
    if at_most <= MAX_SHARED_STRINGS:
        return
    items = 0
    for segment in _chunks(path, archive, member):
        items += len(_SST_ITEM.findall(segment))
        if items > MAX_SHARED_STRINGS:
            raise _refuse(path, f"its shared-string table holds more than {MAX_SHARED_STRINGS:,} texts")


def _read_small_xml(path: Path, archive: zipfile.ZipFile, member: str):  # noqa: ANN202 - an Element
    # The standard library's parser is enough for these small parts, and far cheaper to load than lxml:
    # with the DOCTYPE refused first, no entity can be declared, so none is expanded or fetched.
    from xml.etree.ElementTree import ParseError, XMLParser

    _member_size(path, archive, member, MAX_SMALL_PART_BYTES)
    data = archive.read(member)
    if _declares_doctype(data):
        raise _refuse(path, f"part {member} declares a DOCTYPE or entity, which Excel never writes")
    parser = XMLParser()
    try:
        parser.feed(data)
        return parser.close()
    except ParseError as exc:
        raise _refuse(path, f"part {member} is not well-formed XML ({str(exc).splitlines()[0]})") from None


def _relationship_targets(path: Path, archive: zipfile.ZipFile, names: set[str]) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, zip member) for the workbook part."""
    rels = "xl/_rels/workbook.xml.rels"
    if rels not in names:
        return {}
    targets: dict[str, tuple[str, str]] = {}
    for element in _read_small_xml(path, archive, rels).iterfind(".//{*}Relationship"):
        target = element.get("Target") or ""
        if target.startswith("/"):
            member = target.lstrip("/")
        else:
            parts: list[str] = []
            for part in PurePosixPath("xl", target).parts:
                if part == "..":
                    if parts:
                        parts.pop()
                elif part != ".":
                    parts.append(part)
            member = "/".join(parts)
        targets[element.get("Id") or ""] = (element.get("Type") or "", member)
    return targets


def prescan(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a workbook calamine could not read within bounded memory (see the module docstring)."""
    names = set(archive.namelist())
    targets = _relationship_targets(path, archive, names)
    workbook = _read_small_xml(path, archive, "xl/workbook.xml")
    sheets: dict[str, str] = {}  # zip member -> how the message names it
    for sheet in workbook.iterfind(".//{*}sheet"):
        relation = next((value for key, value in sheet.attrib.items() if key.endswith("}id")), None)
        kind, member = targets.get(relation or "", ("", ""))
        if member in names and member not in sheets:
            title = _shown(sheet.get("name") or "")
            sheets[member] = f"sheet '{title}'" if title else f"part {member}"
    # Any other sheet-like part too, whatever the workbook says: it costs little and closes gaps.
    for _, (kind, member) in targets.items():
        if kind.endswith(_SHEET_TYPES) and member in names:
            sheets.setdefault(member, f"part {member}")
    for name in sorted(names):
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            sheets.setdefault(name, f"part {name}")
    for member, label in sheets.items():
        _scan_sheet(path, archive, member, label)

    strings = {member for kind, member in targets.values() if kind.endswith(_SHARED_STRINGS_TYPE)}
    strings.add("xl/sharedStrings.xml")
    for member in sorted(strings):
        if member in names:
            _scan_shared_strings(path, archive, member)


def check_container(path: Path, max_bytes: int = MAX_UNCOMPRESSED_BYTES, max_ratio: float = MAX_COMPRESSION_RATIO,
                    ratio_min_bytes: int = RATIO_CHECK_MIN_BYTES) -> None:
    """Refuse what is not a real .xlsx zip, a zip that would unpack to something enormous, and a
    workbook whose cells or strings would make the reader allocate without bound (`prescan`).
    BatchFileError (one line) for each; nothing of the file is parsed beyond bounded chunks."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        old_format = sniff_old_office(path)
        if old_format:
            raise BatchFileError(old_format) from None
        raise BatchFileError(
            f"{path.name} is not a valid .xlsx workbook (not a zip archive, or damaged/truncated)."
        ) from None
    except OSError as exc:
        raise BatchFileError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from None
    with archive:
        members = archive.infolist()
        names = {member.filename for member in members}
        if "xl/workbook.xml" not in names:
            raise BatchFileError(f"{path.name} is a zip archive but not an Excel workbook (.xlsx).")
        total = 0
        for member in members:
            total += member.file_size
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > ratio_min_bytes and ratio > max_ratio:
                raise BatchFileError(
                    f"{path.name} is refused: part {member.filename} would expand {ratio:,.0f} times "
                    f"(a zip bomb or a corrupt workbook)."
                )
        if total > max_bytes:
            raise BatchFileError(
                f"{path.name} is refused: it would unpack to {total / 1_048_576:,.0f} MB "
                f"(limit {max_bytes // 1_048_576} MB)."
            )
        try:
            prescan(path, archive)
        # A damaged member: bad CRC, truncated deflate stream, unknown or encrypted compression.
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error, NotImplementedError,
                RuntimeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BatchFileError(f"{path.name} is a damaged .xlsx workbook ({reason}).") from None
