"""The raw shape of the record, exactly as stored, that auditors work from.

A row is a plain tuple for speed (millions are streamed):
``(notification_id, originator_id, originator_version, topic, state, chain_hash)``.
``originator_id`` is the canonical hyphenated UUID text. A chain link whose event
is missing has ``None`` in the four event fields; an event without a chain link
has ``None`` as its hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

RawRow = tuple[int, str | None, int | None, str | None, bytes | None, bytes | None]

# Stored topics of the CreditAccount events: the module path is part of the
# storage schema, so these strings are fixed for the life of the record.
_TOPIC_PREFIX = "domain.credit_account:CreditAccount."
OPENED = _TOPIC_PREFIX + "Opened"
GRANTED = _TOPIC_PREFIX + "CreditGranted"
APPLIED = _TOPIC_PREFIX + "CreditApplied"
PURCHASED = _TOPIC_PREFIX + "CallingCreditPurchased"
RESTORED = _TOPIC_PREFIX + "CreditRestored"


class RawLog(Protocol):
    """Reads the stored record in notification order, page by page."""

    def head(self) -> int:
        """The highest notification id of any event or chain link now stored."""
        ...

    def rows(self, upto: int) -> Iterator[RawRow]:
        """Every event and every chain link up to ``upto``, in notification order."""
        ...
