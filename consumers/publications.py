"""From recorded ledger events to the messages the relay publishes.

Every CreditApplied becomes an InvoiceCreditsApplied settlement, every
CreditRestored an InvoiceCreditsRestored settlement, and every ledger entry
(grant, invoice decision, calling-credit purchase, restore) a ledger event.
The bookkeeping ``Opened`` event is not published: it carries no amount and
no business key; the account's first real event follows it in the same
transaction.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from enum import Enum
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    WrapSerializer,
    WrapValidator,
)

from application.entries import (
    GRANT,
    INVOICE,
    PURCHASE,
    RESTORE,
    EntryEvent,
    EntryKind,
    PublicReader,
    entry_kind,
)
from consumers import contracts
from domain.credit_account import CreditAccount

_LEDGER_EVENTS: dict[EntryKind, type[BaseModel]] = {
    GRANT: contracts.CreditGranted,
    INVOICE: contracts.CreditApplied,
    PURCHASE: contracts.CallingCreditPurchased,
    RESTORE: contracts.CreditRestored,
}
# Entries billing is told about, one settlement each.
_SETTLEMENTS: dict[EntryKind, type[BaseModel]] = {
    INVOICE: contracts.InvoiceCreditsApplied,
    RESTORE: contracts.InvoiceCreditsRestored,
}
# Fields of an outbound message that are not the entry's: the message's own
# type, and the business account id, which only the Opened event carries.
OWN_FIELDS = frozenset({"event_type", "account_id"})


class Channel(Enum):
    SETTLEMENTS = "settlements"
    LEDGER_EVENTS = "ledger-events"


class Publication(NamedTuple):
    """One message to send. A named tuple: built twice per invoice, it costs
    half what a frozen dataclass does."""

    channel: Channel
    key: str
    value: bytes
    event_id: str


class AccountDirectory(Protocol):
    """Finds the business account ids of aggregates (from their Opened events)."""

    def account_ids_of(self, originator_ids: Collection[UUID]) -> Mapping[UUID, str]:
        """All in one round trip: a relay restarted amid thousands of
        accounts must not ask once per stream."""


class Publisher:
    """Translates ledger events in notification order. It learns account ids
    from the Opened events it passes and asks the directory for accounts
    opened before it started."""

    def __init__(self, directory: AccountDirectory, cache_size: int = 100_000) -> None:
        self._directory = directory
        self._cache_size = cache_size
        self._accounts: OrderedDict[UUID, str] = OrderedDict()

    def learn(self, events: Sequence[object], streams: Collection[UUID] = ()) -> None:
        """Ask the directory at once for every stream in ``events`` (and in
        ``streams``) that it cannot name yet and that is not opened among them."""
        opened = {e.originator_id for e in events if isinstance(e, CreditAccount.Opened)}
        known = {e.originator_id for e in events if isinstance(e, CreditAccount.Event)}
        unknown = known.union(streams) - opened - self._accounts.keys()
        if unknown:
            for originator_id, account_id in self._directory.account_ids_of(unknown).items():
                self._remember(originator_id, account_id)

    def publications(self, event: object) -> list[Publication]:
        if isinstance(event, CreditAccount.Opened):
            self._remember(event.originator_id, event.account_id)
            return []
        plan = publishing_plan(type(event))
        if plan is None:
            return []
        assert isinstance(event, EntryEvent)
        read, encoders = plan
        # The entry's values, read once for all of its messages.
        values = read(event)
        account_id = values["account_id"] = self.account_id(event.originator_id)
        public_id = values["event_id"]
        return [
            Publication(channel, account_id, encoder.encode(values), public_id)
            for channel, encoder in encoders
        ]

    def account_id(self, originator_id: UUID) -> str:
        account_id = self._accounts.get(originator_id)
        if account_id is not None:
            # Known, so nothing to evict: only its place in the LRU order moves.
            self._accounts.move_to_end(originator_id)
            return account_id
        account_id = self._directory.account_ids_of([originator_id])[originator_id]
        self._remember(originator_id, account_id)
        return account_id

    def _remember(self, originator_id: UUID, account_id: str) -> None:
        self._accounts[originator_id] = account_id
        self._accounts.move_to_end(originator_id)
        while len(self._accounts) > self._cache_size:
            self._accounts.popitem(last=False)


# What the contract's JSON Schema may say of a field that OutboundEncoder
# checks by hand. Anything else (a new constraint in a contract) is a build
# error here, not a message published unchecked; so is code that validates or
# writes a field, which no schema shows.
_CHECKED_KEYWORDS = frozenset({"type", "minimum", "pattern", "const", "default", "title", "description"})
_FIELD_CODE = (
    AfterValidator,
    BeforeValidator,
    PlainValidator,
    WrapValidator,
    PlainSerializer,
    WrapSerializer,
)
_MODEL_CODE = (
    "validators",
    "field_validators",
    "root_validators",
    "model_validators",
    "field_serializers",
    "model_serializers",
    "computed_fields",
)


def _refuse_unchecked(model: type[BaseModel], properties: dict[str, dict[str, Any]]) -> None:
    """Raise TypeError unless plain type tests decide what ``model`` accepts."""
    if list(properties) != list(model.model_fields):
        raise TypeError(f"{model.__name__}: the schema's fields are not the model's")
    if any(getattr(model.__pydantic_decorators__, kind) for kind in _MODEL_CODE):
        raise TypeError(f"{model.__name__}: its validators or serializers are not checked by hand")
    for name, schema in properties.items():
        if (
            any(isinstance(m, _FIELD_CODE) for m in model.model_fields[name].metadata)
            or not schema.keys() <= _CHECKED_KEYWORDS
            or schema.get("type") not in ("string", "integer")
            or schema.get("minimum", 0) != 0
        ):
            raise TypeError(f"{model.__name__}.{name} is not checked by hand: {schema}")


class FieldChecks:
    """Plain type tests for the fields of one or more outbound models, derived
    from their JSON Schemas: what a value must be for every model to take it."""

    def __init__(
        self,
        texts: Iterable[str],
        patterns: Iterable[tuple[str, re.Pattern[str]]],
        counts: Iterable[str],
        integers: Iterable[str],
    ) -> None:
        # Each name once, in order: a field two models share is tested once.
        self._texts = tuple(dict.fromkeys(texts))
        self._patterns = tuple(dict.fromkeys(patterns))
        self._counts = tuple(dict.fromkeys(counts))
        self._integers = tuple(dict.fromkeys(integers))

    @classmethod
    def of(cls, properties: Mapping[str, Mapping[str, Any]]) -> FieldChecks:
        """The tests a model's JSON Schema properties ask for."""
        typed = [(name, schema) for name, schema in properties.items() if "const" not in schema]
        return cls(
            (n for n, s in typed if s["type"] == "string" and "pattern" not in s),
            ((n, re.compile(s["pattern"])) for n, s in typed if "pattern" in s),
            (n for n, s in typed if s["type"] == "integer" and s.get("minimum") == 0),
            (n for n, s in typed if s["type"] == "integer" and "minimum" not in s),
        )

    @classmethod
    def joined(cls, encoders: Iterable[OutboundEncoder]) -> FieldChecks:
        """The tests of all the encoders' models at once."""
        checks = [encoder.checks for encoder in encoders]
        return cls(
            (n for c in checks for n in c._texts),
            (p for c in checks for p in c._patterns),
            (n for c in checks for n in c._counts),
            (n for c in checks for n in c._integers),
        )

    def renamed(self, keys: Mapping[str, str]) -> FieldChecks:
        """The same tests, of the values under ``keys[name]`` instead of ``name``."""
        return FieldChecks(
            (keys[n] for n in self._texts),
            ((keys[n], p) for n, p in self._patterns),
            (keys[n] for n in self._counts),
            (keys[n] for n in self._integers),
        )

    def allow(self, values: Mapping[str, Any]) -> bool:
        # Strict, as the contract: no bool for an int, no str subclass.
        for name in self._texts:
            if type(values[name]) is not str:
                return False
        for name, pattern in self._patterns:
            value = values[name]
            # fullmatch: Python's $ would also match before a final newline.
            if type(value) is not str or pattern.fullmatch(value) is None:
                return False
        for name in self._counts:
            value = values[name]
            if type(value) is not int or value < 0:
                return False
        return all(type(values[name]) is int for name in self._integers)


