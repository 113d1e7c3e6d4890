"""The PARS Excel learner template (CME + MOC, document 917 layout) read into Completions and written.

Layout: row 1 guidance text, row 2 headers, data from row 3 (a file whose headers are on row 1 is read
too). Columns are found by header, tolerant of case, stray spaces and punctuation; columns ParsDesk does
not know (and the `Error Code` / `Error Message` columns of a rejection workbook) are ignored. The full
column list, including those beyond ACCME's published ones, is in docs/excel-format.md.

Reading uses python-calamine (fast) after checking the file is a sane .xlsx zip, so a damaged file or
a zip bomb is refused with one line instead of exhausting memory. openpyxl is used only for writing.
"""

from __future__ import annotations

import re
from copy import copy
from functools import lru_cache
from operator import itemgetter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from app.pars import catalog
from app.pars.batch import MAX_RECORDS, BatchFile, BatchFileError, BatchRecord, too_many_records_message
from app.pars.batch_reading import SheetParse, check_workbook_container
from app.pars.domain import (
    F_ACTION,
    F_ACTIVITY_ID,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_COMPLETION_DATE,
    F_CREDIT_ID,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_DOB,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    F_REMS_PROFESSION,
    F_STATE,
    BoardPart,
    CmePart,
    Completion,
    Learner,
    RecordAction,
    RemsPart,
)
from app.pars.values import (
    excel_safe,
    is_excel_safe,
    format_amount,
    format_pars_date,
    normalize_birth_date,
    parse_amount,
    parse_pars_date,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import BinaryIO

F_ADDITIONAL_CREDIT_TYPE = "Additional Credit Type"
F_ADDITIONAL_CREDIT_TYPE_AMOUNT = "Credits Awarded for Additional Credit Type"
F_REMS_STATE = "REMS State of Practice"
F_REMS_DEA = "REMS DEA Registration"
F_REMS_PRACTICE_AREA = "REMS Practice Area"
F_REMS_SURGERY = "REMS Performs Surgery"
F_REMS_TIME = "REMS Time in Practice"
F_ERROR_CODE = "Error Code"
F_ERROR_MESSAGE = "Error Message"
# PARS's own rejection download names its second column for the error's description.
F_ERROR_DESCRIPTION = "Error Description"

HEADERS: tuple[str, ...] = (
    F_ACTION,
    F_ACTIVITY_ID,
    F_COMPLETION_DATE,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_DOB,
    F_STATE,
    F_LICENSE_ID,
    F_CME_CREDITS,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_ADDITIONAL_CREDIT_TYPE,
    F_ADDITIONAL_CREDIT_TYPE_AMOUNT,
    F_CREDIT_ID,
    F_REMS_PROFESSION,
    F_REMS_STATE,
    F_REMS_DEA,
    F_REMS_PRACTICE_AREA,
    F_REMS_SURGERY,
    F_REMS_TIME,
)
REMS_HEADERS = HEADERS[HEADERS.index(F_REMS_PROFESSION):]
REJECTION_HEADERS = (F_ERROR_CODE, F_ERROR_MESSAGE)

GUIDANCE = (
    "PARS learner upload (CME and MOC). Keep this row and the header row; one learner record per row "
    "from row 3, at most 5,000. Record Action: Add or Delete. Dates MM-DD-YYYY; Date of Birth MM/DD. "
    "Fill the CME columns, the board columns, or both; REMS columns only for REMS activities. "
    "Leave Credit ID empty for new records: ParsDesk assigns one. Row 3 is an example: overwrite or delete it."
)

HEADER_SEARCH_ROWS = 5

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _header_key(text: str) -> str:
    return _NON_ALNUM.sub("", text.casefold())


# Other spellings seen in the wild for a column, besides the canonical header itself.
_ALIASES: dict[str, tuple[str, ...]] = {
    F_ACTION: ("Action",),
    F_ACTIVITY_ID: ("Activity ID", "ACCME ID"),
    F_DOB: ("DOB", "Birth Date"),
    F_STATE: ("State", "State of Licensure", "Licensing State/Territory"),
    F_LICENSE_ID: ("License ID", "Licensing ID", "License Number", "NPI"),
    F_CME_CREDITS: ("CME Credits", "AMA PRA Category 1 Credits"),
    F_BOARD: ("Board",),
    F_BOARD_ID: ("Board ID", "Diplomate ID"),
    F_BOARD_POINTS: ("Board Credits", "MOC Points", "Total MOC Points"),
    F_CREDIT_ID: ("CreditID", "ACCME Credit ID"),
    # PARS's rejection download: "an error code and description for any records which did not pass"
    F_ERROR_MESSAGE: ("Error Description", "Error Message Description"),
}
_HEADER_KEYS: dict[str, str] = {}
for _header in HEADERS + REJECTION_HEADERS:
    _HEADER_KEYS[_header_key(_header)] = _header
for _header, _aliases in _ALIASES.items():
    for _alias in _aliases:
        _HEADER_KEYS.setdefault(_header_key(_alias), _header)


def canonical_header(text: str) -> str | None:
    """The template column a header cell names, or None for a column ParsDesk does not read."""
    return _HEADER_KEYS.get(_header_key(text))


# --------------------------------------------------------------------------------------- cell values


def cell_text(value: object, column: str | None = None) -> str:
    """A cell as the text a person would have typed (date cells become PARS dates, 2.0 becomes 2)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is float:
        number: float = value  # type: ignore[assignment]
        if number.is_integer() and abs(number) < 1e16:
            return str(int(number))
        return format_amount(Decimal(repr(number)))
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        if column == F_DOB:
            return normalize_birth_date(value) or ""
        return format_pars_date(value)
    return str(value)  # int, time, timedelta, anything else


@lru_cache(maxsize=4096)
def _amount(text: str) -> Decimal | str | None:
    text = text.strip()
    if not text:
        return None
    parsed = parse_amount(text)
    return parsed if parsed is not None else text


@lru_cache(maxsize=4096)
def _date(text: str) -> date | str | None:
    text = text.strip()
    if not text:
        return None
    parsed = parse_pars_date(text)
    return parsed if parsed is not None else text


@lru_cache(maxsize=4096)
def _birth_date(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    return normalize_birth_date(text) or text


_ACTIONS = {action.value.casefold(): action for action in RecordAction}


@lru_cache(maxsize=4096)
def _action(text: str) -> RecordAction | str | None:
    text = text.strip()
    if not text:
        return None
    return _ACTIONS.get(text.casefold(), text)


@lru_cache(maxsize=4096)
def _state(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    return catalog.state_code(text) or text


@lru_cache(maxsize=4096)
def _board_code(text: str) -> str:
    text = text.strip()
    return catalog.board_code(text) or text


# The parsers above are cached because cell texts repeat a lot (dates, states, boards, amounts);
# their results are immutable. Catalogue-dependent ones are forgotten when the catalogue reloads.
catalog.on_reload(_state.cache_clear)
catalog.on_reload(_board_code.cache_clear)


def _known(text: str, canonical: Callable[[str], str | None]) -> str | None:
    """The catalogue's spelling of a value; unknown text is kept for validation to report."""
    text = text.strip()
    if not text:
        return None
    return canonical(text) or text


def _yes_no(text: str) -> bool | None:
    folded = text.strip().casefold()
    if folded in ("yes", "y", "true", "1"):
        return True
    if folded in ("no", "n", "false", "0"):
        return False
    return None


_CREDIT_TYPE_COLUMNS = ((F_CREDIT_TYPE, F_CREDIT_TYPE_AMOUNT),
                        (F_ADDITIONAL_CREDIT_TYPE, F_ADDITIONAL_CREDIT_TYPE_AMOUNT))


def _any_filled(texts: Sequence[str]) -> bool:
    """Whether some text holds more than spaces (the texts joined do exactly when one of them does)."""
    return any(texts) and not "".join(texts).isspace()


def row_to_completion(cells: dict[str, str]) -> Completion:
    """A Completion from one row's cell texts (see `cell_text`) keyed by template header.

    Missing columns count as empty. Text that does not parse is kept as it is for validation to judge.
    """
    return completion_from_fields([cells.get(header, "") for header in HEADERS])


def completion_from_fields(fields: Sequence[str]) -> Completion:
    """A Completion from one row's cell texts in HEADERS order ("" for a column the sheet lacks).

    The workbook reader finds each column's place once per sheet and hands the texts over in this
    order, rather than making a dict per row: this runs for every row of a batch. For the same reason
    the records are built with positional arguments (in the dataclasses' field order, which
    tests/test_excel.py holds to): keyword arguments would cost more than the rest of the row."""
    # One name per header, in HEADERS order.
    (action, activity_id, completion_date, first_name, last_name, birth_date, state, license_id, cme_credits,
     board, board_id, board_points, credit_type, credit_type_amount, additional_type, additional_amount,
     credit_id, rems_profession, rems_state, rems_dea, rems_practice_area, rems_surgery, rems_time) = fields
    learner = Learner(first_name.strip() or None, last_name.strip() or None, _birth_date(birth_date),
                      _state(state), license_id.strip() or None)
    cme = CmePart(_amount(cme_credits)) if cme_credits and not cme_credits.isspace() else None
    boards: list[BoardPart] = []
    if _any_filled((board, board_id, board_points, credit_type, credit_type_amount, additional_type,
                    additional_amount)):
        credit_types: dict[str, Decimal | str | None] = {}
        repeated_types: list[str] = []
        for type_text, amount_text in ((credit_type, credit_type_amount), (additional_type, additional_amount)):
            type_text = type_text.strip()
            if type_text in credit_types:
                repeated_types.append(type_text)  # the same type in both columns: 678
            elif type_text:
                credit_types[type_text] = _amount(amount_text)
        boards.append(BoardPart(_board_code(board), board_id.strip() or None, _amount(board_points),
                                credit_types, repeated_types))
    rems = None
    if _any_filled((rems_profession, rems_state, rems_dea, rems_practice_area, rems_surgery, rems_time)):
        rems = RemsPart(_known(rems_profession, catalog.rems_profession), _state(rems_state),
                        _known(rems_dea, catalog.dea_registration), rems_practice_area.strip() or None,
                        _yes_no(rems_surgery), _known(rems_time, catalog.time_in_practice))
    return Completion(_action(action), activity_id.strip() or None, credit_id.strip() or None, learner,
                      _date(completion_date), cme, boards, rems)


def _amount_text(value: Decimal | str | None) -> str:
    if value is None:
        return ""
    return format_amount(value) if isinstance(value, Decimal) else str(value)


def completion_to_values(completion: Completion) -> list[str]:
    """A Completion as template cells (text, in HEADERS order).

    A row holds one board and two credit types, as the PARS template does; a record with more boards
    or types (possible in XML) shows its first board and first two types.
    """
    learner = completion.learner
    action = completion.action
    cells: dict[str, str] = {
        F_ACTION: action.value if isinstance(action, RecordAction) else (action or ""),
        F_ACTIVITY_ID: completion.activity_id or "",
        F_COMPLETION_DATE: (
            format_pars_date(completion.completion_date)
            if isinstance(completion.completion_date, date)
            else completion.completion_date or ""
        ),
        F_FIRST_NAME: learner.first_name or "",
        F_LAST_NAME: learner.last_name or "",
        F_DOB: learner.birth_date or "",
        F_STATE: learner.licensing_state or "",
        F_LICENSE_ID: learner.license_id or "",
        F_CME_CREDITS: _amount_text(completion.cme.credits) if completion.cme else "",
        F_CREDIT_ID: completion.credit_id or "",
    }
    if completion.boards:
        board = completion.boards[0]
        cells[F_BOARD] = board.board
        cells[F_BOARD_ID] = board.board_id or ""
        cells[F_BOARD_POINTS] = _amount_text(board.points)
        types = list(board.credit_types.items())
        for (type_column, amount_column), item in zip(
            _CREDIT_TYPE_COLUMNS,
            types,
        ):
            cells[type_column] = item[0]
            cells[amount_column] = _amount_text(item[1])
    if completion.rems is not None:
        rems = completion.rems
        cells[F_REMS_PROFESSION] = rems.profession or ""
        cells[F_REMS_STATE] = rems.state_of_practice or ""
        cells[F_REMS_DEA] = rems.dea_registration or ""
        cells[F_REMS_PRACTICE_AREA] = rems.practice_area or ""
        surgery = rems.performs_surgery
        cells[F_REMS_SURGERY] = "" if surgery is None else ("Yes" if surgery else "No")
        cells[F_REMS_TIME] = rems.time_in_practice or ""
    return [cells.get(header, "") for header in HEADERS]


# ----------------------------------------------------------------------------------------------- reading


def check_xlsx_container(path: Path) -> None:
    """Refuse what is not a real .xlsx zip, a zip that would unpack to something enormous, and a
    workbook whose cells or strings would make the reader allocate without bound (xlsx_guard)."""
    check_workbook_container(path)


def _find_header_row(rows: Sequence[Sequence[object]]) -> int | None:
    """Index of the header row among the first rows: the one naming the most template columns."""
    best, best_count = None, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = {canonical_header(value) for value in row if isinstance(value, str) and value.strip()}
        found.discard(None)
        if F_ACTIVITY_ID in found and len(found) >= 3 and len(found) > best_count:
            best, best_count = index, len(found)
    return best


def read_workbook(path: Path | str) -> BatchFile:
    """Read a PARS Excel learner file; BatchFileError (one line) when it cannot be used at all."""
    return read_parsed_workbook(SheetParse.start(Path(path)))


def read_parsed_workbook(parse: SheetParse) -> BatchFile:
    """The learner records of a workbook whose first sheet `SheetParse.start` is parsing (app.pars.batch_reading)."""
    try:
        catalog.load()  # the records need it: read while the sheet is still being parsed
    except BaseException:
        parse.wait()  # python-calamine is never left working on its own
        raise
    return _records(parse.path, *_sheet_rows(parse))


def _sheet_rows(parse: SheetParse) -> tuple[list[list[object]], int]:
    """The rows of the first sheet that has a header row, and that row's index (container checked)."""
    path = parse.path
    try:
        rows: list[list[object]] = []
        header_index = None
        for rows in parse.sheets():
            header_index = _find_header_row(rows)
            if header_index is not None:
                break
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # CalamineError, OSError, and pyo3's PanicException on malformed parts
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BatchFileError(f"{path.name} could not be read as an Excel workbook: {first_line}") from None
    if header_index is None:
        raise BatchFileError(
            f"{path.name} has no header row: expected the PARS template headers "
            f"('{F_ACTION}', '{F_ACTIVITY_ID}', '{F_COMPLETION_DATE}', ...) in row 1 or 2."
        )
    return rows, header_index


def _column_texts(values: Sequence[object], column: str | None) -> Sequence[str]:
    """One column's cells as text (see `cell_text`): the column itself when it holds only text.

    Numbers and dates repeat down a column: each distinct one is turned into text once."""
    others = set(map(type, values)) - {str}
    if not others:
        return values  # type: ignore[return-value]
    if len(others) == 1:
        # One kind of non-text value: a value is its own key (no text equals a number or a date),
        # and cells that are text already are looked up, missed, and kept.
        text_of = {value: cell_text(value, column) for value in set(values) if value.__class__ is not str}
        return list(map(text_of.get, values, values))
    # Mixed kinds: the key holds the type, since 1 == 1.0 == True but they read "1", "1" and "Yes".
    typed_text_of = {key: cell_text(key[1], column)
                     for key in set(zip(map(type, values), values)) if key[0] is not str}
    return [value if value.__class__ is str else typed_text_of[value.__class__, value] for value in values]


def _records(path: Path, rows: list[list[object]], header_index: int) -> BatchFile:
    """The learner records below the header row."""
    header_cells = rows[header_index]
    # Columns kept for the user (all but the rejection columns), and which template field each one is.
    kept: list[tuple[int, str, str | None]] = []
    seen: set[str] = set()
    for column, value in enumerate(header_cells):
        label = cell_text(value).strip()
        if not label:
            continue
        canonical = canonical_header(label)
        if canonical in REJECTION_HEADERS:
            continue
        if canonical in seen:
            canonical = None  # a repeated column: the first one counts
        if canonical:
            seen.add(canonical)
        kept.append((column, label, canonical))

    width = max(column for column, _, _ in kept) + 1
    below = rows[header_index + 1:]
    if any(len(row) < width for row in below):
        below = [row if len(row) >= width else [*row, *[""] * (width - len(row))] for row in below]
    # Read column by column: a column of text (most of them) is taken as it is, and the rows of texts
    # are made by zip in one go.
    sheet_columns = list(zip(*below)) if below else [()] * width  # every row is `width` cells or more now
    kept_columns = [_column_texts(sheet_columns[column], canonical) for column, _, canonical in kept]
    data_rows = []
    for offset, texts in enumerate(zip(*kept_columns), start=header_index + 2):
        joined = "".join(texts)  # some text holds more than spaces exactly when the texts joined do
        if joined and not joined.isspace():
            data_rows.append((offset, texts))
    if not data_rows:
        raise BatchFileError(
            f"{path.name} has the template headers on row {header_index + 1} but no learner records below them."
        )
    if len(data_rows) > MAX_RECORDS:
        raise BatchFileError(too_many_records_message(len(data_rows)))

    # Where each template field is among a row's texts; a field the sheet has no column for is read
    # from the "" put after them.
    position_of = {canonical: position for position, (_, _, canonical) in enumerate(kept) if canonical}
    absent = len(kept)
    fields_of = itemgetter(*[position_of.get(header, absent) for header in HEADERS])
    padded = len(position_of) < len(HEADERS)
    records = [
        BatchRecord(sheet_row, list(texts), completion_from_fields(fields_of((*texts, "") if padded else texts)))
        for sheet_row, texts in data_rows
    ]
    return BatchFile(format="xlsx", headers=[label for _, label, _ in kept], records=records)


# ----------------------------------------------------------------------------------------------- writing

_WIDTHS = {
    F_ACTION: 14, F_ACTIVITY_ID: 18, F_COMPLETION_DATE: 16, F_FIRST_NAME: 16, F_LAST_NAME: 18,
    F_DOB: 13, F_STATE: 16, F_LICENSE_ID: 20, F_CME_CREDITS: 14, F_BOARD: 16, F_BOARD_ID: 18,
    F_BOARD_POINTS: 14, F_CREDIT_TYPE: 22, F_CREDIT_TYPE_AMOUNT: 16, F_ADDITIONAL_CREDIT_TYPE: 22,
    F_ADDITIONAL_CREDIT_TYPE_AMOUNT: 18, F_CREDIT_ID: 44, F_ERROR_CODE: 11, F_ERROR_MESSAGE: 60,
}


def _sheet_layout(sheet, headers: Sequence[str]) -> None:  # noqa: ANN001 - openpyxl Worksheet
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append([GUIDANCE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(len(headers), 1))
    sheet.row_dimensions[1].height = 48
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet["A1"].font = Font(italic=True)
    sheet.append(list(headers))
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = fill
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(header, max(14, len(header) + 2))
    sheet.freeze_panes = "A3"


def _text_row(sheet, values: Sequence[str]) -> None:  # noqa: ANN001
    """Append values as text cells so IDs keep leading zeros and dates stay MM-DD-YYYY, and so a value
    such as "=HYPERLINK(...)" stays text instead of becoming a live formula."""
    sheet.append([excel_safe(value) if value else value for value in values])
    for cell in sheet[sheet.max_row]:
        cell.number_format = "@"
        if isinstance(cell.value, str):
            cell.data_type = "s"


class TextCells:
    """Makes write-only cells that hold text and nothing else, for every workbook ParsDesk writes.

    openpyxl stores any string that starts with "=" as a formula; a learner named "=HYPERLINK(...)"
    would become a live link in the coordinator's Excel. These cells are always string cells (and
    XML-safe), formatted as Text ("@") so that a value retyped in Excel keeps its leading zeros."""

    def __init__(self, sheet) -> None:  # noqa: ANN001 - openpyxl WriteOnlyWorksheet
        from openpyxl.cell import WriteOnlyCell

        self._sheet = sheet
        self._make = WriteOnlyCell
        prototype = WriteOnlyCell(sheet, "")
        prototype.number_format = "@"
        self._style = prototype._style

    def __call__(self, value: object):  # noqa: ANN204 - a WriteOnlyCell, or None for an empty cell
        if value is None or value == "":
            return None
        cell = self._make(self._sheet)
        cell._value = excel_safe(value if isinstance(value, str) else str(value))
        cell.data_type = "s"
        cell._style = copy(self._style)
        return cell

    def row(self, values: Sequence[object]) -> list:
        return [self(value) for value in values]

    def plain_or_cell(self, value: str) -> object:
        """`value` itself when openpyxl already stores it as a plain string (most values: cheaper), else
        a text cell: for what openpyxl would turn into a formula ("=...") or refuse (control characters)."""
        if value.startswith("=") or not is_excel_safe(value):
            return self(value)
        return value


# ACCME's template (document 917_20240125) names the data sheet "Sheet1", and its 13th header is spelled
# with a trailing space. ParsDesk writes both exactly; reading ignores the space and the sheet's name.
DATA_SHEET = "Sheet1"
LISTS_SHEET = "Valid Values"
ACCME_HEADER_SPELLING = {F_CREDIT_TYPE: "Credit Type "}
ACCME_COLUMNS = 15  # the first fifteen headers are ACCME's; the rest are ParsDesk's documented extensions


def template_headers(headers: Sequence[str] = HEADERS) -> list[str]:
    """Header cells as ACCME's template spells them."""
    return [ACCME_HEADER_SPELLING.get(header, header) for header in headers]


def _credit_type_names() -> list[str]:
    names: dict[str, None] = {}
    for info in catalog.boards().values():
        for name in info.credit_types:
            names.setdefault(name, None)
    return sorted(names)


# Drop-down lists of the template: column header -> the values, all from ParsDesk's catalogues.
def _template_lists() -> dict[str, list[str]]:
    return {
        F_ACTION: [action.value for action in RecordAction],
        F_STATE: sorted(catalog.states()),
        F_BOARD: list(catalog.board_codes()),
        F_CREDIT_TYPE: _credit_type_names(),
        F_ADDITIONAL_CREDIT_TYPE: _credit_type_names(),
        F_REMS_PROFESSION: list(catalog.rems_professions()),
        F_REMS_STATE: sorted(catalog.states()),
        F_REMS_DEA: list(catalog.dea_registrations()),
        F_REMS_SURGERY: ["Yes", "No"],
        F_REMS_TIME: list(catalog.time_in_practice_values()),
    }


# Column formats: IDs and month/day stay text (leading zeros, "04/15"), dates and amounts are typed cells.
DATE_FORMAT = "mm-dd-yyyy"
AMOUNT_FORMAT = "0.00"
_DATE_COLUMNS = (F_COMPLETION_DATE,)
_AMOUNT_COLUMNS = (F_CME_CREDITS, F_BOARD_POINTS, F_CREDIT_TYPE_AMOUNT, F_ADDITIONAL_CREDIT_TYPE_AMOUNT)


def _add_drop_downs(workbook, sheet, headers: Sequence[str], last_row: int) -> None:  # noqa: ANN001
    """Data validation lists on the data sheet, fed from a helper sheet (as ACCME's template has)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    lists_sheet = workbook.create_sheet(LISTS_SHEET)
    lists = [(header, values) for header, values in _template_lists().items() if header in headers]
    for index, (header, values) in enumerate(lists, start=1):
        letter = get_column_letter(index)
        lists_sheet.cell(row=1, column=index, value=header.strip()).font = Font(bold=True)
        for row, value in enumerate(values, start=2):
            lists_sheet.cell(row=row, column=index, value=value).data_type = "s"
        lists_sheet.column_dimensions[letter].width = max(16, *(len(v) + 2 for v in values))
        source = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
        validation = DataValidation(type="list", formula1=source, allow_blank=True)
        # Credit types and states are also accepted as other spellings on reading: warn, don't block.
        validation.errorStyle = "stop" if header in (F_ACTION, F_BOARD, F_REMS_SURGERY) else "warning"
        validation.error = f"{header.strip()}: choose a value from the list (sheet '{LISTS_SHEET}')."
        validation.errorTitle = header.strip()
        validation.showErrorMessage = True
        sheet.add_data_validation(validation)
        column = get_column_letter(headers.index(header) + 1)
        validation.add(f"{column}3:{column}{last_row}")


def _column_formats(sheet, headers: Sequence[str], last_row: int) -> None:  # noqa: ANN001
    from openpyxl.utils import get_column_letter

    for index, header in enumerate(headers, start=1):
        letter = get_column_letter(index)
        if header in _DATE_COLUMNS:
            number_format = DATE_FORMAT
        elif header in _AMOUNT_COLUMNS:
            number_format = AMOUNT_FORMAT
        else:
            number_format = "@"
        sheet.column_dimensions[letter].number_format = number_format


def write_template(path: Path | str) -> None:
    """ACCME's CME + MOC learner template as document 917 is known: data sheet `Sheet1`, guidance on row 1,
    ACCME's headers on row 2 (then ParsDesk's extensions), an example record on row 3, drop-down lists fed
    from the `Valid Values` sheet, date and number formats on the columns."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = DATA_SHEET
    _sheet_layout(sheet, template_headers())
    example = Completion(
        action=RecordAction.ADD,
        activity_id="123456789",
        learner=Learner("Jane", "Doe", "04/15", "CA", "A123456"),
        completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("2")),
        boards=[BoardPart("ABIM", "123456", Decimal("2"), {"Medical Knowledge": Decimal("2")})],
    )
    _text_row(sheet, completion_to_values(example))
    # The example's date and amounts as typed cells, as in ACCME's own sample rows.
    for header, value in ((F_COMPLETION_DATE, example.completion_date), (F_CME_CREDITS, 2),
                          (F_BOARD_POINTS, 2), (F_CREDIT_TYPE_AMOUNT, 2)):
        cell = sheet[f"{get_column_letter(HEADERS.index(header) + 1)}3"]
        cell.value = value
        cell.number_format = DATE_FORMAT if header in _DATE_COLUMNS else AMOUNT_FORMAT
    last_row = 2 + MAX_RECORDS
    _column_formats(sheet, HEADERS, last_row)
    _add_drop_downs(workbook, sheet, list(HEADERS), last_row)
    workbook.save(path)


