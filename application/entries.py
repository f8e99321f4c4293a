"""One typed ledger entry per recorded event, and the public names of its fields.

Results, history lines, Kafka messages, view rows and statements all show the
same few facts about an event: what kind of entry it is, its business key,
the amounts, the balance after, when, and which event. They read them from a
``LedgerEntry``, built by ``ledger_entry`` alone, and name them through
``PUBLIC_NAMES``, so a new field or a renamed one is changed here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha1
from operator import attrgetter
from typing import Any, Literal, overload
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic

from domain.credit_account import CreditAccount

_EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:promotional-credits:event")
# The namespace's part of every event id's SHA-1, hashed once.
_EVENT_ID_HASH = sha1(_EVENT_NAMESPACE.bytes, usedforsecurity=False)
# The RFC 4122 variant bits over a hex digit's two low bits.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}

EntryKind = Literal["grant", "invoice", "calling_credit_purchase", "restore"]
GRANT: EntryKind = "grant"
INVOICE: EntryKind = "invoice"
PURCHASE: EntryKind = "calling_credit_purchase"
RESTORE: EntryKind = "restore"
# Kinds that add to the balance; the others take from it.
CREDITING: frozenset[EntryKind] = frozenset({GRANT, RESTORE})

EntryEvent = (
    CreditAccount.CreditGranted
    | CreditAccount.CreditApplied
    | CreditAccount.CallingCreditPurchased
    | CreditAccount.CreditRestored
)


def event_id(originator_id: UUID | str, originator_version: int) -> str:
    """A recorded event's public id: stable, so republishing keeps it.

    It is ``uuid5(_EVENT_NAMESPACE, "<originator id>:<version>")``, computed
    without building UUID objects: every settlement, published event and
    history row needs one, and uuid5 cost more than deciding the invoice.
    The id may be given as text, as the views read it.
    """
    digest = _EVENT_ID_HASH.copy()
    digest.update(f"{originator_id}:{originator_version}".encode())
    hex_ = digest.hexdigest()
    # Version 5 in the thirteenth digit, the variant in the seventeenth.
    return f"{hex_[:8]}-{hex_[8:12]}-5{hex_[13:16]}-{_VARIANT[hex_[16]]}{hex_[17:20]}-{hex_[20:32]}"


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EventShape:
    """Where one event class keeps what its ledger entry needs.

    Readers of the raw stored record (the auditor's replay) use the same
    names, so the stored field names are spelled here only.
    """

    kind: EntryKind
    # The business key, which is also its public name.
    key: str
    # What the entry moves: granted, applied to the invoice, used, or restored.
    amount: str
    # What was charged against the balance: the invoice total or the price
    # (None for what adds to the balance).
    charge: str | None
    # Fields the event and the entry share by name, in history order.
    extras: tuple[str, ...]


_SHAPES: dict[type[EntryEvent], EventShape] = {
    CreditAccount.CreditGranted: EventShape(GRANT, "grant_id", "amount_minor", None, ("reason", "note")),
    CreditAccount.CreditApplied: EventShape(
        INVOICE,
        "invoice_id",
        "credits_applied_minor",
        "invoice_total_minor",
        ("invoice_total_minor", "amount_due_minor"),
    ),
    CreditAccount.CallingCreditPurchased: EventShape(
        PURCHASE, "purchase_id", "credits_used_minor", "price_minor", ("price_minor", "amount_due_minor")
    ),
    CreditAccount.CreditRestored: EventShape(RESTORE, "invoice_id", "credits_restored_minor", None, ()),
}
SHAPES_BY_KIND: dict[EntryKind, EventShape] = {shape.kind: shape for shape in _SHAPES.values()}
# The event classes that record ledger entries.
ENTRY_CLASSES: tuple[type[EntryEvent], ...] = tuple(_SHAPES)
# The stored topic is the event class's module path (see domain.credit_account).
SHAPES_BY_TOPIC: dict[str, EventShape] = {get_topic(cls): shape for cls, shape in _SHAPES.items()}


@dataclass(frozen=True, kw_only=True)
class KindAmounts:
    """What only some kinds of entry have, None in the others: shared by the
    entry and every record that stores one (the history view's rows)."""

    invoice_total_minor: int | None = None
    amount_due_minor: int | None = None
    price_minor: int | None = None
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class LedgerEntry(KindAmounts):
    """One grant, invoice decision, calling-credit purchase or restore, as every reader sees it."""

    kind: EntryKind
    key: str
    currency: str
    # Unsigned: the credits granted, applied or used (see change_minor).
    amount_minor: int
    balance_after_minor: int
    occurred_at: datetime
    event_id: str
    account_uuid: UUID
    account_version: int

    @property
    def shape(self) -> EventShape:
        return SHAPES_BY_KIND[self.kind]

    @property
    def change_minor(self) -> int:
        """Signed change to the balance: + granted or restored, - applied or used."""
        return self.amount_minor if self.kind in CREDITING else -self.amount_minor

    def public(self, names: Iterable[str]) -> dict[str, Any]:
        """The entry's values under the public names asked for, in that order."""
        values: dict[str, Any] = {}
        for name in names:
            value = getattr(self, PUBLIC_NAMES[name])
            values[name] = rfc3339(value) if isinstance(value, datetime) else value
        return values

    def history_json(self) -> dict[str, Any]:
        """The entry as a line of an account's usage history (CLI, API, statements)."""
        return self.public(("type", self.shape.key, "amount_minor", *self.shape.extras, *_HISTORY_TAIL))


# Public name (results, history, Kafka, HTTP) -> the entry field it shows.
# Times are shown as RFC 3339 text.
PUBLIC_NAMES: dict[str, str] = {
    "type": "kind",
    **{shape.key: "key" for shape in _SHAPES.values()},
    "currency": "currency",
    "amount_minor": "amount_minor",
    "credits_applied_minor": "amount_minor",
    "credits_used_minor": "amount_minor",
    "credits_restored_minor": "amount_minor",
    "invoice_total_minor": "invoice_total_minor",
    "amount_due_minor": "amount_due_minor",
    "price_minor": "price_minor",
    "reason": "reason",
    "note": "note",
    "balance_minor": "balance_after_minor",
    "occurred_at": "occurred_at",
    "decided_at": "occurred_at",
    "event_id": "event_id",
    "account_version": "account_version",
}
_HISTORY_TAIL = ("currency", "balance_minor", "occurred_at", "event_id")


def _sources(shape: EventShape) -> dict[str, str]:
    return {
        "key": shape.key,
        "currency": "currency",
        "amount_minor": shape.amount,
        "balance_after_minor": "balance_after_minor",
        "occurred_at": "timestamp",
        "account_uuid": "originator_id",
        "account_version": "originator_version",
        **{name: name for name in shape.extras},
    }


# The event attribute each entry field is read from, by kind; the entry's kind
# is its shape's and its event_id is computed. Fields of KindAmounts that a
# kind lacks are None in its entries.
_SOURCES: dict[EntryKind, dict[str, str]] = {kind: _sources(shape) for kind, shape in SHAPES_BY_KIND.items()}


@overload
def ledger_entry(event: EntryEvent) -> LedgerEntry: ...
@overload
def ledger_entry(event: object) -> LedgerEntry | None: ...
def ledger_entry(event: object) -> LedgerEntry | None:
    """The entry an event records, or None for bookkeeping events (Opened).

    Values are taken as stored, unchecked: an event recorded before the
    ledger validated its input still yields its entry, and each reader
    decides what it can show.
    """
    shape = _SHAPES.get(type(event))  # type: ignore[arg-type]
    if shape is None:
        return None
    assert isinstance(event, EntryEvent)
    return LedgerEntry(
        kind=shape.kind,
        event_id=event_id(event.originator_id, event.originator_version),
        **{field: getattr(event, name) for field, name in _SOURCES[shape.kind].items()},
    )


def entry_kind(event_class: type) -> EntryKind | None:
    """The kind of entry events of ``event_class`` record; None for bookkeeping ones."""
    shape = _SHAPES.get(event_class)
    return None if shape is None else shape.kind


def _tuple_getter(attributes: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    """attrgetter, always answering a tuple."""
    if len(attributes) > 1:
        getter: Callable[[object], tuple[Any, ...]] = attrgetter(*attributes)
        return getter
    return lambda event: tuple(getattr(event, attribute) for attribute in attributes)


class PublicSources:
    """Where each public name in ``names`` comes from in events of one class:
    an attribute of the event (a time to be shown as RFC 3339 text), a
    constant (the entry's kind, or None for what this kind lacks), or the
    event's computed id."""

    def __init__(self, event_class: type[EntryEvent], names: tuple[str, ...]) -> None:
        kind = _SHAPES[event_class].kind
        sources = _SOURCES[kind]
        fields = {name: PUBLIC_NAMES[name] for name in names}
        self.attributes = {name: sources[field] for name, field in fields.items() if field in sources}
        self.constants: dict[str, Any] = {
            name: kind if field == "kind" else None
            for name, field in fields.items()
            if field not in sources and field != "event_id"
        }
        self.event_ids = tuple(name for name, field in fields.items() if field == "event_id")


class PublicReader:
    """``ledger_entry(event).public(names)`` for events of one class, read
    straight from the event: for readers of every event (the relay), which
    need a few names of each and no entry object.
    """

    def __init__(self, event_class: type[EntryEvent], names: tuple[str, ...]) -> None:
        self.kind = _SHAPES[event_class].kind
        self.sources = PublicSources(event_class, names)
        read = self.sources.attributes.items()
        # Each attribute read (and a time shown as text) once, however many
        # names show it: decided_at and occurred_at are both the timestamp.
        attributes = tuple(dict.fromkeys(attribute for _, attribute in read))
        self._shown = tuple((name, attributes.index(attribute)) for name, attribute in read)
        self._attributes = _tuple_getter(attributes)
        self._constants = self.sources.constants
        self._event_ids = self.sources.event_ids

    def __call__(self, event: EntryEvent) -> dict[str, Any]:
        found = [
            rfc3339(value) if isinstance(value, datetime) else value for value in self._attributes(event)
        ]
        values = {name: found[index] for name, index in self._shown}
        values.update(self._constants)
        if self._event_ids:
            values.update(
                dict.fromkeys(self._event_ids, event_id(event.originator_id, event.originator_version))
            )
        return values
