"""Balances as of an instant and statements for a period, from the event log alone.

Both fold the account's recorded events (never a read model), so they answer
what the record says even when the views are behind or wrong. One account's
stream is small, so going through the domain events is fast enough here.

Periods: a balance "as of T" includes every event recorded at or before T. A
statement from F to T lists the events after F up to and including T; its
opening balance is the balance as of F and its closing balance the balance as
of T, so consecutive statements chain without overlap or gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from application.entries import LedgerEntry, rfc3339
from application.ledger import Ledger


@dataclass(frozen=True)
class StatementLine:
    """One ledger entry with the balance the fold reached after it."""

    entry: LedgerEntry
    running_balance_minor: int

    @property
    def change_minor(self) -> int:
        return self.entry.change_minor

    def to_json(self) -> dict[str, Any]:
        return {
            **self.entry.history_json(),
            "change_minor": self.change_minor,
            "running_balance_minor": self.running_balance_minor,
        }


@dataclass(frozen=True)
class Statement:
    account_id: str
    start: datetime | None
    end: datetime | None
    opening: dict[str, int]
    closing: dict[str, int]
    lines: list[StatementLine] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "from": rfc3339(self.start) if self.start else None,
            "to": rfc3339(self.end) if self.end else None,
            "opening_balances": balances_json(self.opening),
            "closing_balances": balances_json(self.closing),
            "lines": [line.to_json() for line in self.lines],
        }


def balances_json(balances: dict[str, int]) -> list[dict[str, Any]]:
    return [{"currency": c, "balance_minor": b} for c, b in sorted(balances.items())]


def balance_as_of(ledger: Ledger, account_id: str, as_of: datetime) -> dict[str, int]:
    """Each currency's balance after every event recorded at or before ``as_of``."""
    balances: dict[str, int] = {}
    for entry in ledger.entries(account_id):
        # Cut at the first later event rather than filtering by timestamp: the
        # stream's order is the truth, and if two writers' clocks disagreed a
        # filter could add a later event without an earlier one, giving a
        # balance that never existed.
        if entry.occurred_at > as_of:
            break
        balances[entry.currency] = balances.get(entry.currency, 0) + entry.change_minor
    return dict(sorted(balances.items()))


def statement(
    ledger: Ledger, account_id: str, start: datetime | None = None, end: datetime | None = None
) -> Statement:
    opening: dict[str, int] = {}
    lines: list[StatementLine] = []
    in_period: list[LedgerEntry] = []
    # In stream order, cut at the period's bounds (see balance_as_of).
    opened = start is None
    for entry in ledger.entries(account_id):
        if not opened and start is not None and entry.occurred_at <= start:
            opening[entry.currency] = opening.get(entry.currency, 0) + entry.change_minor
            continue
        opened = True
        if end is not None and entry.occurred_at > end:
            break
        in_period.append(entry)
    running = dict(opening)
    for entry in in_period:
        running[entry.currency] = running.get(entry.currency, 0) + entry.change_minor
        lines.append(StatementLine(entry, running[entry.currency]))
    # Every currency appears on both sides, so a reader can subtract.
    closing = {currency: running.get(currency, 0) for currency in sorted(running)}
    opening = {currency: opening.get(currency, 0) for currency in sorted(running)}
    return Statement(account_id, start, end, opening, closing, lines)
