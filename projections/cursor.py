"""Opaque history cursors.

A cursor names the last entry a page showed by its version in the account's
stream; versions only grow, so pages already served never shift while new
entries arrive. Clients must treat it as opaque, so it is encoded.

Cursors come back from clients, so decoding trusts nothing: a forged one is
an InvalidCursorError, never an exception of some other kind.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projections.changes import HistoryRow
    from projections.ports import ViewStore


class InvalidCursorError(ValueError):
    """The cursor was not issued by this service."""


_PREFIX = "h1:"
# Stream versions are positive and stored as signed 64-bit integers.
MAX_VERSION = 2**63 - 1
# ASCII digits only: str.isdigit() and int() also take other scripts' digits.
_VERSION = re.compile(r"[0-9]{1,19}")
# The longest cursor this service issues is 30 characters.
MAX_CURSOR_CHARS = 64


def encode_cursor(version: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{version}".encode()).decode().rstrip("=")


def _refuse(cursor: str) -> InvalidCursorError:
    shown = cursor if len(cursor) <= MAX_CURSOR_CHARS else cursor[:MAX_CURSOR_CHARS] + "…"
    return InvalidCursorError(f"cursor {shown!r} is not a cursor this service issued")


def decode_cursor(cursor: str) -> int:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _refuse(cursor)
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _refuse(cursor) from None
    digits = text.removeprefix(_PREFIX)
    if digits == text or not _VERSION.fullmatch(digits) or not 0 < int(digits) <= MAX_VERSION:
        raise _refuse(cursor)
    return int(digits)


def history_page(
    store: ViewStore, account_uuid: str, limit: int, cursor: str | None
) -> tuple[list[HistoryRow], str | None]:
    """One page of an account's history, newest first, and the cursor of the
    next page (None on the last): one row more than the page says whether
    there is one."""
    before = decode_cursor(cursor) if cursor else None
    rows = store.history(account_uuid, limit + 1, before)
    page = list(rows[:limit])
    return page, encode_cursor(page[-1].version) if len(rows) > limit else None
