"""From recorded ledger events to the messages the relay publishes.

Every CreditApplied becomes an InvoiceCreditsApplied settlement, every
CreditRestored an InvoiceCreditsRestored settlement, and every ledger entry
(grant, invoice decision, calling-credit purchase, restore) a ledger event.
The bookkeeping ``Opened`` event is not published: it carries no amount and
no business key; the account's first real event follows it in the same
transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from application.entries import GRANT, INVOICE, PURCHASE, RESTORE, EntryKind, LedgerEntry, ledger_entry
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


@dataclass(frozen=True)
class Publication:
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

    def learn(self, events: Sequence[object]) -> None:
        """Ask the directory at once for every stream in ``events`` that it
        cannot name yet and that is not opened among them."""
        opened = {e.originator_id for e in events if isinstance(e, CreditAccount.Opened)}
        streams = {e.originator_id for e in events if isinstance(e, CreditAccount.Event)}
        unknown = streams - opened - self._accounts.keys()
        if unknown:
            for originator_id, account_id in self._directory.account_ids_of(unknown).items():
                self._remember(originator_id, account_id)

    def publications(self, event: object) -> list[Publication]:
        if isinstance(event, CreditAccount.Opened):
            self._remember(event.originator_id, event.account_id)
            return []
        entry = ledger_entry(event)
        if entry is None:
            return []
        account_id = self._account_id(entry.account_uuid)
        published: list[Publication] = []
        settlement_model = _SETTLEMENTS.get(entry.kind)
        if settlement_model is not None:
            settlement = _message(settlement_model, entry, account_id)
            published.append(_publication(Channel.SETTLEMENTS, account_id, settlement))
        ledger_event = _message(_LEDGER_EVENTS[entry.kind], entry, account_id)
        published.append(_publication(Channel.LEDGER_EVENTS, account_id, ledger_event))
        return published

    def _account_id(self, originator_id: UUID) -> str:
        account_id = self._accounts.get(originator_id)
        if account_id is None:
            account_id = self._directory.account_ids_of([originator_id])[originator_id]
        self._remember(originator_id, account_id)
        return account_id

    def _remember(self, originator_id: UUID, account_id: str) -> None:
        self._accounts[originator_id] = account_id
        self._accounts.move_to_end(originator_id)
        while len(self._accounts) > self._cache_size:
            self._accounts.popitem(last=False)


def _message(model: type[BaseModel], entry: LedgerEntry, account_id: str) -> BaseModel:
    return model.model_validate({**entry.public(_entry_names(model)), "account_id": account_id})


@cache
def _entry_names(model: type[BaseModel]) -> tuple[str, ...]:
    # Once per message model, not once per message.
    return tuple(name for name in model.model_fields if name not in OWN_FIELDS)


def _publication(channel: Channel, key: str, message: BaseModel) -> Publication:
    return Publication(
        channel=channel,
        key=key,
        value=message.model_dump_json().encode(),
        event_id=str(getattr(message, "event_id")),  # noqa: B009 - every outbound model has one
    )
