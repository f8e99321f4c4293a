"""InvoiceVoided messages in, restores out: the pure translation around voids."""

from __future__ import annotations

import orjson

from application.ledger import Ledger, VoidRequest
from consumers.contracts import InvoiceCreditsRestored, LedgerEvent
from consumers.invoices import INVALID, DeadLetter, Inbound, InvoiceBatchHandler, Settled
from consumers.publications import Channel, Publisher
from domain.credit_account import CreditAccount
from tests.unit.test_pipeline_contracts import Directory


def voided(ref: int, **fields: object) -> Inbound[int]:
    body = {
        "event_type": "InvoiceVoided",
        "event_id": f"evt-void-{ref}",
        "invoice_id": f"inv-2026-{ref:03}",
        "account_id": "acct-alice",
        "voided_at": "2026-03-02T10:00:00Z",
    }
    body.update(fields)
    return Inbound(ref, orjson.dumps({k: v for k, v in body.items() if v is not None}), void=True)


def test_voids_and_invoices_of_one_batch_are_decided_together_in_order() -> None:
    # given a ledger where alice's first invoice used credits
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.grant("acct-alice", "grant-001", "USD", 1000, "goodwill")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 600)
    invoice = orjson.dumps(
        {
            "event_type": "InvoiceGenerated",
            "event_id": "evt-2",
            "invoice_id": "inv-2026-002",
            "account_id": "acct-alice",
            "currency": "USD",
            "total_minor": 900,
            "issued_at": "2026-03-01T09:30:00Z",
        }
    )
    # when a batch voids it, then brings a new invoice, then broken voids
    batch = [
        voided(1),
        Inbound(2, invoice),
        voided(3, voided_at=None),
        voided(4, event_type="InvoiceGenerated"),
        Inbound(5, invoice, void=True),
    ]
    decisions = InvoiceBatchHandler(ledger).handle(batch)
    # then the void restored 600 before the invoice used all 1000
    first, second = (d.settlement for d in decisions if isinstance(d, Settled))
    assert (first.invoice_id, getattr(first, "credits_restored_minor", None)) == ("inv-2026-001", 600)
    assert getattr(second, "credits_applied_minor", None) == 900
    # and a void missing a field, of another type, or an invoice on the voids topic is invalid
    assert [d.reason for d in decisions if isinstance(d, DeadLetter)] == [INVALID] * 3


def test_each_restore_is_published_as_a_settlement_and_a_ledger_event() -> None:
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.grant("acct-alice", "grant-001", "USD", 1000, "goodwill")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 600)
    ledger.settle([VoidRequest("acct-alice", "inv-2026-001"), VoidRequest("acct-alice", "inv-2026-009")])
    events = list(ledger.events.get(CreditAccount.id_for("acct-alice")))
    publisher = Publisher(Directory())
    publications = [p for e in events for p in publisher.publications(e)]
    settlements = [orjson.loads(p.value) for p in publications if p.channel is Channel.SETTLEMENTS]
    restores = [InvoiceCreditsRestored.model_validate(s) for s in settlements[1:]]
    assert [(r.invoice_id, r.currency, r.credits_restored_minor, r.balance_minor) for r in restores] == [
        ("inv-2026-001", "USD", 600, 1000),
        ("inv-2026-009", "XXX", 0, 0),
    ]
    ledger_events = [
        LedgerEvent.model_validate_json(p.value).root
        for p in publications
        if p.channel is Channel.LEDGER_EVENTS
    ]
    assert [e.event_type for e in ledger_events][-2:] == ["CreditRestored", "CreditRestored"]
    assert [e.event_id for e in ledger_events][-2:] == [r.event_id for r in restores]
