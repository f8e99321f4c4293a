"""The ledger service's unit of work, on the in-memory store with faults injected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from application import ledger as ledger_module
from application.entries import event_id
from application.ledger import MAX_ATTEMPTS, MAX_UNAVAILABLE_ATTEMPTS, InvoiceRequest, Ledger
from domain.credit_account import CreditAccount
from domain.errors import InvalidCommandError


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    # Retries back off with sleeps; the faults here are instant.
    monkeypatch.setattr(ledger_module.time, "sleep", lambda _: None)
    built = Ledger()
    yield built
    built.close()


def stored(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


LOST_RACE = IntegrityError("another writer took this version")
OUTAGE = OperationalError("database is unavailable")


def failing_inserts(
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    failures: int,
    error: Exception = LOST_RACE,
) -> list[int]:
    """Make the next `failures` inserts fail with ``error``: by default, lose
    an optimistic-concurrency race."""
    calls: list[int] = []
    real = ledger.recorder.insert_events

    def insert(stored_events: Any, **kwargs: Any) -> Any:
        calls.append(len(stored_events))
        if len(calls) <= failures:
            raise error
        return real(stored_events, **kwargs)

    monkeypatch.setattr(ledger.recorder, "insert_events", insert)
    return calls


def test_a_lost_race_is_decided_again_and_recorded_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the first two saves lose a race with another writer
    calls = failing_inserts(ledger, monkeypatch, failures=2)
    # when credits are granted
    result = ledger.grant("acct-alice", "grant-1", "USD", 2500, "promotion")
    # then the third attempt records it, once
    assert len(calls) == 3
    assert result.is_new and result.balance_minor == 2500
    assert [e["type"] for e in ledger.history("acct-alice")] == ["grant"]


def test_a_hopeless_race_fails_records_nothing_and_forgets_the_cached_account(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 1000, "promotion")
    before = stored(ledger)
    calls = failing_inserts(ledger, monkeypatch, failures=MAX_ATTEMPTS)
    with pytest.raises(IntegrityError):
        ledger.apply_invoice("acct-alice", "inv-1", "USD", 400)
    assert len(calls) == MAX_ATTEMPTS
    assert stored(ledger) == before
    # the half-decided account is not reused: the next decision starts from the store
    assert "acct-alice" not in ledger._hot
    settled = ledger.apply_invoice("acct-alice", "inv-2", "USD", 400)
    assert (settled.credits_applied_minor, settled.balance_minor) == (400, 600)


def test_a_batch_of_invoices_is_recorded_in_one_store_transaction(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    for account in ("acct-alice", "acct-bob"):
        ledger.grant(account, "grant-1", "USD", 1000, "promotion")
    calls = failing_inserts(ledger, monkeypatch, failures=0)
    outcomes = ledger.apply_invoices(
        [
            InvoiceRequest("acct-alice", "inv-1", "USD", 300),
            InvoiceRequest("acct-bob", "inv-2", "USD", 1300),
            InvoiceRequest("acct-carol", "inv-3", "USD", 50),
        ]
    )
    # one insert: three decisions plus the opening of acct-carol's account
    assert calls == [4]
    assert [getattr(o, "credits_applied_minor", None) for o in outcomes] == [300, 1000, 0]


def test_the_write_cache_stays_within_its_bound() -> None:
    bounded = Ledger(cache_size=2)
    for n in range(5):
        bounded.grant(f"acct-{n}", "grant-1", "EUR", 100, "goodwill")
    assert list(bounded._hot) == ["acct-3", "acct-4"]
    # an account evicted from the cache is still decided from the store
    assert bounded.apply_invoice("acct-0", "inv-1", "EUR", 30).balance_minor == 70


def test_results_publish_their_fields_without_the_is_new_flag(ledger: Ledger) -> None:
    granted = ledger.grant("acct-alice", "grant-1", "USD", 2500, "promotion")
    assert granted.to_json() == {
        "account_id": "acct-alice",
        "grant_id": "grant-1",
        "currency": "USD",
        "amount_minor": 2500,
        "balance_minor": 2500,
    }
    again = ledger.grant("acct-alice", "grant-1", "USD", 2500, "promotion")
    assert again == granted and not again.is_new
    # the public event id is derived from the stream and version, so it is stable
    expected_id = event_id(CreditAccount.id_for("acct-alice"), 2)
    assert [e["event_id"] for e in ledger.history("acct-alice")] == [expected_id]


def test_an_outage_shorter_than_the_retry_budget_is_ridden_out(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a database unavailable for two attempts (the budget is three)
    calls = failing_inserts(ledger, monkeypatch, MAX_UNAVAILABLE_ATTEMPTS - 1, OUTAGE)
    # when credits are granted, then the third attempt records them
    assert ledger.grant("acct-alice", "grant-1", "USD", 500, "promotion").balance_minor == 500
    assert len(calls) == MAX_UNAVAILABLE_ATTEMPTS


def test_an_outage_past_the_retry_budget_is_reported(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = failing_inserts(ledger, monkeypatch, MAX_UNAVAILABLE_ATTEMPTS, OUTAGE)
    with pytest.raises(OperationalError):
        ledger.grant("acct-alice", "grant-1", "USD", 500, "promotion")
    assert len(calls) == MAX_UNAVAILABLE_ATTEMPTS
    assert stored(ledger) == 0


def test_a_grant_without_a_note_records_an_empty_note(ledger: Ledger) -> None:
    ledger.grant("acct-alice", "grant-1", "USD", 500, "promotion")
    account = ledger.account("acct-alice")
    assert account is not None
    assert account._grants["grant-1"].note == ""


@pytest.mark.parametrize("query", ["history", "balance", "account"])
def test_a_query_for_a_malformed_account_id_names_the_field(ledger: Ledger, query: str) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        getattr(ledger, query)("bad id")
    assert str(raised.value).startswith("account_id must be 1-128 characters")


def test_retries_back_off_exponentially_up_to_a_quarter_second(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a ledger whose pauses are recorded, and nine lost races in a row
    pauses: list[float] = []
    monkeypatch.setattr(ledger_module.time, "sleep", pauses.append)
    ledger = Ledger()
    failing_inserts(ledger, monkeypatch, failures=9)
    # when a grant is finally recorded
    ledger.grant("acct-alice", "grant-1", "USD", 500, "promotion")
    # then it paused 2 ms, doubling each time, never more than 250 ms
    assert pauses == pytest.approx([0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.25, 0.25])
    ledger.close()
