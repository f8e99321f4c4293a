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

from application.ledger import Ledger
from application.results import history_entry, rfc3339
from domain.credit_account import CreditAccount
from domain.rules import check_key


@dataclass(frozen=True)
class StatementLine:
    """One ledger entry with the balance the fold reached after it."""

    entry: dict[str, Any]
    # Signed change to the balance: + granted, - applied or used.
    change_minor: int
    running_balance_minor: int

    def to_json(self) -> dict[str, Any]:
        return {
            **self.entry,
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


def _change(event: object) -> int:
    if isinstance(event, CreditAccount.CreditGranted):
        return event.amount_minor
    if isinstance(event, CreditAccount.CreditApplied):
        return -event.credits_applied_minor
    if isinstance(event, CreditAccount.CallingCreditPurchased):
        return -event.credits_used_minor
    return 0


def _ledger_events(ledger: Ledger, account_id: str) -> list[Any]:
    check_key("account_id", account_id)
    return [
        event
        for event in ledger.events.get(CreditAccount.id_for(account_id))
        if history_entry(event) is not None
    ]


def balance_as_of(ledger: Ledger, account_id: str, as_of: datetime) -> dict[str, int]:
    """Each currency's balance after every event recorded at or before ``as_of``."""
    balances: dict[str, int] = {}
    for event in _ledger_events(ledger, account_id):
        # Cut at the first later event rather than filtering by timestamp: the
        # stream's order is the truth, and if two writers' clocks disagreed a
        # filter could add a later event without an earlier one, giving a
        # balance that never existed.
        if event.timestamp > as_of:
            break
        balances[event.currency] = balances.get(event.currency, 0) + _change(event)
    return dict(sorted(balances.items()))


def statement(
    ledger: Ledger, account_id: str, start: datetime | None = None, end: datetime | None = None
) -> Statement:
    events = _ledger_events(ledger, account_id)
    opening: dict[str, int] = {}
    lines: list[StatementLine] = []
    in_period = []
    # In stream order, cut at the period's bounds (see balance_as_of).
    opened = start is None
    for event in events:
        if not opened and start is not None and event.timestamp <= start:
            opening[event.currency] = opening.get(event.currency, 0) + _change(event)
            continue
        opened = True
        if end is not None and event.timestamp > end:
            break
        in_period.append(event)
    running = dict(opening)
    for event in in_period:
        change = _change(event)
        running[event.currency] = running.get(event.currency, 0) + change
        entry = history_entry(event)
        assert entry is not None
        lines.append(StatementLine(entry, change, running[event.currency]))
    # Every currency appears on both sides, so a reader can subtract.
    closing = {currency: running.get(currency, 0) for currency in sorted(running)}
    opening = {currency: opening.get(currency, 0) for currency in sorted(running)}
    return Statement(account_id, start, end, opening, closing, lines)
