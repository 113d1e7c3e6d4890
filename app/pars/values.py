"""Parsing and formatting of the plain values PARS exchanges: dates, credit amounts, birth dates.

Every reader (entry form, Excel row, XML element) uses these, so "07/15/2026" typed in the form and
"07-15-2026" in a spreadsheet become the same `date`. They return None when the text is not a valid
value; the caller keeps the original text so validation can say what was wrong with it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

# PARS writes dates as MM-DD-YYYY; people and spreadsheets also write MM/DD/YYYY or ISO YYYY-MM-DD.
_US_DATE = re.compile(r"(\d{1,2})([-/])(\d{1,2})\2(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# An ISO date may carry a midnight time part (XML dateTime, Excel text exports); the date part counts.
_ISO_TIME_SUFFIX = re.compile(r"[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_BIRTH_DATE = re.compile(r"(\d{1,2})[-/](\d{1,2})(?:[-/](\d{4}))?")

QUARTER = Decimal("0.25")
# No credit or point amount comes near this; above it a value is a typo or an attack (1E+30), and
# Decimal arithmetic on it would overflow the context's precision.
MAX_AMOUNT = Decimal("9999.75")
# A leap year, so that 02/29 counts as a real month/day for a birth date.
_LEAP_YEAR = 2000


def parse_pars_date(value: object) -> date | None:
    """A date from MM-DD-YYYY, MM/DD/YYYY or YYYY-MM-DD text (or a date/datetime); None if invalid."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _US_DATE.fullmatch(text)
    if match:
        month, day, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
    else:
        match = _ISO_DATE.match(text)
        if not match:
            return None
        rest = text[match.end():]
        if rest and not _ISO_TIME_SUFFIX.fullmatch(rest):
            return None
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    try:
        return date(year, month, day)
    except ValueError:
        return None


def format_pars_date(value: date) -> str:
    """The MM-DD-YYYY text PARS expects (no time part: a time would shift across time zones)."""
    return f"{value.month:02d}-{value.day:02d}-{value.year:04d}"


def parse_amount(value: object) -> Decimal | None:
    """A credit/points amount as Decimal from text or a number; None if it is not a finite number.

    Negative and non-quarter values are returned as they are: judging them is validation's job (673/675).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Through str() so that an Excel cell's 1.25 stays 1.25 and not its binary expansion.
        amount = Decimal(str(value))
        return amount if amount.is_finite() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _AMOUNT.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def is_quarter_step(amount: Decimal) -> bool:
    """True when the amount ends in .00, .25, .50 or .75 as PARS requires (675).

    Never raises: `amount % QUARTER` would (InvalidOperation) for an amount with more than 28 digits."""
    if not amount.is_finite():
        return False
    quarters = amount * 4
    return quarters == quarters.to_integral_value()


def format_amount(amount: Decimal) -> str:
    """An amount as people write it: "1.25", "2", "0.5" (no trailing zeros, no exponent)."""
    return format(amount.normalize(), "f")


def normalize_birth_date(value: object) -> str | None:
    """PARS's "MM/DD" from "3/7", "03/07", "03-07", "03/07/1970" or a date; None if not a real month/day."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.month:02d}/{value.day:02d}"
    if not isinstance(value, str):
        return None
    match = _BIRTH_DATE.fullmatch(value.strip())
    if not match:
        return None
    month, day = int(match.group(1)), int(match.group(2))
    year = int(match.group(3)) if match.group(3) else _LEAP_YEAR
    try:
        date(year, month, day)
    except ValueError:
        return None
    return f"{month:02d}/{day:02d}"


def npi_check_digit(first_nine: str) -> str:
    """The NPI's tenth digit: the Luhn check digit over the prefix 80840 and the first nine digits."""
    total = 0
    # from the right of the 14-digit payload, double every first, third, ... digit (the check digit's neighbours)
    for position, char in enumerate(reversed("80840" + first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


# ------------------------------------------------------------------------------ text that may not pass

# Characters no field of a learner record or an activity may hold. They are invisible or reorder
# what is shown (so a name would not read as it is sent), or they cannot travel in XML at all:
# C0 and C1 controls (Excel's _x001B_ escapes arrive here decoded), bidirectional overrides,
# isolates and marks, zero-width characters and the byte-order mark, line and paragraph separators,
# the replacement character left by a misread encoding, non-characters and lone surrogates.
_REFUSED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
    "\ufff9-\ufffb\ufffd-\uffff\ud800-\udfff]"
)


def _character_kind(char: str) -> str:
    point = ord(char)
    if point < 0x20 or 0x7F <= point <= 0x9F:
        return "a control character"
    if point in (0x061C, 0x200E, 0x200F) or 0x202A <= point <= 0x202E or 0x2066 <= point <= 0x2069:
        return "an invisible text-direction character"
    if 0x200B <= point <= 0x200D or 0x2060 <= point <= 0x2065 or point == 0xFEFF:
        return "a zero-width (invisible) character"
    if point in (0x2028, 0x2029):
        return "a line break"
    if point == 0xFFFD:
        return "a replacement character (left where the file's encoding was misread)"
    return "a character that is not text"


def refused_character(text: str) -> str | None:
    """Why `text` cannot be used as it is (which character, where), or None when it is clean.

    The text itself is not repeated: it may be personal data, and it is what cannot be shown."""
    match = _REFUSED.search(text)
    if match is None:
        return None
    char = match.group()
    return f"{_character_kind(char)} (U+{ord(char):04X}) at position {match.start() + 1}"


def shown(value: object, limit: int = 40) -> str:
    """A value as a message may quote it: refused characters as visible U+XXXX codes, and long text
    cut to `limit` characters with an ellipsis. Messages go to terminals, logs, Excel cells and XML."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    if _REFUSED.search(text):
        text = _REFUSED.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)
    return text


def excel_safe(text: str) -> str:
    """Text an .xlsx cell can hold: characters XML 1.0 forbids (most C0 controls, lone surrogates,
    U+FFFE/U+FFFF) become visible <U+XXXX> codes, so a rejection workbook or export can still show
    the row that holds them instead of failing to save."""
    return _XML_ILLEGAL.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def is_excel_safe(text: str) -> bool:
    """True when `text` holds nothing an .xlsx cell cannot (see excel_safe)."""
    return _XML_ILLEGAL.search(text) is None
