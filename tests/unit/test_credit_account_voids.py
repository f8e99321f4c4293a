"""Voided invoices on the CreditAccount aggregate alone: what a void gives back."""

from __future__ import annotations

import pytest

from domain.credit_account import NO_CURRENCY, CreditAccount
from domain.errors import InvalidCommandError


def account_with_usd(amount_minor: int) -> CreditAccount:
    account = CreditAccount.open("acct-alice")
    account.grant("grant-1", "USD", amount_minor, "promotion", "")
    return account


def test_a_void_restores_exactly_what_its_invoice_applied() -> None:
    # given 50.00 USD of which an invoice used 30.00
    account = account_with_usd(5000)
    account.apply_to_invoice("inv-2026-001", "USD", 3000)
    # when the invoice is voided
    outcome = account.void_invoice("inv-2026-001")
    # then the 30.00 come back and the balance is whole again
    restore = outcome.event
    assert outcome.is_new
    assert (restore.currency, restore.credits_restored_minor, restore.balance_after_minor) == (
        "USD",
        3000,
        5000,
    )
    assert account.balance("USD") == 5000
    assert account.restored("USD") == 3000
    assert account.totals("USD") == (5000, 3000, 0)


def test_a_void_of_an_invoice_that_used_nothing_restores_zero_and_is_still_recorded() -> None:
    account = CreditAccount.open("acct-alice")
    account.apply_to_invoice("inv-2026-002", "EUR", 1200)
    restore = account.void_invoice("inv-2026-002").event
    assert (restore.currency, restore.credits_restored_minor, restore.balance_after_minor) == ("EUR", 0, 0)
    assert account.void_for("inv-2026-002") is restore
    assert account.balances == {}


def test_a_second_void_returns_the_recorded_restore_and_restores_nothing_more() -> None:
    account = account_with_usd(1000)
    account.apply_to_invoice("inv-2026-001", "USD", 400)
    first = account.void_invoice("inv-2026-001")
    again = account.void_invoice("inv-2026-001")
    assert (again.event, again.is_new) == (first.event, False)
    assert account.balance("USD") == 1000
    assert len(account.pending_events) == 4


def test_a_void_before_its_invoice_is_recorded_in_no_currency_and_the_invoice_then_uses_nothing() -> None:
    # given credits, and a void arriving before its invoice
    account = account_with_usd(5000)
    early = account.void_invoice("inv-2026-003").event
    # then the void is recorded, restoring 0 in ISO 4217's "no currency"
    assert (early.currency, early.credits_restored_minor, early.balance_after_minor) == (NO_CURRENCY, 0, 0)
    assert account.first_for("inv-2026-003") is early
    # when the invoice arrives
    decision = account.apply_to_invoice("inv-2026-003", "USD", 3000).event
    # then it is decided, with nothing applied: the whole total is due
    assert (decision.credits_applied_minor, decision.amount_due_minor, decision.balance_after_minor) == (
        0,
        3000,
        5000,
    )
    assert account.first_for("inv-2026-003") is early
    # and voiding it again changes nothing
    assert account.void_invoice("inv-2026-003").event is early
    assert account.balance("USD") == 5000


def test_credits_restored_by_a_void_pay_later_invoices() -> None:
    account = account_with_usd(1000)
    account.apply_to_invoice("inv-2026-001", "USD", 1000)
    account.void_invoice("inv-2026-001")
    later = account.apply_to_invoice("inv-2026-002", "USD", 600).event
    assert (later.credits_applied_minor, later.balance_after_minor) == (600, 400)


@pytest.mark.parametrize("invoice_id", ["", "has space", "a" * 129, "../x"])
def test_a_void_with_an_invalid_invoice_id_is_refused_and_records_nothing(invoice_id: str) -> None:
    account = account_with_usd(1000)
    with pytest.raises(InvalidCommandError, match="invoice_id"):
        account.void_invoice(invoice_id)
    assert len(account.pending_events) == 2
