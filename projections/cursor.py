"""Opaque history cursors.

A cursor names the last entry a page showed by its version in the account's
stream; versions only grow, so pages already served never shift while new
entries arrive. Clients must treat it as opaque, so it is encoded.
"""

from __future__ import annotations

import base64
import binascii


class InvalidCursorError(ValueError):
    """The cursor was not issued by this service."""


_PREFIX = "h1:"


def encode_cursor(version: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{version}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError(f"cursor {cursor!r} is not a cursor this service issued") from None
    if not text.startswith(_PREFIX) or not text[len(_PREFIX) :].isdigit():
        raise InvalidCursorError(f"cursor {cursor!r} is not a cursor this service issued")
    return int(text[len(_PREFIX) :])
