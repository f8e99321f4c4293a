"""The CreditAccount aggregate on its own: every rule of the wallet, no store."""

from __future__ import annotations

import pytest

from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError


def account_with(grants: dict[str, int] | None = None, account_id: str = "acct-alice") -> CreditAccount:
    account = CreditAccount.open(account_id)
    for n, (currency, amount) in enumerate((grants or {}).items()):
        account.grant(f"grant-{n}", currency, amount, "promotion", "")
    return account


def test_an_invoice_uses_all_credits_it_can_and_leaves_the_rest_for_later() -> None:
    # given 50.00 USD of credits
    account = account_with({"USD": 5000})
    # when a 30.00 invoice arrives
    decision = account.apply_to_invoice("inv-2026-001", "USD", 3000).event
    # then it is fully paid by credits and 20.00 stays
    assert (decision.credits_applied_minor, decision.amount_due_minor, decision.balance_after_minor) == (
        3000,
        0,
        2000,
    )
    assert decision.invoice_total_minor == 3000
    # and the next invoice, larger than what is left, uses the rest
    second = account.apply_to_invoice("inv-2026-002", "USD", 4500).event
    assert (second.credits_applied_minor, second.amount_due_minor, second.balance_after_minor) == (
        2000,
        2500,
        0,
    )
    assert account.balance("USD") == 0


def test_a_zero_total_invoice_gets_a_decision_that_applies_nothing() -> None:
    account = account_with({"USD": 1000})
    decision = account.apply_to_invoice("inv-2026-000", "USD", 0).event
    assert (decision.credits_applied_minor, decision.amount_due_minor, decision.balance_after_minor) == (
        0,
        0,
        1000,
    )
    assert account.decision_for("inv-2026-000") is decision


def test_credits_of_one_currency_never_pay_another() -> None:
    # given USD credits only
    account = account_with({"USD": 5000})
    # when an EUR invoice arrives
    decision = account.apply_to_invoice("inv-eur-1", "EUR", 1000).event
    # then the payment method pays all of it and USD is untouched
    assert (decision.credits_applied_minor, decision.amount_due_minor) == (0, 1000)
    assert account.balances == {"USD": 5000}


def test_balances_are_kept_per_currency() -> None:
    account = account_with({"USD": 5000, "EUR": 700})
    account.apply_to_invoice("inv-eur-1", "EUR", 200)
    assert account.balances == {"EUR": 500, "USD": 5000}
    assert account.totals("EUR") == (700, 200, 0)


def test_a_calling_credit_purchase_uses_min_of_balance_and_price() -> None:
    account = account_with({"USD": 1500})
    purchase = account.buy_calling_credits("pur-1", "USD", 2000).event
    assert (purchase.credits_used_minor, purchase.amount_due_minor, purchase.balance_after_minor) == (
        1500,
        500,
        0,
    )
    cheap = account_with({"USD": 1500}, "acct-bob").buy_calling_credits("pur-2", "USD", 400).event
    assert (cheap.credits_used_minor, cheap.amount_due_minor, cheap.balance_after_minor) == (400, 0, 1100)


def test_an_account_without_credits_is_not_visible_and_one_with_any_is() -> None:
    account = account_with()
    assert not account.visible
    account.grant("grant-1", "EUR", 1, "goodwill", "")
    assert account.visible
    account.apply_to_invoice("inv-1", "EUR", 1)
    assert account.balances == {"EUR": 0}
    assert not account.visible


def test_repeating_a_grant_returns_the_recorded_event_and_changes_nothing() -> None:
    account = account_with()
    first = account.grant("grant-welcome", "USD", 2500, "promotion", "welcome")
    version = account.version
    again = account.grant("grant-welcome", "USD", 2500, "promotion", "welcome")
    assert again.event is first.event
    assert (first.is_new, again.is_new) == (True, False)
    assert account.version == version
    assert account.balance("USD") == 2500


@pytest.mark.parametrize(
    ("currency", "amount", "reason", "note"),
    [
        ("EUR", 2500, "promotion", "welcome"),
        ("USD", 2600, "promotion", "welcome"),
        ("USD", 2500, "refund", "welcome"),
        ("USD", 2500, "promotion", "other"),
    ],
)
def test_reusing_a_grant_id_with_different_content_is_a_conflict(
    currency: str, amount: int, reason: str, note: str
) -> None:
    account = account_with()
    account.grant("grant-welcome", "USD", 2500, "promotion", "welcome")
    version = account.version
    with pytest.raises(IdempotencyConflictError):
        account.grant("grant-welcome", currency, amount, reason, note)
    assert account.version == version
    assert account.balances == {"USD": 2500}


def test_an_invoice_keeps_its_first_decision_even_after_a_later_grant() -> None:
    # given an invoice decided while the account had no credits
    account = account_with()
    first = account.apply_to_invoice("inv-2026-001", "USD", 3000)
    # when credits arrive and billing asks about the same invoice again
    account.grant("grant-late", "USD", 5000, "goodwill", "")
    again = account.apply_to_invoice("inv-2026-001", "USD", 3000)
    # then billing is told the same thing: nothing applied, all due
    assert again.event is first.event
    assert not again.is_new
    assert (again.event.credits_applied_minor, again.event.amount_due_minor) == (0, 3000)
    assert account.balance("USD") == 5000


