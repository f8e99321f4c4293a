"""The ledger service on each real event store: every rule of issue 2."""

from __future__ import annotations

from datetime import datetime

import pytest

from application.ledger import InvoiceRequest, Ledger
from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError


def event_count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_credits_pay_invoices_up_to_their_total_and_the_rest_stays(ledger: Ledger) -> None:
    # given 50.00 USD granted as compensation
    granted = ledger.grant("acct-alice", "grant-outage-1", "USD", 5000, "compensation", "outage")
    assert (granted.amount_minor, granted.balance_minor) == (5000, 5000)
    # when a 30.00 invoice is generated
    first = ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 3000)
    # then credits cover it and nothing is charged
    assert (first.credits_applied_minor, first.amount_due_minor, first.balance_minor) == (3000, 0, 2000)
    # when a 45.00 invoice follows
    second = ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 4500)
    # then the remaining 20.00 applies and 25.00 is charged
    assert (second.credits_applied_minor, second.amount_due_minor, second.balance_minor) == (2000, 2500, 0)
    assert second.invoice_total_minor == 4500
    assert ledger.balance("acct-alice").to_json() == {
        "account_id": "acct-alice",
        "visible": False,
        "balances": [{"currency": "USD", "balance_minor": 0}],
    }


def test_a_zero_total_invoice_is_valid_and_applies_nothing(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    settled = ledger.apply_invoice("acct-alice", "inv-zero", "USD", 0)
    assert (settled.credits_applied_minor, settled.amount_due_minor, settled.balance_minor) == (0, 0, 1000)
    assert [e["invoice_id"] for e in ledger.history("acct-alice") if e["type"] == "invoice"] == ["inv-zero"]


def test_usd_credits_never_pay_an_eur_invoice(ledger: Ledger) -> None:
    # given an account holding USD and EUR credits
    ledger.grant("acct-alice", "grant-usd", "USD", 5000, "promotion")
    ledger.grant("acct-alice", "grant-eur", "EUR", 300, "goodwill")
    # when an EUR invoice larger than the EUR balance arrives
    settled = ledger.apply_invoice("acct-alice", "inv-eur-1", "EUR", 1000)
    # then only EUR credits apply and USD is untouched
    assert (settled.credits_applied_minor, settled.amount_due_minor, settled.balance_minor) == (300, 700, 0)
    # and a GBP invoice gets nothing at all
    gbp = ledger.apply_invoice("acct-alice", "inv-gbp-1", "GBP", 800)
    assert (gbp.credits_applied_minor, gbp.amount_due_minor, gbp.balance_minor) == (0, 800, 0)
    assert ledger.balance("acct-alice").to_json()["balances"] == [
        {"currency": "EUR", "balance_minor": 0},
        {"currency": "USD", "balance_minor": 5000},
    ]
    assert ledger.balance("acct-alice").visible


def test_calling_credits_use_min_of_balance_and_price(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 1500, "refund")
    cheap = ledger.buy_calling_credits("acct-alice", "pur-1", "USD", 400)
    assert (cheap.credits_used_minor, cheap.amount_due_minor, cheap.balance_minor) == (400, 0, 1100)
    dear = ledger.buy_calling_credits("acct-alice", "pur-2", "USD", 2000)
    assert (dear.credits_used_minor, dear.amount_due_minor, dear.balance_minor) == (1100, 900, 0)
    assert dear.price_minor == 2000
    none_left = ledger.buy_calling_credits("acct-alice", "pur-3", "USD", 500)
    assert (none_left.credits_used_minor, none_left.amount_due_minor, none_left.balance_minor) == (0, 500, 0)


def test_an_unknown_account_is_invisible_with_no_balances(ledger: Ledger) -> None:
    assert ledger.balance("acct-nobody").to_json() == {
        "account_id": "acct-nobody",
        "visible": False,
        "balances": [],
    }
    assert ledger.history("acct-nobody") == []


def test_any_positive_balance_makes_the_account_visible(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "JPY", 1, "goodwill")
    assert ledger.balance("acct-alice").visible
    ledger.apply_invoice("acct-alice", "inv-1", "JPY", 1)
    assert not ledger.balance("acct-alice").visible


def test_repeating_each_command_returns_the_recorded_result_and_records_nothing(ledger: Ledger) -> None:
    # given one of each decision recorded
    grant = ledger.grant("acct-alice", "grant-1", "USD", 5000, "promotion", "spring")
    invoice = ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 1000)
    purchase = ledger.buy_calling_credits("acct-alice", "pur-1", "USD", 700)
    count = event_count(ledger)
    # when each is repeated with the same content
    again = (
        ledger.grant("acct-alice", "grant-1", "USD", 5000, "promotion", "spring"),
        ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 1000),
        ledger.buy_calling_credits("acct-alice", "pur-1", "USD", 700),
    )
    # then the recorded results come back, marked as not new, and nothing was stored
    assert again == (grant, invoice, purchase)
    assert [r.is_new for r in again] == [False, False, False]
    assert [r.is_new for r in (grant, invoice, purchase)] == [True, True, True]
    assert event_count(ledger) == count
    assert ledger.balance("acct-alice").balances[0].balance_minor == 3300


