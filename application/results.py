"""What the ledger answers: plain records whose fields are the public contract.

A command's result names fields of the ledger entry it recorded, by their
public names (application.entries); ``result_of`` fills them in from the
recorded event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from application.entries import EntryEvent, PublicReader


@dataclass(frozen=True)
class _Result:
    account_id: str
    # Whether this call recorded the decision or returned an earlier one;
    # not part of the published record.
    is_new: bool = field(default=True, kw_only=True, compare=False)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        del record["is_new"]
        return record


@dataclass(frozen=True)
class GrantResult(_Result):
    grant_id: str
    currency: str
    amount_minor: int
    balance_minor: int


@dataclass(frozen=True)
class InvoiceSettlement(_Result):
    invoice_id: str
    currency: str
    invoice_total_minor: int
    credits_applied_minor: int
    amount_due_minor: int
    balance_minor: int


@dataclass(frozen=True)
class PurchaseResult(_Result):
    purchase_id: str
    currency: str
    price_minor: int
    credits_used_minor: int
    amount_due_minor: int
    balance_minor: int


@dataclass(frozen=True)
class VoidResult(_Result):
    invoice_id: str
    currency: str
    credits_restored_minor: int
    balance_minor: int


@dataclass(frozen=True)
class InvoiceLookup:
    """An invoice's recorded decision, and its void if it was voided."""

    invoice_id: str
    account_id: str
    currency: str
    invoice_total_minor: int
    credits_applied_minor: int
    amount_due_minor: int
    balance_after_minor: int
    decided_at: str
    voided: bool
    # None while the invoice is not voided.
    credits_restored_minor: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


R = TypeVar("R", bound=_Result)


def result_of(result: type[R], account_id: str, event: EntryEvent, is_new: bool) -> R:
    """The answer to a command, read from the event it recorded (or recorded before)."""
    return result(account_id=account_id, is_new=is_new, **_reader(result, type(event))(event))


def _reader(result: type[_Result], event_class: type[EntryEvent]) -> PublicReader:
    # One reader per result and event class: the consumer answers every
    # invoice of a batch, and a ledger entry built for each (with its event
    # id hashed) cost more than deciding the invoice.
    reader = _READERS.get((result, event_class))
    if reader is None:
        names = tuple(f.name for f in fields(result) if f.name not in ("account_id", "is_new"))
        reader = _READERS[(result, event_class)] = PublicReader(event_class, names)
    return reader


_READERS: dict[tuple[type[_Result], type[EntryEvent]], PublicReader] = {}
