"""Request and response bodies; requests reject unknown fields. The answers of
writes are generated from the ledger's result records."""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, create_model

from application.results import GrantResult, InvoiceLookup, PurchaseResult, VoidResult
from domain.rules import GrantReason


class _Request(BaseModel):
    # A typo in a field name must fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class GrantRequest(_Request):
    grant_id: StrictStr = Field(description="Idempotency key of this grant")
    amount_minor: StrictInt = Field(description="Amount in minor units, e.g. 2500 for 25.00 USD")
    currency: StrictStr = Field(description="ISO 4217 code", examples=["USD"])
    reason: GrantReason
    note: StrictStr = ""


class VoidRequest(_Request):
    invoice_id: StrictStr = Field(description="The voided invoice; also the void's idempotency key")


class PurchaseRequest(_Request):
    purchase_id: StrictStr = Field(description="Idempotency key of this purchase")
    price_minor: StrictInt = Field(description="Price of the calling credits in minor units")
    currency: StrictStr = Field(description="ISO 4217 code", examples=["USD"])


def _answer_of(name: str, result: type[object], descriptions: dict[str, str]) -> type[BaseModel]:
    """The HTTP answer named ``name``: the fields of the ledger's result
    record, taken from it rather than written again, so the two cannot drift."""
    hints = get_type_hints(result)
    fields: dict[str, Any] = {
        f.name: (hints[f.name], Field(description=descriptions.get(f.name)))
        for f in dataclasses.fields(result)  # type: ignore[arg-type]
        if f.init and f.name != "is_new"
    }
    return create_model(name, **fields)


GrantResponse = _answer_of(
    "GrantResponse", GrantResult, {"balance_minor": "The currency's balance right after this grant"}
)
PurchaseResponse = _answer_of(
    "PurchaseResponse",
    PurchaseResult,
    {
        "credits_used_minor": "Promotional credits spent on the purchase",
        "amount_due_minor": "What the payment method pays",
        "balance_minor": "The currency's balance right after this purchase",
    },
)


VoidResponse = _answer_of(
    "VoidResponse",
    VoidResult,
    {
        "currency": "The invoice's currency; XXX (no currency) when voided before it was decided",
        "credits_restored_minor": "What the invoice's decision had applied, given back",
        "balance_minor": "The currency's balance right after the restore",
    },
)
InvoiceResponse = _answer_of(
    "InvoiceResponse",
    InvoiceLookup,
    {
        "balance_after_minor": "The currency's balance right after the decision",
        "voided": "Whether the invoice was voided",
        "credits_restored_minor": "What the void gave back; null while not voided",
    },
)


class Balance(BaseModel):
    currency: str
    balance_minor: int
    granted_minor: int
    applied_minor: int
    calling_credits_minor: int
    restored_minor: int = Field(description="Credits given back by voided invoices")


class BalanceResponse(BaseModel):
    account_id: str
    visible: bool = Field(description="False when the account holds no promotional credits")
    balances: list[Balance]
    last_activity_at: str | None


class HistoryResponse(BaseModel):
    entries: list[dict[str, object]]
    next_cursor: str | None


class Day(BaseModel):
    day: str
    currency: str
    granted_minor: int
    granted_by_reason: dict[str, int]
    applied_minor: int
    calling_credits_minor: int
    invoices_touched: int = Field(description="Invoices that had some credit applied")
    invoices_decided: int = Field(description="Every invoice decision, zero-credit ones included")
    restored_minor: int = Field(description="Credits given back by voided invoices")


class DailyResponse(BaseModel):
    days: list[Day]


class Liability(BaseModel):
    currency: str
    liability_minor: int
    accounts_with_balance: int


class LiabilityResponse(BaseModel):
    liability: list[Liability]


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="The first invalid fields (422 only), a bounded number of them"
    )
    errors_total: int | None = Field(default=None, description="How many fields were invalid (422 only)")


class ExplainedBalance(BaseModel):
    currency: str
    balance_minor: int
    balance: str = Field(description="In major units with the currency, e.g. 25.00 USD")
    granted_minor: int = Field(description="Every grant in this currency")
    used_minor: int = Field(description="Applied to invoices and used for calling credits")
    restored_minor: int = Field(
        description="Given back by voided invoices: granted - used + restored = balance"
    )


class ExplainedRestore(BaseModel):
    """A voided invoice and the credits it gave back."""

    invoice_id: str
    currency: str = Field(description="XXX (no currency) when the void came before its invoice")
    credits_restored_minor: int
    credits_restored: str = Field(description="In major units with the currency, e.g. 25.00 USD")
    balance_minor: int = Field(description="The balance after the restore")
    balance: str
    before_invoice: bool = Field(description="Voided before it was issued: it will use no credits")
    occurred_at: str
    event_id: str


class ExplanationResponse(BaseModel):
    """Why the account shows the promotional credits it shows, for support."""

    account_id: str
    known: bool = Field(description="Whether the ledger has recorded anything for this exact id")
    visible: bool = Field(description="Whether the dashboard shows a balance: only while there is some")
    balances: list[ExplainedBalance]
    grants: list[dict[str, object]] = Field(description="Every grant, oldest first, as history lines")
    usage: list[dict[str, object]] = Field(description="Invoices and calling-credit purchases, oldest first")
    restores: list[ExplainedRestore] = Field(
        description="Voided invoices and what they gave back, oldest first"
    )
    close_matches: list[str] = Field(description="Known ids differing only in case or whitespace")
    sentences: list[str] = Field(description="The explanation in plain sentences")