@pytest.mark.parametrize(
    "conflicting",
    [
        lambda ledger: ledger.grant("acct-alice", "grant-1", "USD", 5001, "promotion", "spring"),
        lambda ledger: ledger.grant("acct-alice", "grant-1", "EUR", 5000, "promotion", "spring"),
        lambda ledger: ledger.grant("acct-alice", "grant-1", "USD", 5000, "goodwill", "spring"),
        lambda ledger: ledger.grant("acct-alice", "grant-1", "USD", 5000, "promotion", "autumn"),
        lambda ledger: ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 1001),
        lambda ledger: ledger.apply_invoice("acct-alice", "inv-2026-001", "EUR", 1000),
        lambda ledger: ledger.buy_calling_credits("acct-alice", "pur-1", "USD", 701),
        lambda ledger: ledger.buy_calling_credits("acct-alice", "pur-1", "JPY", 700),
    ],
)
def test_the_same_key_with_different_content_is_a_conflict_that_changes_nothing(
    ledger: Ledger, conflicting: object
) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 5000, "promotion", "spring")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 1000)
    ledger.buy_calling_credits("acct-alice", "pur-1", "USD", 700)
    count, history = event_count(ledger), ledger.history("acct-alice")
    with pytest.raises(IdempotencyConflictError):
        conflicting(ledger)  # type: ignore[operator]
    assert event_count(ledger) == count
    assert ledger.history("acct-alice") == history


def test_an_invoice_id_decided_for_one_account_is_a_conflict_for_another(ledger: Ledger) -> None:
    # given inv-2026-001 decided for alice
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    ledger.grant("acct-bob", "grant-2", "USD", 1000, "promotion")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 400)
    # when the same invoice id arrives for bob, alone and inside a batch
    with pytest.raises(IdempotencyConflictError, match="another account"):
        ledger.apply_invoice("acct-bob", "inv-2026-001", "USD", 400)
    outcomes = ledger.apply_invoices(
        [
            InvoiceRequest("acct-bob", "inv-2026-001", "USD", 400),
            InvoiceRequest("acct-bob", "inv-2026-002", "USD", 300),
        ]
    )
    # then bob's copy is refused, bob's own invoice still settles, and billing
    # is never told two decisions for one invoice
    assert isinstance(outcomes[0], IdempotencyConflictError)
    assert not isinstance(outcomes[1], Exception) and outcomes[1].credits_applied_minor == 300
    assert [e["type"] for e in ledger.history("acct-bob")] == ["grant", "invoice"]
    assert len(ledger.history("acct-alice")) == 2
    assert ledger.balance("acct-bob").balances[0].balance_minor == 700


def test_one_batch_cannot_decide_an_invoice_id_for_two_accounts(ledger: Ledger) -> None:
    # when one batch carries inv-2026-009 for carol and then for dave
    outcomes = ledger.apply_invoices(
        [
            InvoiceRequest("acct-carol", "inv-2026-009", "USD", 100),
            InvoiceRequest("acct-dave", "inv-2026-009", "USD", 100),
        ]
    )
    # then the first decides it and the second is a conflict that opens nothing
    assert not isinstance(outcomes[0], Exception) and outcomes[0].account_id == "acct-carol"
    assert isinstance(outcomes[1], IdempotencyConflictError)
    assert ledger.account("acct-dave") is None


def test_an_invoice_first_decided_without_credits_keeps_that_decision_after_a_grant(ledger: Ledger) -> None:
    # given an invoice seen while the account held nothing
    first = ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 3000)
    assert (first.credits_applied_minor, first.amount_due_minor) == (0, 3000)
    # when credits are granted and the same invoice is seen again
    ledger.grant("acct-alice", "grant-late", "USD", 5000, "goodwill")
    count = event_count(ledger)
    again = ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 3000)
    # then billing hears the first decision again and the credits stay
    assert again == first
    assert (again.credits_applied_minor, again.amount_due_minor, again.balance_minor) == (0, 3000, 0)
    assert event_count(ledger) == count
    assert ledger.balance("acct-alice").balances[0].balance_minor == 5000
    # and a fresh ledger reading the store says the same
    fresh = Ledger(env=ledger.env)
    try:
        assert fresh.apply_invoice("acct-alice", "inv-2026-001", "USD", 3000) == first
    finally:
        fresh.close()


