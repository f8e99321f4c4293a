"""What one ledger event changes in the views, as plain records.

A projection turns events into these; a view store applies them together with
the tracking position in one transaction. Keeping them as data (rather than
SQL) lets the same projection feed SQLite and PostgreSQL views identically.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountSeen:
    """An account's stream began, or it recorded another entry."""

    account_uuid: str
    account_id: str | None  # known only from the Opened event
    occurred_at: str


@dataclass(frozen=True)
class BalanceMoved:
    """A currency balance after a grant, an invoice or a purchase.

    Deltas are added to running totals; ``balance_minor`` is the ledger's own
    recorded balance after the event, never recomputed here.
    """

    account_uuid: str
    currency: str
    balance_minor: int
    granted_minor: int
    applied_minor: int
    calling_credits_minor: int
    occurred_at: str
    # A grant may open a currency; invoices and purchases only touch
    # currencies the account was granted, exactly as the ledger's balances.
    opens_currency: bool


@dataclass(frozen=True)
class HistoryRow:
    account_uuid: str
    version: int
    notification_id: int
    event_id: str
    type: str
    business_key: str
    currency: str
    amount_minor: int
    balance_minor: int
    occurred_at: str
    invoice_total_minor: int | None = None
    amount_due_minor: int | None = None
    price_minor: int | None = None
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class DailyMoved:
    """Additions to one day's totals in one currency (days are UTC dates)."""

    day: str
    currency: str
    granted_minor: int = 0
    granted_reason: str | None = None
    applied_minor: int = 0
    calling_credits_minor: int = 0
    invoices_decided: int = 0
    invoices_touched: int = 0  # decisions that applied some credit


Change = AccountSeen | BalanceMoved | HistoryRow | DailyMoved
