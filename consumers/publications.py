"""From recorded ledger events to the messages the relay publishes.

Every CreditApplied becomes an InvoiceCreditsApplied settlement, and every
ledger entry (grant, invoice decision, calling-credit purchase) a ledger
event. The bookkeeping ``Opened`` event is not published: it carries no
amount and no business key; the account's first real event follows it in
the same transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from application.results import event_id, rfc3339
from consumers import contracts
from domain.credit_account import CreditAccount


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
    """Finds the business account id of an aggregate (from its Opened event)."""

    def account_id_of(self, originator_id: UUID) -> str: ...


class Publisher:
    """Translates ledger events in notification order. It learns account ids
    from the Opened events it passes and asks the directory for accounts
    opened before it started."""

    def __init__(self, directory: AccountDirectory, cache_size: int = 100_000) -> None:
        self._directory = directory
        self._cache_size = cache_size
        self._accounts: OrderedDict[UUID, str] = OrderedDict()

    def publications(self, event: object) -> list[Publication]:
        if isinstance(event, CreditAccount.Opened):
            self._remember(event.originator_id, event.account_id)
            return []
        if not isinstance(
            event,
            CreditAccount.CreditGranted | CreditAccount.CreditApplied | CreditAccount.CallingCreditPurchased,
        ):
            return []
        account_id = self._account_id(event.originator_id)
        common: dict[str, object] = {
            "event_id": event_id(event.originator_id, event.originator_version),
            "account_id": account_id,
            "currency": event.currency,
            "balance_minor": event.balance_after_minor,
        }
        entry = {
            **common,
            "occurred_at": rfc3339(event.timestamp),
            "account_version": event.originator_version,
        }
        published: list[Publication] = []
        ledger_event: BaseModel
        if isinstance(event, CreditAccount.CreditGranted):
            ledger_event = contracts.CreditGranted.model_validate(
                {
                    **entry,
                    "grant_id": event.grant_id,
                    "amount_minor": event.amount_minor,
                    "reason": event.reason,
                    "note": event.note,
                }
            )
        elif isinstance(event, CreditAccount.CreditApplied):
            amounts = {
                "invoice_id": event.invoice_id,
                "invoice_total_minor": event.invoice_total_minor,
                "credits_applied_minor": event.credits_applied_minor,
                "amount_due_minor": event.amount_due_minor,
            }
            settlement = contracts.InvoiceCreditsApplied.model_validate(
                {**common, **amounts, "decided_at": rfc3339(event.timestamp)}
            )
            published.append(_publication(Channel.SETTLEMENTS, account_id, settlement))
            ledger_event = contracts.CreditApplied.model_validate({**entry, **amounts})
        else:
            ledger_event = contracts.CallingCreditPurchased.model_validate(
                {
                    **entry,
                    "purchase_id": event.purchase_id,
                    "price_minor": event.price_minor,
                    "credits_used_minor": event.credits_used_minor,
                    "amount_due_minor": event.amount_due_minor,
                }
            )
        published.append(_publication(Channel.LEDGER_EVENTS, account_id, ledger_event))
        return published

    def _account_id(self, originator_id: UUID) -> str:
        account_id = self._accounts.get(originator_id)
        if account_id is None:
            account_id = self._directory.account_id_of(originator_id)
        self._remember(originator_id, account_id)
        return account_id

    def _remember(self, originator_id: UUID, account_id: str) -> None:
        self._accounts[originator_id] = account_id
        self._accounts.move_to_end(originator_id)
        while len(self._accounts) > self._cache_size:
            self._accounts.popitem(last=False)


def _publication(channel: Channel, key: str, message: BaseModel) -> Publication:
    return Publication(
        channel=channel,
        key=key,
        value=message.model_dump_json().encode(),
        event_id=str(getattr(message, "event_id")),  # noqa: B009 - every outbound model has one
    )