@pytest.mark.parametrize(("currency", "total"), [("EUR", 3000), ("USD", 3001)])
def test_reusing_an_invoice_id_with_different_content_is_a_conflict(currency: str, total: int) -> None:
    account = account_with({"USD": 5000})
    account.apply_to_invoice("inv-2026-001", "USD", 3000)
    with pytest.raises(IdempotencyConflictError):
        account.apply_to_invoice("inv-2026-001", currency, total)
    assert account.balance("USD") == 2000


def test_purchases_are_idempotent_by_purchase_id() -> None:
    account = account_with({"USD": 5000})
    first = account.buy_calling_credits("pur-1", "USD", 1000)
    assert account.buy_calling_credits("pur-1", "USD", 1000).event is first.event
    with pytest.raises(IdempotencyConflictError):
        account.buy_calling_credits("pur-1", "USD", 999)
    with pytest.raises(IdempotencyConflictError):
        account.buy_calling_credits("pur-1", "EUR", 1000)
    assert account.balance("USD") == 4000


@pytest.mark.parametrize(
    "command",
    [
        lambda a: a.grant("g", "USD", 0, "promotion", ""),
        lambda a: a.grant("g", "USD", -1, "promotion", ""),
        lambda a: a.grant("g", "USD", 1.5, "promotion", ""),
        lambda a: a.grant("g", "USD", True, "promotion", ""),
        lambda a: a.grant("g", "USD", 10**15 + 1, "promotion", ""),
        lambda a: a.grant("g", "usd", 100, "promotion", ""),
        lambda a: a.grant("g", "USD", 100, "because", ""),
        lambda a: a.grant("g", "USD", 100, "promotion", "x" * 1001),
        lambda a: a.grant("", "USD", 100, "promotion", ""),
        lambda a: a.grant("bad id", "USD", 100, "promotion", ""),
        lambda a: a.apply_to_invoice("inv", "USD", -1),
        lambda a: a.apply_to_invoice("inv", "USD", 10.0),
        lambda a: a.buy_calling_credits("pur", "USD", 0),
        lambda a: a.buy_calling_credits("pur", "EURO", 100),
    ],
)
def test_a_command_breaking_a_rule_records_nothing(command: object) -> None:
    account = account_with({"USD": 100})
    version = account.version
    with pytest.raises(InvalidCommandError):
        command(account)  # type: ignore[operator]
    assert account.version == version
    assert account.balances == {"USD": 100}


def test_the_account_id_is_derived_from_the_business_id() -> None:
    assert CreditAccount.open("acct-alice").id == CreditAccount.id_for("acct-alice")
    assert CreditAccount.id_for("acct-alice") != CreditAccount.id_for("acct-bob")
    with pytest.raises(InvalidCommandError):
        CreditAccount.open("not a valid id!")


def test_every_event_carries_what_an_auditor_needs() -> None:
    account = account_with()
    account.grant("grant-1", "KWD", 1234, "compensation", "outage")
    account.apply_to_invoice("inv-1", "KWD", 1000)
    account.buy_calling_credits("pur-1", "KWD", 500)
    events = account.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Opened",
        "CreditGranted",
        "CreditApplied",
        "CallingCreditPurchased",
    ]
    for event in events[1:]:
        assert event.timestamp.utcoffset() is not None
        state = vars(event)
        assert all(type(v) is int for k, v in state.items() if k.endswith("_minor"))
    granted, applied, bought = events[1:]
    assert (granted.grant_id, granted.currency, granted.amount_minor, granted.balance_after_minor) == (
        "grant-1",
        "KWD",
        1234,
        1234,
    )
    assert (applied.invoice_total_minor, applied.credits_applied_minor, applied.amount_due_minor) == (
        1000,
        1000,
        0,
    )
    assert (
        bought.price_minor,
        bought.credits_used_minor,
        bought.amount_due_minor,
        bought.balance_after_minor,
    ) == (500, 234, 266, 0)


def test_totals_add_up_every_grant_application_and_purchase_per_currency() -> None:
    # given two grants, two invoices and two purchases in USD, one grant in EUR
    account = CreditAccount.open("acct-alice")
    account.grant("grant-1", "USD", 500, "promotion", "")
    account.grant("grant-2", "USD", 300, "refund", "")
    account.grant("grant-3", "EUR", 50, "goodwill", "")
    account.apply_to_invoice("inv-1", "USD", 100)
    account.apply_to_invoice("inv-2", "USD", 150)
    account.buy_calling_credits("purchase-1", "USD", 40)
    account.buy_calling_credits("purchase-2", "USD", 60)
    # then each total is the sum of its kind, not the last one
    assert account.totals("USD") == (800, 250, 100)
    assert account.totals("EUR") == (50, 0, 0)
    assert account.balance("USD") == 800 - 250 - 100
