"""eventsourcing's JSON transcoder, writing flat states with orjson.

Every recorded event's state goes through ``JSONTranscoder.encode``: the
standard library's encoder, calling back into Python for each datetime. The
store's hash chain covers the stored bytes, and processes of either version
share one store, so the bytes must not change: orjson writes only what it
writes exactly as that encoder does, and everything else goes the stdlib way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder

# Values orjson writes byte for byte as the standard library's compact encoder
# with ensure_ascii=False: every code point escaped alike (only '"', '\\' and
# the C0 controls, by the same short escapes and \u00XX in lower case), true,
# false, null, decimal integers.
# Exact types only, as a subclass (an enum) is written differently.
_PLAIN = frozenset({str, int, bool, type(None)})


class FastJSONTranscoder(JSONTranscoder):
    """Writes the bytes ``JSONTranscoder`` writes, and reads them as it does."""

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict:
            state = self._flat(obj)
            if state is not None:
                try:
                    return orjson.dumps(state)
                except orjson.JSONEncodeError:
                    # An integer past 64 bits, which the standard library
                    # writes, or a lone surrogate, which it refuses with an
                    # error of its own.
                    pass
        return super().encode(obj)

    def _flat(self, obj: dict[Any, Any]) -> dict[str, Any] | None:
        """``obj`` with each datetime as ``_encode_obj`` writes it, or None if
        anything in it is not for orjson."""
        state = obj
        for key, value in obj.items():
            if type(key) is not str:
                return None
            if type(value) in _PLAIN:
                continue
            if type(value) is not datetime:
                return None
            transcoded = self._datetime(value)
            if transcoded is None:
                return None
            if state is obj:
                state = dict(obj)  # the caller's state stays as it was
            state[key] = transcoded
        return state

    def _datetime(self, value: datetime) -> dict[str, Any] | None:
        # Only what orjson writes exactly as DatetimeAsISO's isoformat() does,
        # in a fraction of its time: the ledger's own timestamps, in UTC.
        # Another zone or another datetime transcoding goes the stdlib way.
        transcoding = self.types.get(datetime)
        if type(transcoding) is not DatetimeAsISO or not (value.tzinfo is None or value.tzinfo is UTC):
            return None
        return {"_type_": transcoding.name, "_data_": value}