REJECTION_GUIDANCE = (
    "Rows ParsDesk or PARS did not accept, with their original columns and the reason in Error Code and "
    "Error Message. Keep this row and the header row; correct the rows (or delete those you do not want "
    "to send) and load this workbook again: the two error columns are ignored when it is read."
)


def write_rejections(
    path: Path | str | BinaryIO, headers: Sequence[str], rows: Sequence[tuple[list[str], int, str]],
    *, message_header: str = F_ERROR_MESSAGE,
) -> None:
    """The rows that failed with their original columns plus `Error Code` and `Error Message`.

    Same guidance/header layout as the template, so the user can fix the rows and load the file again
    (the two error columns are ignored when it is read back). Streamed by app.pars.xlsx_writer: 5,000
    rows take a fraction of a second (bench/bench_rejections.py), and every value is a text cell.
    """
    from app.pars.files import private_output
    from app.pars.xlsx_writer import write_text_sheet

    all_headers = [*headers, F_ERROR_CODE, message_header]
    width = len(headers)
    columns = [(header, _WIDTHS.get(header, max(14, len(header) + 2))) for header in all_headers]
    lines = ([*values[:width], *[""] * (width - len(values)), code, message] for values, code, message in rows)
    # The template's sheet name and layout, so the fixed file can be dropped back in.
    with private_output(path) as handle:  # owner-only: the rows hold dates of birth
        write_text_sheet(handle, DATA_SHEET, columns, lines, guidance=REJECTION_GUIDANCE)