@pytest.mark.parametrize(
    "rejected",
    [
        lambda ledger: ledger.grant("acct-new", "grant-1", "USD", 0, "promotion"),
        lambda ledger: ledger.grant("acct-new", "grant-1", "XYZ", 100, "promotion"),
        lambda ledger: ledger.grant("acct-new", "grant-1", "USD", 100, "bribe"),
        lambda ledger: ledger.grant("acct-new", "bad key!", "USD", 100, "promotion"),
        lambda ledger: ledger.apply_invoice("acct-new", "inv-1", "USD", -1),
        lambda ledger: ledger.apply_invoice("acct-new", "inv-1", "ABC", 100),
        lambda ledger: ledger.buy_calling_credits("acct-new", "pur-1", "USD", 0),
        lambda ledger: ledger.buy_calling_credits("acct-new", "pur 1", "USD", 10),
    ],
)
def test_a_request_rejected_by_a_rule_leaves_no_trace(ledger: Ledger, rejected: object) -> None:
    # given a store with one unrelated account
    ledger.grant("acct-alice", "grant-1", "USD", 100, "promotion")
    count = event_count(ledger)
    # when a request for a new account breaks a rule
    with pytest.raises(InvalidCommandError):
        rejected(ledger)  # type: ignore[operator]
    # then no event was stored and the account was never opened
    assert event_count(ledger) == count
    assert ledger.account("acct-new") is None
    assert list(ledger.events.get(CreditAccount.id_for("acct-new"))) == []
    assert ledger.balance("acct-new").to_json()["balances"] == []


def test_a_rejected_account_id_is_invalid_input(ledger: Ledger) -> None:
    with pytest.raises(InvalidCommandError):
        ledger.grant("no spaces allowed", "grant-1", "USD", 100, "promotion")
    with pytest.raises(InvalidCommandError):
        ledger.balance("")
    assert event_count(ledger) == 0


def test_a_batch_records_every_valid_invoice_and_returns_errors_in_place(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    outcomes = ledger.apply_invoices(
        [
            InvoiceRequest("acct-alice", "inv-1", "USD", 600),
            InvoiceRequest("acct-bob", "inv-2", "USD", -5),
            InvoiceRequest("acct-alice", "inv-2", "USD", 600),
            InvoiceRequest("acct-alice", "inv-1", "USD", 700),
        ]
    )
    assert not isinstance(outcomes[0], Exception)
    assert isinstance(outcomes[1], InvalidCommandError)
    assert not isinstance(outcomes[2], Exception)
    assert isinstance(outcomes[3], IdempotencyConflictError)
    assert (outcomes[0].credits_applied_minor, outcomes[2].credits_applied_minor) == (600, 400)
    assert outcomes[2].amount_due_minor == 200
    assert ledger.account("acct-bob") is None


def test_history_lists_every_decision_oldest_first_with_its_fields(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 5000, "compensation", "outage")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 3000)
    ledger.buy_calling_credits("acct-alice", "pur-1", "USD", 2500)
    ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 0)
    entries = ledger.history("acct-alice")
    assert [(e["type"], e["amount_minor"], e["balance_minor"]) for e in entries] == [
        ("grant", 5000, 5000),
        ("invoice", 3000, 2000),
        ("calling_credit_purchase", 2000, 0),
        ("invoice", 0, 0),
    ]
    assert entries[0]["grant_id"] == "grant-1"
    assert (entries[1]["invoice_id"], entries[1]["invoice_total_minor"], entries[1]["amount_due_minor"]) == (
        "inv-2026-001",
        3000,
        0,
    )
    assert (entries[2]["purchase_id"], entries[2]["amount_due_minor"]) == ("pur-1", 500)
    moments = [datetime.fromisoformat(e["occurred_at"]) for e in entries]
    assert moments == sorted(moments)
    assert all(m.utcoffset() is not None for m in moments)
    assert all(e["currency"] == "USD" for e in entries)
    for entry in entries:
        assert all(type(v) is int for k, v in entry.items() if k.endswith("_minor"))


def test_state_rebuilt_from_stored_events_equals_the_live_state(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 5000, "promotion")
    ledger.grant("acct-alice", "grant-2", "EUR", 900, "promotion")
    ledger.apply_invoice("acct-alice", "inv-1", "USD", 1200)
    ledger.buy_calling_credits("acct-alice", "pur-1", "EUR", 1000)
    fresh = Ledger(env=ledger.env)
    try:
        assert fresh.balance("acct-alice") == ledger.balance("acct-alice")
        assert fresh.history("acct-alice") == ledger.history("acct-alice")
        rebuilt = fresh.account("acct-alice")
        assert rebuilt is not None
        assert rebuilt.totals("USD") == (5000, 1200, 0)
        assert rebuilt.totals("EUR") == (900, 0, 900)
    finally:
        fresh.close()


def test_a_stale_cached_account_never_decides(ledger: Ledger) -> None:
    # given two writers on one store, the first having cached acct-alice
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    other = Ledger(env=ledger.env)
    try:
        # when the other writer spends the credits behind the first one's back
        spent = other.apply_invoice("acct-alice", "inv-1", "USD", 1000)
        assert spent.credits_applied_minor == 1000
        # then the first writer's next invoice is decided on the real balance
        late = ledger.apply_invoice("acct-alice", "inv-2", "USD", 500)
        assert (late.credits_applied_minor, late.amount_due_minor, late.balance_minor) == (0, 500, 0)
        # and a repeat of the other's invoice returns its recorded decision
        assert ledger.apply_invoice("acct-alice", "inv-1", "USD", 1000) == spent
    finally:
        other.close()
