"""What the ledger answers: plain records whose fields are the public contract.

A command's result names fields of the ledger entry it recorded, by their
public names (application.entries); ``result_of`` fills them in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from application.entries import LedgerEntry


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


def result_of(result: type[R], account_id: str, entry: LedgerEntry, is_new: bool) -> R:
    """The answer to a command, read from the entry it recorded (or recorded before)."""
    return result(account_id=account_id, is_new=is_new, **entry.public(_entry_names(result)))


def _entry_names(result: type[_Result]) -> tuple[str, ...]:
    # Once per result type: dataclasses.fields() costs more than the copy.
    names = _ENTRY_NAMES.get(result)
    if names is None:
        names = _ENTRY_NAMES[result] = tuple(
            f.name for f in fields(result) if f.name not in ("account_id", "is_new")
        )
    return names


_ENTRY_NAMES: dict[type[_Result], tuple[str, ...]] = {}
