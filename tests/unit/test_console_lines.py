"""How the console shows ledger entries and an invoice's decision: in major
units with the currency, restores as voids, and a void before its invoice
without a balance of no currency."""

from __future__ import annotations

from dataclasses import replace

from application.ledger import Ledger
from application.results import InvoiceLookup
from infra.entrypoints.api.console.pages import _decision, history_line
from tests.unit.test_explanation import ledger

__all__ = ["ledger"]


def test_a_restore_line_says_the_invoice_was_voided_and_links_to_it(ledger: Ledger) -> None:
    # given 25.00 USD granted, an invoice that used it, then voided
    ledger.grant("acct-vera", "grant-001", "USD", 2500, "compensation")
    ledger.apply_invoice("acct-vera", "inv-1", "USD", 4000)
    ledger.void_invoice("acct-vera", "inv-1")
    grant, invoice, restore = (history_line(e) for e in ledger.entries("acct-vera"))
    # then the restore reads as a void giving the credits back
    assert restore["kind"] == "restore (invoice voided)"
    assert (restore["key"], restore["amount"], restore["balance"]) == ("inv-1", "25.00 USD", "25.00 USD")
    assert restore["total"] == restore["due"] == ""
    # and invoices and their voids link to the invoice, grants do not
    assert (invoice["invoice"], restore["invoice"], grant["invoice"]) == ("inv-1", "inv-1", "")


def test_a_void_before_its_invoice_shows_no_amount_of_no_currency(ledger: Ledger) -> None:
    ledger.void_invoice("acct-walt", "inv-later")
    (line,) = (history_line(e) for e in ledger.entries("acct-walt"))
    assert (line["kind"], line["amount"], line["balance"]) == ("void before the invoice", "none", "")
    assert "XXX" not in "".join(line.values())


def test_an_invoice_decision_is_shown_in_major_units_with_its_void() -> None:
    decided = InvoiceLookup(
        invoice_id="inv-1",
        account_id="acct-yan",
        currency="JPY",
        invoice_total_minor=800,
        credits_applied_minor=500,
        amount_due_minor=300,
        balance_after_minor=0,
        decided_at="2026-11-26T12:00:00.5Z",
        voided=False,
        credits_restored_minor=None,
    )
    shown = _decision(decided)
    assert (shown["total"], shown["applied"], shown["due"], shown["balance"]) == (
        "800 JPY",
        "500 JPY",
        "300 JPY",
        "0 JPY",
    )
    assert (shown["voided"], shown["restored"], shown["account_id"]) == (False, "", "acct-yan")
    assert shown["when"] == "2026-11-26 12:00:00 UTC"
    voided = _decision(replace(decided, voided=True, credits_restored_minor=500))
    assert (voided["voided"], voided["restored"]) == (True, "500 JPY")
