"""Guards shared by every command: they raise before any event is triggered."""

import re

from domain.errors import InvalidCommandError

# Business keys travel through Kafka headers, URLs and CSV exports; keeping
# them printable and bounded means none of those needs escaping rules.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}")
_CURRENCY = re.compile(r"[A-Z]{3}")

GRANT_REASONS = ("compensation", "refund", "promotion", "goodwill")

# Every amount must fit a signed 64-bit integer in every system billing talks
# to; 10**15 minor units is ten trillion dollars, far beyond any real invoice.
MAX_MINOR_UNITS = 10**15


def check_key(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidCommandError(
            f"{kind} must be 1-128 characters of letters, digits and ._:@/+- "
            f"starting with a letter or digit, got {value!r}"
        )


def check_currency(currency: str) -> None:
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidCommandError(
            f"currency must be an ISO 4217 code such as USD, got {currency!r}"
        )


def check_minor_units(name: str, value: int, *, allow_zero: bool) -> None:
    # bool is an int subclass; True must never pass as one cent.
    if type(value) is not int:
        raise InvalidCommandError(f"{name} must be an integer number of minor units")
    if value < 0 or (value == 0 and not allow_zero):
        floor = "zero or more" if allow_zero else "greater than zero"
        raise InvalidCommandError(f"{name} must be {floor}, got {value}")
    if value > MAX_MINOR_UNITS:
        raise InvalidCommandError(f"{name} must be at most {MAX_MINOR_UNITS}, got {value}")


def check_reason(reason: str) -> None:
    if reason not in GRANT_REASONS:
        raise InvalidCommandError(
            f"reason must be one of {', '.join(GRANT_REASONS)}, got {reason!r}"
        )


def check_note(note: str) -> None:
    if not isinstance(note, str) or len(note) > 1000:
        raise InvalidCommandError("note must be text of at most 1000 characters")
