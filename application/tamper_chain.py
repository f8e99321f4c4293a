"""The tamper-evidence chain: each recorded event's hash covers its predecessor's.

The hash covers the event's position and its stored bytes exactly as written,
so changing, deleting, inserting or reordering any stored event breaks the
chain at that position. Recorders write the chain in the same transaction as
the events; auditors recompute it from the rows alone.
"""

import hashlib
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
