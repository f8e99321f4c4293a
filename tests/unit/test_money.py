"""People type decimal strings; the ledger keeps integer minor units per ISO 4217."""

from __future__ import annotations

import pytest

from application.money import exponent, format_minor, to_minor
from domain.errors import InvalidCommandError


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("25.00", "USD", 2500),
        ("25", "USD", 2500),
        ("25.5", "USD", 2550),
        ("0.01", "USD", 1),
        ("100", "JPY", 100),
        ("1.234", "KWD", 1234),
        ("0.5", "KWD", 500),
        ("7.10", "EUR", 710),
        ("007.10", "EUR", 710),
    ],
)
def test_a_decimal_string_becomes_minor_units_by_the_currency_exponent(
    amount: str, currency: str, minor: int
) -> None:
    # given a person typing an amount, when it is parsed
    parsed = to_minor(amount, currency)
    # then it is the exact integer number of minor units
    assert parsed == minor
    assert type(parsed) is int


def test_exponents_come_from_iso_4217() -> None:
    assert (exponent("USD"), exponent("JPY"), exponent("KWD")) == (2, 0, 3)


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("1.5", "JPY", "decimal places"),
        ("25.001", "USD", "decimal places"),
        ("25.000", "USD", "decimal places"),
        ("1.2345", "KWD", "decimal places"),
        ("0", "USD", "greater than zero"),
        ("0.00", "USD", "greater than zero"),
        ("-5.00", "USD", "negative"),
        ("-0", "USD", "negative"),
        ("abc", "USD", "not a decimal"),
        ("", "USD", "not a decimal"),
        ("1e3", "USD", "not a decimal"),
        ("1,000", "USD", "not a decimal"),
        ("+5", "USD", "not a decimal"),
        ("5.", "USD", "not a decimal"),
        (".5", "USD", "not a decimal"),
        ("NaN", "USD", "not a decimal"),
        ("Infinity", "USD", "not a decimal"),
        ("١٢", "USD", "not a decimal"),
        ("9" * 5000, "USD", "too long"),
        ("0" * 5000 + "1", "USD", "too long"),
        ("0" * 40 + "1.00", "USD", "too long"),
        ("10", "XYZ", "unknown currency"),
        ("10", "usd", "unknown currency"),
        ("10", "XAU", "no minor unit"),
    ],
)
def test_amounts_that_would_lose_or_invent_a_digit_are_rejected(amount: str, currency: str, why: str) -> None:
    # given an amount a person should not be able to type, when it is parsed
    with pytest.raises(InvalidCommandError) as raised:
        to_minor(amount, currency)
    # then the error says why in words
    assert why in str(raised.value)


def test_a_zero_amount_is_valid_only_where_allowed_such_as_an_invoice_total() -> None:
    assert to_minor("0", "USD", allow_zero=True) == 0
    assert to_minor("0.00", "USD", allow_zero=True) == 0
    with pytest.raises(InvalidCommandError):
        to_minor("-0.00", "USD", allow_zero=True)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (2500, "USD", "25.00"),
        (1, "USD", "0.01"),
        (100, "JPY", "100"),
        (1234, "KWD", "1.234"),
        (0, "EUR", "0.00"),
    ],
)
def test_minor_units_format_back_to_the_decimal_a_person_reads(minor: int, currency: str, text: str) -> None:
    assert format_minor(minor, currency) == text
    assert to_minor(text, currency, allow_zero=True) == minor


def test_an_over_long_amount_is_refused_without_quoting_all_of_it() -> None:
    # given thousands of leading zeros, which Python's int() would refuse to parse
    amount = "0" * 10_000 + "5"
    # when it is parsed, then the error is the ledger's own, and short
    with pytest.raises(InvalidCommandError) as raised:
        to_minor(amount, "USD")
    assert len(str(raised.value)) < 200


def test_the_largest_amount_within_the_ledger_bound_still_parses() -> None:
    assert to_minor("10000000000000.00", "USD") == 10**15
    assert to_minor("1000000000000000", "JPY") == 10**15
