"""The tamper-evidence chain: each recorded event's hash covers its predecessor's.

The hash covers the event's position and its stored bytes exactly as written,
so changing, deleting, inserting or reordering any stored event breaks the
chain at that position. Recorders write the chain in the same transaction as
the events; auditors recompute it from the rows alone.
"""

import hashlib
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

GENESIS = bytes(32)


def link(
    previous: bytes,
    notification_id: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    digest = hashlib.sha256(previous)
    # Length-prefixed fields, so no two different rows can hash alike by
    # moving bytes from one field into the next.
    for part in (
        notification_id.to_bytes(8, "big"),
        str(originator_id).encode(),
        originator_version.to_bytes(8, "big"),
        topic.encode(),
        state,
    ):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.digest()


class StoredRow(Protocol):
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


def links(previous: bytes, notification_ids: Sequence[int], rows: Sequence[StoredRow]) -> list[bytes]:
    """The chain hashes of consecutive rows, continuing from ``previous``."""
    hashes = []
    for notification_id, row in zip(notification_ids, rows, strict=True):
        previous = link(
            previous, notification_id, row.originator_id, row.originator_version, row.topic, row.state
        )
        hashes.append(previous)
    return hashes
