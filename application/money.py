"""Money at the edges: ISO 4217 currencies and decimal strings typed by people.

Inside the ledger money is always integer minor units plus a currency code;
this module is the only place that knows how many digits a currency has.
"""

import re

import iso4217

from domain.credit_account import NO_CURRENCY
from domain.errors import InvalidCommandError
from domain.rules import quoted

# Exponents, grouping and signs other than minus are rejected: a person typing
# "1e3" or "1,000" almost certainly meant something else.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# The longest amount within the ledger's bound, 10**15 minor units, has 16
# digits plus a point; anything much longer, leading zeros included, is a
# mistake, and Python refuses to parse integers of thousands of digits.
_MAX_AMOUNT_LENGTH = 32


def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (USD 2, JPY 0, KWD 3)."""
    try:
        digits = iso4217.Currency(currency).exponent
    except ValueError:
        raise InvalidCommandError(
            f"unknown currency {quoted(currency)}: use an ISO 4217 code such as USD"
        ) from None
    if digits is None:
        # Funds codes such as XAU (gold) have no minor unit and are not money
        # a customer can be invoiced in.
        raise InvalidCommandError(f"currency {currency!r} has no minor unit and cannot hold credits")
    return int(digits)


def check_known_currency(currency: str) -> str:
    exponent(currency)
    return currency


def to_minor(amount: str, currency: str, *, allow_zero: bool = False) -> int:
    """Parse "25.00" into 2500 (USD); reject anything that would lose a digit."""
    digits = exponent(currency)
    text = amount.strip()
    if len(text) > _MAX_AMOUNT_LENGTH:
        raise InvalidCommandError(
            f"amount {quoted(amount)} is too long: at most {_MAX_AMOUNT_LENGTH} characters"
        )
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise InvalidCommandError(f"amount {quoted(amount)} is not a decimal number such as 25.00")
    if text.startswith("-"):
        raise InvalidCommandError(f"amount {quoted(amount)} must not be negative")
    whole, _, fraction = text.partition(".")
    # More places than the currency has is rejected even when they are zeros:
    # "25.000" USD suggests the amount came from a system in another unit.
    if len(fraction) > digits:
        raise InvalidCommandError(
            f"amount {quoted(amount)} has more than {digits} decimal places for {currency}"
        )
    # Whole digits and padded fraction are exact integer arithmetic: no Decimal
    # context, no rounding, no float.
    minor = int(whole + fraction.ljust(digits, "0"))
    if minor == 0 and not allow_zero:
        raise InvalidCommandError(f"amount {quoted(amount)} must be greater than zero")
    return minor


def format_minor(minor: int, currency: str) -> str:
    """2500 USD -> "25.00"; for tables only, never parsed back."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def with_currency(minor: int, currency: str) -> str:
    """2500 USD -> "25.00 USD", for people; a void before its invoice
    restores 0 of no currency (``NO_CURRENCY``), shown as it is."""
    if currency == NO_CURRENCY:
        return f"{minor} {currency}"
    return f"{format_minor(minor, currency)} {currency}"
