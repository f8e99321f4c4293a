"""The relay's messages, written straight from the stored events' fields.

The relay reads every recorded event once and writes one or two messages for
each. Building the domain event, reading it through ``PublicReader`` and then
filling each message's fields from those values, a Python step per field each
time, was about a quarter of the relay's CPU per event, kafka-python's
``send`` half. Here an entry event's stored fields (``StoredFields``: the same
decoding, without the event object) go into each message through one getter
per message, after the same checks (``FieldChecks``). What this does not vouch
for goes the general way, through the domain event and
``Publisher.publications``: events of other classes, states ``StoredFields``
leaves to the mapper, values the checks do not clearly allow, and what orjson
would write otherwise than pydantic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from application.entries import ENTRY_CLASSES, event_id, rfc3339
from application.stored_fields import StoredFields
from consumers.publications import (
    Channel,
    FieldChecks,
    Publication,
    Publisher,
    publishing_plan,
    tuple_getter,
)

# Keys of the values computed per event, beside its stored attributes (no
# attribute name starts with "@").
_EVENT_ID = "@event_id"
_ACCOUNT_ID = "@account_id"

_Message = tuple[Channel, tuple[str, ...], Callable[[Mapping[str, Any]], tuple[Any, ...]]]


class EntryWriter:
    """Every message of one entry event class, from the event's stored fields."""

    def __init__(self, event_class: type) -> None:
        plan = publishing_plan(event_class)
        assert plan is not None, f"{event_class.__name__} is not published"
        reader, encoders = plan
        sources = reader.sources
        # Public name -> the key of its value among the event's fields.
        keys = {**sources.attributes, **dict.fromkeys(sources.event_ids, _EVENT_ID)}
        keys["account_id"] = _ACCOUNT_ID
        keys.update({name: f"@{name}" for name in sources.constants})
        self._constants = {f"@{name}": value for name, value in sources.constants.items()}
        # The attributes shown, times among them, which are shown as text.
        self._shown = tuple(dict.fromkeys(sources.attributes.values()))
        self._checks = FieldChecks.joined(encoder for _, encoder in encoders).renamed(keys)
        self._messages: list[_Message] = []
        for channel, encoder in encoders:
            # A message's own constants (its event_type) are among the fields too.
            own = {name: f"@{encoder.model.__name__}.{name}" for name in encoder.constants}
            self._constants.update({own[name]: value for name, value in encoder.constants.items()})
            message_keys = [own.get(name) or keys[name] for name in encoder.names]
            self._messages.append((channel, encoder.names, tuple_getter(message_keys)))

    def publications(self, fields: dict[str, Any], account_id: str) -> list[Publication] | None:
        """The messages (``fields`` is updated on the way), or None where the
        general way must decide."""
        try:
            for attribute in self._shown:
                value = fields[attribute]
                if isinstance(value, datetime):
                    fields[attribute] = rfc3339(value)
        except KeyError:  # a state without a field its class has
            return None
        public_id = fields[_EVENT_ID] = event_id(fields["originator_id"], fields["originator_version"])
        fields[_ACCOUNT_ID] = account_id
        fields.update(self._constants)
        if not self._checks.allow(fields):
            return None
        try:
            return [
                Publication(channel, account_id, _json(names, get(fields)), public_id)
                for channel, names, get in self._messages
            ]
        except orjson.JSONEncodeError:  # beyond 64-bit integers, lone surrogates
            return None


def _json(names: tuple[str, ...], values: tuple[Any, ...]) -> bytes:
    return orjson.dumps(dict(zip(names, values, strict=True)))


class StoredPublisher:
    """``Publisher`` for a batch of stored events, in notification order."""

    def __init__(
        self, publisher: Publisher, fields: StoredFields, decode: Callable[[StoredEvent], object]
    ) -> None:
        self._publisher = publisher
        self._fields = fields
        self._decode = decode
        self._writers = {get_topic(cls): (cls, EntryWriter(cls)) for cls in ENTRY_CLASSES}

    def publications(self, batch: Sequence[StoredEvent]) -> list[Publication]:
        writers = self._writers
        # Events of other classes (Opened above all) are decoded, and every
        # stream's account learnt, before the first message is written.
        decoded = [None if stored.topic in writers else self._decode(stored) for stored in batch]
        self._publisher.learn(
            [event for event in decoded if event is not None],
            {s.originator_id for s in batch if s.topic in writers and isinstance(s.originator_id, UUID)},
        )
        publications: list[Publication] = []
        for stored, event in zip(batch, decoded, strict=True):
            if event is None:
                written = self._written(stored, *writers[stored.topic])
                if written is not None:
                    publications.extend(written)
                    continue
                event = self._decode(stored)
            publications.extend(self._publisher.publications(event))
        return publications

    def _written(self, stored: StoredEvent, cls: type, writer: EntryWriter) -> list[Publication] | None:
        fields = self._fields.fields(stored, cls)
        if fields is None:
            return None
        return writer.publications(fields, self._publisher.account_id(fields["originator_id"]))
