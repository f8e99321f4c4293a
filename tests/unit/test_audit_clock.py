"""Past balances follow the stream's order even when writers' clocks disagree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.audit.statement import balance_as_of, statement
from application.ledger import Ledger
from domain.credit_account import CreditAccount

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def recorded_with_a_clock_stepped_back() -> Ledger:
    """g1 at 12:00, then invoice i1 at 12:20 (a fast clock), then g2 stamped
    12:10 by a writer whose clock is behind, although it came after i1."""
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    account = CreditAccount.open("acct-clock")
    common = {"currency": "USD", "reason": "promotion", "note": ""}
    account.trigger_event(
        CreditAccount.CreditGranted,
        grant_id="g1",
        amount_minor=100,
        balance_after_minor=100,
        timestamp=T0,
        **common,
    )
    account.trigger_event(
        CreditAccount.CreditApplied,
        invoice_id="i1",
        currency="USD",
        invoice_total_minor=100,
        credits_applied_minor=100,
        amount_due_minor=0,
        balance_after_minor=0,
        timestamp=T0 + timedelta(minutes=20),
    )
    account.trigger_event(
        CreditAccount.CreditGranted,
        grant_id="g2",
        amount_minor=50,
        balance_after_minor=50,
        timestamp=T0 + timedelta(minutes=10),
        **common,
    )
    ledger.save(account)
    return ledger


def test_a_past_balance_is_a_state_the_account_really_had() -> None:
    ledger = recorded_with_a_clock_stepped_back()
    # when asked for 12:15, between g2's stamp and i1's
    balance = balance_as_of(ledger, "acct-clock", T0 + timedelta(minutes=15))
    # then the answer is the state before i1 (100), never g1 + g2 without i1 (150)
    assert balance == {"USD": 100}
    assert balance_as_of(ledger, "acct-clock", T0 + timedelta(minutes=30)) == {"USD": 50}


def test_a_statement_period_is_cut_in_stream_order() -> None:
    ledger = recorded_with_a_clock_stepped_back()
    result = statement(ledger, "acct-clock", end=T0 + timedelta(minutes=15))
    assert [line.entry.key for line in result.lines] == ["g1"]
    assert result.closing == {"USD": 100}
