"""Guards shared by every command: they raise before any event is triggered.

Text enters the ledger from HTTP, the command line and Kafka; every edge
checks it with these same functions, so one definition of acceptable text
holds everywhere.
"""

import re
import unicodedata
from typing import Literal, get_args

from domain.errors import InvalidCommandError

# Business keys travel through Kafka headers, URLs and CSV exports; keeping
# them printable and bounded means none of those needs escaping rules.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}")
# "." and ".." as path segments: curl and browsers rewrite such a URL before
# sending it, so an account id holding one could never be looked up over HTTP.
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")
_CURRENCY = re.compile(r"[A-Z]{3}")

# The one definition of grant reasons: the HTTP model takes the type, the
# command line and the check below the values.
GrantReason = Literal["compensation", "refund", "promotion", "goodwill"]
GRANT_REASONS: tuple[str, ...] = get_args(GrantReason)

# Every amount must fit a signed 64-bit integer in every system billing talks
# to; 10**15 minor units is ten trillion dollars, far beyond any real invoice.
MAX_MINOR_UNITS = 10**15
# A balance is bounded the same way, so a sum of a few balances, and every
# total a reader computes from them, stays far from 64-bit overflow.
MAX_BALANCE_MINOR = 10**15

NOTE_MAX_LENGTH = 1000
# Errors quote what they refused, cut to this many characters: a hostile
# 10,000-character id must not come back as a 10,000-character message.
_QUOTED_MAX = 60


def quoted(value: object) -> str:
    """``repr`` of a refused value, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= _QUOTED_MAX else f"{text[: _QUOTED_MAX - 5]}...{text[-2:]}"


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is.

    Acceptable text is valid Unicode (no lone surrogate, which no UTF-8
    database or JSON encoder can store) without control characters (NUL
    among them, which PostgreSQL cannot store in text at all).
    """
    # Printable ASCII, nearly every id and note, holds neither; it is
    # checked at C speed before any character is looked at one by one.
    if value.isascii() and value.isprintable():
        return None
    for character in value:
        category = unicodedata.category(character)
        if category == "Cs":
            return "must be valid Unicode (it holds a lone surrogate)"
        if category == "Cc":
            return f"must not contain control characters (found U+{ord(character):04X})"
    return None


def check_text(name: str, value: str, *, max_length: int) -> None:
    if not isinstance(value, str):
        raise InvalidCommandError(f"{name} must be text")
    if len(value) > max_length:
        raise InvalidCommandError(f"{name} must be at most {max_length} characters, got {len(value)}")
    problem = text_problem(value)
    if problem:
        raise InvalidCommandError(f"{name} {problem}")


def check_key(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidCommandError(
            f"{kind} must be 1-128 characters of letters, digits and ._:@/+- "
            f"starting with a letter or digit, got {quoted(value)}"
        )
    if _DOT_SEGMENT.search(value):
        raise InvalidCommandError(f"{kind} must not have '.' or '..' as a path segment, got {quoted(value)}")


def check_currency(currency: str) -> None:
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidCommandError(f"currency must be an ISO 4217 code such as USD, got {quoted(currency)}")


def check_minor_units(name: str, value: int, *, allow_zero: bool) -> None:
    # bool is an int subclass; True must never pass as one cent.
    if type(value) is not int:
        raise InvalidCommandError(f"{name} must be an integer number of minor units")
    if value < 0 or (value == 0 and not allow_zero):
        floor = "zero or more" if allow_zero else "greater than zero"
        raise InvalidCommandError(f"{name} must be {floor}, got {value}")
    if value > MAX_MINOR_UNITS:
        raise InvalidCommandError(f"{name} must be at most {MAX_MINOR_UNITS}, got {value}")


def check_balance_bound(currency: str, balance_minor: int, amount_minor: int) -> None:
    if balance_minor + amount_minor > MAX_BALANCE_MINOR:
        raise InvalidCommandError(
            f"a grant of {amount_minor} would take the {currency} balance ({balance_minor}) "
            f"past the limit of {MAX_BALANCE_MINOR} minor units"
        )


def check_reason(reason: str) -> None:
    if reason not in GRANT_REASONS:
        raise InvalidCommandError(f"reason must be one of {', '.join(GRANT_REASONS)}, got {quoted(reason)}")


def check_note(note: str) -> None:
    check_text("note", note, max_length=NOTE_MAX_LENGTH)
