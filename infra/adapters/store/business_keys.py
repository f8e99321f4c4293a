"""Business keys of stored events, for stores that recorded events before
they recorded keys: derived once from each event's stored fields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic

from domain.credit_account import KEY_OF_EVENT

_BY_TOPIC = {get_topic(cls): key for cls, key in KEY_OF_EVENT.items()}

# Rows of the keys table: the account's stream, the key, the event's version.
KeyRow = tuple[UUID, str, int]


def key_rows(stored: Iterable[tuple[Any, int, str, bytes]]) -> Iterator[KeyRow]:
    """(originator_id, version, topic, state) of stored events, in, and the
    key row of each decision among them, out. The state is eventsourcing's
    JSON, where ids are plain strings at the top level."""
    for originator_id, version, topic, state in stored:
        found = _BY_TOPIC.get(topic)
        if found is not None:
            field, key_of = found
            value = orjson.loads(state)[field]
            yield UUID(str(originator_id)), key_of(value), version
