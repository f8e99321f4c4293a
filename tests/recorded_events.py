"""A ledger history with every kind of entry, for tests that read events back."""

from __future__ import annotations

from application.ledger import Ledger, VoidRequest
from domain.credit_account import CreditAccount


def every_kind_of_entry(account: str, note: str = "for the outage") -> list[object]:
    """Every kind of entry of one account, a zero restore and a void before
    its invoice included, as recorded by an in-memory ledger."""
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.apply_invoice(account, "inv-2026-001", "USD", 500)
    ledger.grant(account, "grant-001", "USD", 1000, "goodwill", note=note)
    ledger.apply_invoice(account, "inv-2026-002", "USD", 600)
    ledger.buy_calling_credits(account, "buy-001", "USD", 300)
    ledger.settle([VoidRequest(account, "inv-2026-002"), VoidRequest(account, "inv-2026-009")])
    return list(ledger.events.get(CreditAccount.id_for(account)))
