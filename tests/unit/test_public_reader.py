"""Reading an event's public values straight from it gives what its entry shows."""

from __future__ import annotations

from application.entries import PUBLIC_NAMES, PublicReader, entry_kind, ledger_entry
from application.ledger import Ledger, VoidRequest
from domain.credit_account import CreditAccount


def recorded_events() -> list[object]:
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 500)
    ledger.grant("acct-alice", "grant-001", "USD", 1000, "goodwill", note="for the outage")
    ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 600)
    ledger.buy_calling_credits("acct-alice", "buy-001", "USD", 300)
    ledger.settle([VoidRequest("acct-alice", "inv-2026-002"), VoidRequest("acct-alice", "inv-2026-009")])
    return list(ledger.events.get(CreditAccount.id_for("acct-alice")))


def test_every_public_name_of_every_kind_reads_as_the_entry_shows_it() -> None:
    # given events of every kind and every public name, in several selections
    every = tuple(PUBLIC_NAMES)
    selections = [every, every[::-1], ("decided_at", "occurred_at", "event_id"), ("currency",), ("note",)]
    kinds = set()
    for event in recorded_events():
        entry = ledger_entry(event)
        if entry is None:
            assert entry_kind(type(event)) is None
            continue
        kinds.add(entry_kind(type(event)))
        for names in selections:
            # then the reader's values are the entry's, KindAmounts it lacks as None
            assert PublicReader(type(event), names)(event) == entry.public(names)  # type: ignore[arg-type]
    assert kinds == {"grant", "invoice", "calling_credit_purchase", "restore"}
