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
    """True when the amount ends in .00, .25, .50 or .75 as PARS requires (675)."""
    return amount % QUARTER == 0


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