# --------------------------------------------------------------------------- the upload-file route

def write_upload_workbook(path: Path | str, completions: Sequence[Completion]) -> list[list[str]]:
    """A PARS upload file in the template's layout: `Sheet1`, guidance on row 1, ACCME's headers on row 2
    (then ParsDesk's extension columns, Credit ID among them), one record per row from row 3.

    Every cell is text, never a formula. Returns the rows as written (template column order), which the
    caller keeps to recognise PARS's rejection workbook rows later. A record must fit one row (one
    board, at most two credit types): see `fits_one_row`.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from app.pars.files import private_output

    # Write-only mode streams the rows: 5,000 records in a fraction of the time of a normal workbook.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(DATA_SHEET)
    headers = template_headers()
    for index, header in enumerate(HEADERS, start=1):
        dimension = sheet.column_dimensions[get_column_letter(index)]
        dimension.width = _WIDTHS.get(header, max(14, len(header) + 2))
    sheet.freeze_panes = "A3"

    def text(value: str, **style: object) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # a value such as "=1+1" stays text, never a formula
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    sheet.append([text(GUIDANCE, font=Font(italic=True), alignment=Alignment(vertical="top"))])
    fill = PatternFill("solid", fgColor="DDEBF7")
    sheet.append([text(header, font=Font(bold=True), fill=fill) for header in headers])
    written: list[list[str]] = []
    for completion in completions:
        values = [excel_safe(value) for value in completion_to_values(completion)]
        sheet.append([text(value) for value in values])
        written.append(values)
    with private_output(path) as handle:  # owner-only: the rows hold dates of birth
        workbook.save(handle)
    return written


def fits_one_row(completion: Completion) -> bool:
    """Whether a record can be one row of the Excel template (one board, at most two credit types)."""
    if len(completion.boards) > 1:
        return False
    return all(len(board.credit_types) <= len(_CREDIT_TYPE_COLUMNS) for board in completion.boards)


def read_results_workbook(path: Path | str) -> tuple[BatchFile, dict[int, tuple[str, str]]]:
    """A rejection workbook (PARS's, or ParsDesk's own): its records as `read_workbook` reads them, and
    for each sheet row the text of its error code and error description columns (empty when absent)."""
    path = Path(path)
    batch = read_workbook(path)
    return batch, _error_cells(path)


def read_error_columns(path: Path | str) -> dict[int, tuple[str, str]]:
    """Only the error code and description cells of a workbook, by sheet row (empty when it has no such
    columns): enough to tell a dropped learner file from a rejection workbook without reading its
    records. The container is checked first, as `read_workbook` checks it."""
    path = Path(path)
    check_xlsx_container(path)
    return _error_cells(path)


def _error_cells(path: Path) -> dict[int, tuple[str, str]]:
    from python_calamine import CalamineWorkbook

    errors: dict[int, tuple[str, str]] = {}
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        for sheet_index in range(len(workbook.sheet_names)):
            rows = workbook.get_sheet_by_index(sheet_index).to_python(skip_empty_area=False)
            header_index = _find_header_row(rows)
            if header_index is None:
                continue
            columns = {canonical_header(cell_text(value).strip()): column
                       for column, value in enumerate(rows[header_index]) if cell_text(value).strip()}
            code_column, message_column = columns.get(F_ERROR_CODE), columns.get(F_ERROR_MESSAGE)
            if code_column is None and message_column is None:
                break
            for offset, row in enumerate(rows[header_index + 1:], start=header_index + 2):
                code = cell_text(row[code_column]).strip() if code_column is not None and code_column < len(row) else ""
                message = (cell_text(row[message_column]).strip()
                           if message_column is not None and message_column < len(row) else "")
                if code or message:
                    errors[offset] = (code, message)
            break
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the container was checked: only a very odd part fails here
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BatchFileError(f"{path.name}: the error columns could not be read: {first_line}") from None
    return errors
