"""What one ledger event changes in the views, as plain records.

A projection turns events into these; a view store applies them together with
the tracking position in one transaction. Keeping them as data (rather than
SQL) lets the same projection feed SQLite and PostgreSQL views identically.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from application.entries import KindAmounts, LedgerEntry


@dataclass(frozen=True)
class AccountSeen:
    """An account's stream began, or it recorded another entry."""

    account_uuid: str
    account_id: str | None  # known only from the Opened event
    occurred_at: str


@dataclass(frozen=True)
class BalanceMoved:
    """A currency balance after a grant, an invoice, a purchase or a restore.

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
    # A grant may open a currency; invoices, purchases and restores only
    # touch currencies the account was granted, exactly as the ledger's balances.
    opens_currency: bool
    restored_minor: int = 0


@dataclass(frozen=True)
class HistoryRow(KindAmounts):
    """A ledger entry as the history view stores it, with its position."""

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
    restored_minor: int = 0


# History columns that hold an entry field under another name; the rest share
# the entry's names.
_RENAMED = {
    "version": "account_version",
    "type": "kind",
    "business_key": "key",
    "balance_minor": "balance_after_minor",
}
# Stored as text, so that SQLite and PostgreSQL hold them alike.
_AS_TEXT = ("account_uuid", "occurred_at")


def history_row(
    entry: LedgerEntry, notification_id: int, *, account_uuid: str, occurred_at: str
) -> HistoryRow:
    """``account_uuid`` and ``occurred_at`` are the entry's as text, which the
    caller has computed once for all of the entry's changes."""
    values: dict[str, Any] = {column: getattr(entry, source) for column, source in _HISTORY_SOURCES}
    return HistoryRow(
        notification_id=notification_id, account_uuid=account_uuid, occurred_at=occurred_at, **values
    )


def entry_from_row(row: HistoryRow) -> LedgerEntry:
    values: dict[str, Any] = {
        _RENAMED.get(name, name): value
        for name, value in vars(row).items()
        if name != "notification_id" and name not in _AS_TEXT
    }
    return LedgerEntry(
        account_uuid=UUID(row.account_uuid), occurred_at=datetime.fromisoformat(row.occurred_at), **values
    )


# (history column, entry field) of the columns copied as they are, read once:
# dataclasses.fields() costs more than the copy.
_HISTORY_SOURCES = tuple(
    (column.name, _RENAMED.get(column.name, column.name))
    for column in fields(HistoryRow)
    if column.name != "notification_id" and column.name not in _AS_TEXT
)

Change = AccountSeen | BalanceMoved | HistoryRow | DailyMoved
