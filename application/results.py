"""What the ledger answers: plain records whose fields are the public contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.credit_account import CreditAccount

_EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:promotional-credits:event")


def event_id(originator_id: UUID, originator_version: int) -> str:
    """A recorded event's public id: stable, so republishing keeps it."""
    return str(uuid5(_EVENT_NAMESPACE, f"{originator_id}:{originator_version}"))


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Result:
    # Whether this call recorded the decision or returned an earlier one;
    # not part of the published record.
    is_new: bool = field(default=True, kw_only=True, compare=False)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        del record["is_new"]
        return record


@dataclass(frozen=True)
class GrantResult(_Result):
    account_id: str
    grant_id: str
    currency: str
    amount_minor: int
    balance_minor: int


@dataclass(frozen=True)
class InvoiceSettlement(_Result):
    account_id: str
    invoice_id: str
    currency: str
    invoice_total_minor: int
    credits_applied_minor: int
    amount_due_minor: int
    balance_minor: int


@dataclass(frozen=True)
class PurchaseResult(_Result):
    account_id: str
    purchase_id: str
    currency: str
    price_minor: int
    credits_used_minor: int
    amount_due_minor: int
    balance_minor: int


@dataclass(frozen=True)
class CurrencyBalance:
    currency: str
    balance_minor: int


@dataclass(frozen=True)
class AccountBalance:
    account_id: str
    visible: bool
    balances: list[CurrencyBalance]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def grant_result(account_id: str, event: CreditAccount.CreditGranted, is_new: bool) -> GrantResult:
    return GrantResult(
        account_id=account_id,
        grant_id=event.grant_id,
        currency=event.currency,
        amount_minor=event.amount_minor,
        balance_minor=event.balance_after_minor,
        is_new=is_new,
    )


def invoice_settlement(
    account_id: str, event: CreditAccount.CreditApplied, is_new: bool
) -> InvoiceSettlement:
    return InvoiceSettlement(
        account_id=account_id,
        invoice_id=event.invoice_id,
        currency=event.currency,
        invoice_total_minor=event.invoice_total_minor,
        credits_applied_minor=event.credits_applied_minor,
        amount_due_minor=event.amount_due_minor,
        balance_minor=event.balance_after_minor,
        is_new=is_new,
    )


def purchase_result(
    account_id: str, event: CreditAccount.CallingCreditPurchased, is_new: bool
) -> PurchaseResult:
    return PurchaseResult(
        account_id=account_id,
        purchase_id=event.purchase_id,
        currency=event.currency,
        price_minor=event.price_minor,
        credits_used_minor=event.credits_used_minor,
        amount_due_minor=event.amount_due_minor,
        balance_minor=event.balance_after_minor,
        is_new=is_new,
    )


def history_entry(event: object) -> dict[str, Any] | None:
    """One line of an account's usage history, or None for bookkeeping events."""
    if isinstance(event, CreditAccount.CreditGranted):
        entry: dict[str, Any] = {
            "type": "grant",
            "grant_id": event.grant_id,
            "amount_minor": event.amount_minor,
            "reason": event.reason,
            "note": event.note,
        }
    elif isinstance(event, CreditAccount.CreditApplied):
        entry = {
            "type": "invoice",
            "invoice_id": event.invoice_id,
            "amount_minor": event.credits_applied_minor,
            "invoice_total_minor": event.invoice_total_minor,
            "amount_due_minor": event.amount_due_minor,
        }
    elif isinstance(event, CreditAccount.CallingCreditPurchased):
        entry = {
            "type": "calling_credit_purchase",
            "purchase_id": event.purchase_id,
            "amount_minor": event.credits_used_minor,
            "price_minor": event.price_minor,
            "amount_due_minor": event.amount_due_minor,
        }
    else:
        return None
    entry["currency"] = event.currency
    entry["balance_minor"] = event.balance_after_minor
    entry["occurred_at"] = rfc3339(event.timestamp)
    entry["event_id"] = event_id(event.originator_id, event.originator_version)
    return entry
