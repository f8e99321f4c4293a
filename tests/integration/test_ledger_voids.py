"""Voided invoices and per-invoice lookups on each real event store."""

from __future__ import annotations

import pytest

from application.ledger import InvoiceRequest, Ledger, VoidRequest
from application.results import InvoiceSettlement, VoidResult
from domain.errors import IdempotencyConflictError, InvalidCommandError


def event_count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_a_void_gives_back_what_its_invoice_used_once(ledger: Ledger) -> None:
    # given 50.00 USD, of which inv-2026-001 used 30.00
    ledger.grant("acct-alice", "grant-1", "USD", 5000, "compensation")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 3000)
    # when the invoice is voided
    voided = ledger.void_invoice("acct-alice", "inv-2026-001")
    # then the 30.00 come back
    assert voided.to_json() == {
        "account_id": "acct-alice",
        "invoice_id": "inv-2026-001",
        "currency": "USD",
        "credits_restored_minor": 3000,
        "balance_minor": 5000,
    }
    assert voided.is_new
    # and a repeated void returns the same answer and records nothing
    count = event_count(ledger)
    again = ledger.void_invoice("acct-alice", "inv-2026-001")
    assert (again, again.is_new) == (voided, False)
    assert event_count(ledger) == count
    assert ledger.balance("acct-alice").balances[0].balance_minor == 5000
    assert [line["type"] for line in ledger.history("acct-alice")] == ["grant", "invoice", "restore"]
    restore_line = ledger.history("acct-alice")[-1]
    assert {k: restore_line[k] for k in ("invoice_id", "amount_minor", "currency", "balance_minor")} == {
        "invoice_id": "inv-2026-001",
        "amount_minor": 3000,
        "currency": "USD",
        "balance_minor": 5000,
    }


def test_a_void_before_its_invoice_makes_the_invoice_use_nothing(ledger: Ledger) -> None:
    # given credits and a void for an invoice not generated yet
    ledger.grant("acct-alice", "grant-1", "USD", 5000, "promotion")
    early = ledger.void_invoice("acct-alice", "inv-2026-002")
    assert (early.currency, early.credits_restored_minor, early.balance_minor) == ("XXX", 0, 0)
    # when the invoice arrives
    settled = ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 3000)
    # then it is decided with nothing applied, and the balance is untouched
    assert (settled.credits_applied_minor, settled.amount_due_minor, settled.balance_minor) == (0, 3000, 5000)
    assert ledger.balance("acct-alice").balances[0].balance_minor == 5000
    # and the lookup shows the decision as voided, restoring nothing
    lookup = ledger.invoice("inv-2026-002")
    assert lookup is not None
    assert (lookup.voided, lookup.credits_restored_minor, lookup.credits_applied_minor) == (True, 0, 0)


def test_a_void_before_its_invoice_claims_the_id_for_its_account(ledger: Ledger) -> None:
    # given bob voided inv-2026-003 before it was generated
    ledger.void_invoice("acct-bob", "inv-2026-003")
    # when the invoice arrives for alice, alone and in a batch
    with pytest.raises(IdempotencyConflictError, match="another account"):
        ledger.apply_invoice("acct-alice", "inv-2026-003", "USD", 100)
    outcomes = ledger.settle([InvoiceRequest("acct-alice", "inv-2026-003", "USD", 100)])
    # then it is a conflict and alice records nothing
    assert isinstance(outcomes[0], IdempotencyConflictError)
    assert ledger.account("acct-alice") is None
    # while the invoice for bob himself is decided
    assert ledger.apply_invoice("acct-bob", "inv-2026-003", "USD", 100).amount_due_minor == 100


def test_a_void_for_another_account_than_the_invoices_is_a_conflict_and_changes_nothing(
    ledger: Ledger,
) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    ledger.apply_invoice("acct-alice", "inv-2026-004", "USD", 400)
    count = event_count(ledger)
    with pytest.raises(IdempotencyConflictError, match="another account"):
        ledger.void_invoice("acct-bob", "inv-2026-004")
    assert event_count(ledger) == count
    assert ledger.account("acct-bob") is None
    lookup = ledger.invoice("inv-2026-004")
    assert lookup is not None and not lookup.voided


def test_one_batch_decides_invoices_and_voids_in_order(ledger: Ledger) -> None:
    ledger.grant("acct-carol", "grant-1", "EUR", 1000, "goodwill")
    outcomes = ledger.settle(
        [
            InvoiceRequest("acct-carol", "inv-2026-010", "EUR", 700),
            VoidRequest("acct-carol", "inv-2026-010"),
            InvoiceRequest("acct-carol", "inv-2026-011", "EUR", 900),
            VoidRequest("acct-dave", "inv-2026-011"),
        ]
    )
    first, void, second, foreign = outcomes
    assert isinstance(first, InvoiceSettlement) and first.credits_applied_minor == 700
    assert isinstance(void, VoidResult) and (void.credits_restored_minor, void.balance_minor) == (700, 1000)
    assert isinstance(second, InvoiceSettlement) and second.credits_applied_minor == 900
    assert isinstance(foreign, IdempotencyConflictError)
    assert ledger.balance("acct-carol").balances[0].balance_minor == 100


def test_the_invoice_lookup_reads_the_recorded_decision(ledger: Ledger) -> None:
    # given a decided invoice
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    ledger.apply_invoice("acct-alice", "inv-2026-020", "USD", 2500)
    # when it is looked up, before and after its void
    before = ledger.invoice("inv-2026-020")
    ledger.void_invoice("acct-alice", "inv-2026-020")
    after = ledger.invoice("inv-2026-020")
    # then it answers the decision, and the void once there is one
    assert before is not None and after is not None
    decided_at = ledger.history("acct-alice")[1]["occurred_at"]
    assert before.to_json() == {
        "invoice_id": "inv-2026-020",
        "account_id": "acct-alice",
        "currency": "USD",
        "invoice_total_minor": 2500,
        "credits_applied_minor": 1000,
        "amount_due_minor": 1500,
        "balance_after_minor": 0,
        "decided_at": decided_at,
        "voided": False,
        "credits_restored_minor": None,
    }
    assert after.to_json() == {**before.to_json(), "voided": True, "credits_restored_minor": 1000}


def test_the_invoice_lookup_knows_no_decision_for_unknown_and_void_only_invoices(ledger: Ledger) -> None:
    ledger.void_invoice("acct-alice", "inv-2026-030")
    assert ledger.invoice("inv-2026-030") is None
    assert ledger.invoice("inv-never-seen") is None
    with pytest.raises(InvalidCommandError, match="invoice_id"):
        ledger.invoice("not an id")
