"""What the views accept from an event already stored, whatever it holds.

Events recorded before the ledger validated its input may carry text that a
database cannot store, or amounts that are not whole numbers. The event log
keeps them as they are; the views hold text made storable, and refuse to
guess at amounts (the projector sets such an event aside instead).
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import cache
from typing import TypeVar

# Unicode's own stand-in for a character that cannot be represented.
REPLACEMENT = "\ufffd"

# The longest error text kept about an event set aside: enough to diagnose,
# bounded however large the offending value.
MAX_ERROR_CHARS = 1_000

# Amounts are exact at any size, up to what Python will print as decimal
# text (4,300 digits by default): about 3,900 digits, beyond any ledger.
MAX_AMOUNT_BITS = 13_000

C = TypeVar("C")


class UnprojectableEventError(ValueError):
    """An event holds a value the views cannot represent faithfully."""


def storable_text(text: str) -> str:
    """``text`` with every NUL (PostgreSQL text cannot hold one) and every
    lone surrogate (not encodable as UTF-8) replaced by U+FFFD. Deterministic,
    so SQLite and PostgreSQL views hold the same rows; text without them is
    returned unchanged."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii() and _has_surrogate(text):
        text = "".join(REPLACEMENT if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def storable_error(error: BaseException) -> str:
    """One line about ``error`` that any database can store."""
    text = storable_text(f"{type(error).__name__}: {error}")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "\u2026"


def checked(change: C) -> C:
    """The view record with storable text, or UnprojectableEventError when a
    field does not hold what its type says (a float amount, a number as a
    note): views are exact or they are not written."""
    updates: dict[str, object] = {}
    values = vars(change)
    record: type = type(change)
    for name, wanted, optional in _expected(record):
        value = values[name]
        if value is None and optional:
            continue
        # Exact types: bool is a subclass of int, and never an amount.
        if type(value) is not wanted:
            shown = _shown(value)
            raise UnprojectableEventError(f"{name} must be {wanted.__name__}, the event holds {shown}")
        if isinstance(value, int) and value.bit_length() > MAX_AMOUNT_BITS:
            raise UnprojectableEventError(f"{name} has more than {MAX_AMOUNT_BITS} bits")
        if isinstance(value, str):
            clean = storable_text(value)
            if clean is not value:
                updates[name] = clean
    return replace(change, **updates) if updates else change  # type: ignore[type-var]


_TYPES: dict[str, type] = {"int": int, "str": str, "bool": bool}


@cache
def _expected(record: type) -> tuple[tuple[str, type, bool], ...]:
    """(field, exact type, may be None) of a view record class, read once."""
    expected = []
    # Fields that only some entries have last (they come first from a shared
    # base class): an event with several bad values is then reported by the
    # same one as ever.
    for field in sorted(fields(record), key=lambda field: field.kw_only is True):
        # The records' annotations are strings: "int", "str | None", "bool".
        annotation = str(field.type)
        expected.append(
            (field.name, _TYPES[annotation.removesuffix(" | None")], annotation.endswith(" | None"))
        )
    return tuple(expected)


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long for Python to print
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= 80 else text[:79] + "\u2026"
