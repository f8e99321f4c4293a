"""Request and response bodies; requests reject unknown fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class _Request(BaseModel):
    # A typo in a field name must fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class GrantRequest(_Request):
    grant_id: StrictStr = Field(description="Idempotency key of this grant")
    amount_minor: StrictInt = Field(description="Amount in minor units, e.g. 2500 for 25.00 USD")
    currency: StrictStr = Field(description="ISO 4217 code", examples=["USD"])
    reason: Literal["compensation", "refund", "promotion", "goodwill"]
    note: StrictStr = ""


class PurchaseRequest(_Request):
    purchase_id: StrictStr = Field(description="Idempotency key of this purchase")
    price_minor: StrictInt = Field(description="Price of the calling credits in minor units")
    currency: StrictStr = Field(description="ISO 4217 code", examples=["USD"])


class GrantResponse(BaseModel):
    account_id: str
    grant_id: str
    currency: str
    amount_minor: int
    balance_minor: int = Field(description="The currency's balance right after this grant")


class PurchaseResponse(BaseModel):
    account_id: str
    purchase_id: str
    currency: str
    price_minor: int
    credits_used_minor: int
    amount_due_minor: int
    balance_minor: int


class Balance(BaseModel):
    currency: str
    balance_minor: int
    granted_minor: int
    applied_minor: int
    calling_credits_minor: int


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
