"""A stored event's fields, and the event itself, decoded with orjson.

eventsourcing's JSON transcoder parses with the standard library and a hook
called for every object; orjson parses the same bytes several times faster.
The two agree on every document orjson accepts except in numbers: orjson
reads an integer past 64 bits as a float. So a state holding a float, and
anything else the transcoder treats specially (a nested object or list, a
top-level transcoded value, a class with upcasters, text orjson refuses), is
read by the mapper: either way the fields are the same.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent

from application.fast_json import FastJSONTranscoder

_KNOWN_FORMATS = (JSONTranscoder, FastJSONTranscoder)


class StoredFields:
    """The fields a domain event would have, read from its stored state."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        transcoder = mapper.transcoder
        # Only the plain transcoder's format is known here, which the fast
        # one writes byte for byte: a cipher, a compressor or another
        # transcoder (a subclass of these too) leaves every event to the mapper.
        self._names = (
            transcoder.names
            if isinstance(transcoder, JSONTranscoder)
            and type(transcoder) in _KNOWN_FORMATS
            and mapper.cipher is None
            and mapper.compressor is None
            else None
        )

    def of(self, notification: StoredEvent, cls: type) -> dict[str, Any]:
        """The event's fields (upcast when its class says so); raises what the
        mapper would raise for an event it cannot decode."""
        fields = self.fields(notification, cls)
        if fields is None:
            return vars(self._mapper.to_domain_event(notification))
        return fields

    def event(self, stored: StoredEvent, cls: type) -> object:
        """The domain event of ``cls`` the mapper would build from ``stored``."""
        fields = self.fields(stored, cls)
        if fields is None:
            return self._mapper.to_domain_event(stored)
        # As the mapper builds it: the class's instance, its state as is.
        event: object = object.__new__(cls)
        object.__setattr__(event, "__dict__", fields)
        return event

    def fields(self, notification: StoredEvent, cls: type) -> dict[str, Any] | None:
        """The fields of the event of ``cls`` stored as ``notification``, or
        None for a state only the mapper can read."""
        names = self._names
        if names is None or getattr(cls, "class_version", 1) != 1:
            return None
        originator_id = notification.originator_id
        # The mapper converts an id of another type to the class's own.
        if type(originator_id) is not UUID:
            return None
        try:
            state = orjson.loads(notification.state)
        except orjson.JSONDecodeError:
            return None  # the mapper's own parser decides
        if type(state) is not dict or ("_type_" in state and "_data_" in state and len(state) == 2):
            return None
        for name, value in state.items():
            if type(value) is dict:
                decoded = _transcoded(value, names)
                if decoded is _NESTED:
                    return None
                state[name] = decoded
            elif type(value) is list or type(value) is float:
                # orjson reads an integer past 64 bits as a float.
                return None
        state.pop("class_version", None)
        state["originator_id"] = originator_id
        state["originator_version"] = notification.originator_version
        return state


_NESTED = object()


def _transcoded(value: dict[str, Any], names: dict[str, Any]) -> Any:
    """A transcoded value ({"_type_", "_data_"} of text, as every transcoding
    registered by eventsourcing writes) decoded as the transcoder decodes it;
    _NESTED for anything the mapper must read."""
    if len(value) != 2 or "_type_" not in value or "_data_" not in value:
        return _NESTED
    data = value["_data_"]
    if type(data) is not str:
        return _NESTED
    transcoding = names.get(value["_type_"])
    if transcoding is None:
        return _NESTED  # the mapper raises, and the event is set aside
    return transcoding.decode(data)