class OutboundEncoder:
    """One outbound model's JSON, exactly as pydantic writes it (fields in
    the model's order, compact, UTF-8), without building the model.

    Validating and dumping a model per message was a third of the relay's
    CPU. The values come from our own recorded events, so they are checked
    here with plain type tests derived from the contract's JSON Schema; a
    message these do not clearly allow goes through pydantic as before, which
    refuses it if it is off-contract (an event recorded before the ledger
    checked its input) and otherwise writes it itself.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        properties: dict[str, dict[str, Any]] = model.model_json_schema()["properties"]
        _refuse_unchecked(model, properties)
        self.checks = FieldChecks.of(properties)
        # Every field in place, in order; the constant ones (event_type) filled.
        self._template = {name: schema.get("const") for name, schema in properties.items()}
        self.names = tuple(self._template)
        self.constants = {name: schema["const"] for name, schema in properties.items() if "const" in schema}
        self._fed = tuple(name for name in self.names if name not in self.constants)
        self._feed = tuple_getter(self._fed)

    def encode(self, values: Mapping[str, Any]) -> bytes:
        # Filling a copy of the template keeps the model's field order, and
        # took half the time of merging two dicts.
        message = self._template.copy()
        message.update(zip(self._fed, self._feed(values), strict=True))
        if self.checks.allow(message):
            try:
                return orjson.dumps(message)
            except orjson.JSONEncodeError:  # beyond 64-bit integers, lone surrogates
                pass
        return self.model.model_validate(message).model_dump_json().encode()


def tuple_getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """itemgetter, always answering a tuple."""
    if len(names) == 1:
        only = names[0]
        return lambda values: (values[only],)
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*names)
    return getter


@cache
def _entry_names(model: type[BaseModel]) -> tuple[str, ...]:
    # Once per message model, not once per message.
    return tuple(name for name in model.model_fields if name not in OWN_FIELDS)


@cache
def _encoders(kind: EntryKind) -> tuple[tuple[Channel, OutboundEncoder], ...]:
    """The messages an entry of ``kind`` becomes, in publishing order."""
    ledger_event = (Channel.LEDGER_EVENTS, OutboundEncoder(_LEDGER_EVENTS[kind]))
    settlement = _SETTLEMENTS.get(kind)
    if settlement is None:
        return (ledger_event,)
    return ((Channel.SETTLEMENTS, OutboundEncoder(settlement)), ledger_event)


_Plan = tuple[PublicReader, tuple[tuple[Channel, OutboundEncoder], ...]]
_PLANS: dict[type, _Plan] = {}


def publishing_plan(event_class: type) -> _Plan | None:
    """How events of ``event_class`` are read and written; None for those
    not published."""
    return _PLANS.get(event_class) or _plan(event_class)


def _plan(event_class: type) -> _Plan | None:
    """How events of ``event_class`` are read and written; None for those not published."""
    kind = entry_kind(event_class)
    if kind is None:
        return None
    encoders = _encoders(kind)
    names = [name for _, encoder in encoders for name in _entry_names(encoder.model)]
    plan = _PLANS[event_class] = (
        PublicReader(event_class, tuple(dict.fromkeys([*names, "event_id"]))),
        encoders,
    )
    return plan
