"""Dates, amounts and birth dates typed or read from files become the same values everywhere."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from app.pars.values import (
    format_amount,
    format_pars_date,
    is_quarter_step,
    normalize_birth_date,
    parse_amount,
    parse_pars_date,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("07-15-2026", date(2026, 7, 15)),
        ("07/15/2026", date(2026, 7, 15)),
        ("7/5/2026", date(2026, 7, 5)),
        (" 07-15-2026 ", date(2026, 7, 15)),
        ("2026-07-15", date(2026, 7, 15)),
        ("2026-07-15T00:00:00", date(2026, 7, 15)),
        ("2026-07-15 00:00:00", date(2026, 7, 15)),
        ("2026-07-15T00:00:00Z", date(2026, 7, 15)),
        ("02-29-2028", date(2028, 2, 29)),
        (date(2026, 1, 2), date(2026, 1, 2)),
        (datetime(2026, 1, 2, 13, 45), date(2026, 1, 2)),
    ],
)
def test_parse_pars_date_accepts_the_usual_spellings(text, expected):
    assert parse_pars_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "13-45-2026", "02-29-2027", "07-15-26", "07/15-2026", "2026/07/15", "July 15 2026",
     "2026-07-15x", "2026-02-30", None, 20260715],
)
def test_parse_pars_date_rejects_what_is_not_a_real_date(text):
    assert parse_pars_date(text) is None


def test_format_pars_date_is_mm_dd_yyyy():
    assert format_pars_date(date(2026, 3, 7)) == "03-07-2026"


def test_format_and_parse_round_trip():
    day = date(2025, 12, 31)
    assert parse_pars_date(format_pars_date(day)) == day


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1.25", Decimal("1.25")),
        (" 2 ", Decimal("2")),
        (".5", Decimal("0.5")),
        ("-1", Decimal("-1")),
        (1.25, Decimal("1.25")),
        (3, Decimal("3")),
        (Decimal("0.75"), Decimal("0.75")),
        (0.1 + 0.2, Decimal("0.30000000000000004")),
    ],
)
def test_parse_amount_reads_numbers(value, expected):
    assert parse_amount(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "1,5", "1.2.3", "NaN", "Infinity", "1e3", None, True,
                                   float("nan"), Decimal("NaN")])
def test_parse_amount_rejects_non_numbers(value):
    assert parse_amount(value) is None


@pytest.mark.parametrize("amount, ok", [("0", True), ("1.25", True), ("2.5", True), ("0.75", True),
                                        ("1.3", False), ("0.1", False), ("1.255", False)])
def test_quarter_steps(amount, ok):
    assert is_quarter_step(Decimal(amount)) is ok


@pytest.mark.parametrize("amount, text", [("1.250", "1.25"), ("2.00", "2"), ("10", "10"), ("0.50", "0.5")])
def test_format_amount_drops_trailing_zeros(amount, text):
    assert format_amount(Decimal(amount)) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3/7", "03/07"),
        ("03/07", "03/07"),
        ("03-07", "03/07"),
        (" 12/31 ", "12/31"),
        ("02/29", "02/29"),
        ("03/07/1970", "03/07"),
        (date(1970, 3, 7), "03/07"),
    ],
)
def test_normalize_birth_date(text, expected):
    assert normalize_birth_date(text) == expected


@pytest.mark.parametrize("text", ["02/30", "13/01", "00/10", "04/31", "0307", "", "March 7", None,
                                  "02/29/1971"])
def test_normalize_birth_date_rejects_impossible_days(text):
    assert normalize_birth_date(text) is None


@pytest.mark.parametrize(("first_nine", "digit"), [("123456789", "3"), ("104821300", None)])
def test_npi_check_digit_is_the_luhn_digit_over_the_80840_prefix(first_nine, digit):
    from app.pars.validation import is_valid_npi
    from app.pars.values import npi_check_digit

    check = npi_check_digit(first_nine)
    if digit is not None:
        assert check == digit  # CMS's published example: 123456789 -> 1234567893
    assert is_valid_npi(first_nine + check)
    assert not is_valid_npi(first_nine + str((int(check) + 1) % 10))
