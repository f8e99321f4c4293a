"""Money at the edges: ISO 4217 currencies and decimal strings typed by people.

Inside the ledger money is always integer minor units plus a currency code;
this module is the only place that knows how many digits a currency has.
"""

import re
from decimal import Decimal

import iso4217

from domain.errors import InvalidCommandError

# Exponents, grouping and signs other than minus are rejected: a person typing
# "1e3" or "1,000" almost certainly meant something else.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (USD 2, JPY 0, KWD 3)."""
    try:
        digits = iso4217.Currency(currency).exponent
    except ValueError:
        raise InvalidCommandError(f"unknown currency {currency!r}: use an ISO 4217 code such as USD") from None
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
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise InvalidCommandError(f"amount {amount!r} is not a decimal number such as 25.00")
    minor = Decimal(text).scaleb(digits)
    if minor != minor.to_integral_value():
        raise InvalidCommandError(
            f"amount {amount!r} has more than {digits} decimal places for {currency}"
        )
    if minor < 0 or (minor == 0 and not allow_zero):
        floor = "zero or more" if allow_zero else "greater than zero"
        raise InvalidCommandError(f"amount {amount!r} must be {floor}")
    return int(minor)


def format_minor(minor: int, currency: str) -> str:
    """2500 USD -> "25.00"; for tables only, never parsed back."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"
