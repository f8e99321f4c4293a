"""Snapshots keep a cold write's cost flat; business keys keep it exact.

An account loaded from a snapshot knows its totals, not the events behind
them. These stories check that every repeated command still answers from
its recorded decision, on both stores, and that a store from before keys
were kept gets them derived once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, StoredEvent

from application.ledger import InvoiceRequest, Ledger
from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError
from infra.adapters.store.urls import persistence_env, sqlite_path

ALICE = "acct-alice"
EVERY = 5  # a snapshot every five events, so short stories cross several


class SmallSnapshots(Ledger):
    name = "Ledger"  # the same tables as the service's
    snapshotting_intervals = {CreditAccount: EVERY}


@pytest.fixture
def ledgers(store_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """A writer, and a second process's ledger that loads accounts cold."""
    writer = SmallSnapshots(env=persistence_env(store_url))
    cold = SmallSnapshots(env=persistence_env(store_url), cache_size=0)
    yield writer, cold
    writer.close()
    cold.close()


class CountingReads:
    """Counts the events a ledger's store hands back for one account."""

    def __init__(self, ledger: Ledger) -> None:
        self.events = 0
        recorder = ledger.recorder
        select = recorder.select_events

        def counted(*args: Any, **kwargs: Any) -> list[StoredEvent]:
            found = select(*args, **kwargs)
            self.events += len(found)
            return found

        recorder.select_events = counted  # type: ignore[method-assign]


def history_of(ledger: Ledger, invoices: int) -> None:
    ledger.grant(ALICE, "grant-001", "USD", 1_000_000, "promotion")
    for n in range(invoices):
        ledger.apply_invoice(ALICE, f"inv-{n:04d}", "USD", 100)


def test_a_cold_write_reads_a_snapshot_and_at_most_an_interval_of_events(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    # given an account with 60 events, written with a snapshot every 5
    writer, cold = ledgers
    history_of(writer, invoices=59)
    reads = CountingReads(cold)
    # when another process, with nothing cached, grants to it
    granted = cold.grant(ALICE, "grant-002", "USD", 500, "compensation")
    # then it read the events after the latest snapshot (fewer than one
    # interval), not the whole history
    assert 1 <= reads.events < EVERY
    # and decided from the right balance
    assert granted.is_new and granted.balance_minor == 1_000_000 - 59 * 100 + 500


def test_a_cold_batch_of_invoices_reads_each_account_from_its_snapshot(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    # given two accounts with 30 events each, written with a snapshot every 5
    writer, cold = ledgers
    for account_id in (ALICE, "acct-bob"):
        writer.grant(account_id, "grant-001", "USD", 10_000, "promotion")
        writer.apply_invoices(
            [InvoiceRequest(account_id, f"{account_id}-inv-{n}", "USD", 10) for n in range(29)]
        )
    streams = cold.recorder.events_of
    read: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> dict[UUID, list[StoredEvent]]:
        found = streams(*args, **kwargs)
        read.extend(len(stream) for stream in found.values())
        return found

    cold.recorder.events_of = counted  # type: ignore[attr-defined]
    # when another process decides a batch of invoices for both
    settled = cold.apply_invoices(
        [InvoiceRequest(a, f"{a}-inv-new", "USD", 100) for a in (ALICE, "acct-bob")]
    )
    # then each account came from a snapshot and fewer events than an interval
    assert len(read) == 2 and all(n <= EVERY for n in read), read
    # and was decided from its right balance
    assert [s.balance_minor for s in settled] == [10_000 - 29 * 10 - 100] * 2  # type: ignore[union-attr]


def test_repeated_commands_answer_from_their_recorded_decisions_after_a_snapshot(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    # given decisions of every kind, then enough history for later snapshots
    writer, cold = ledgers
    grant = writer.grant(ALICE, "grant-001", "USD", 10_000, "promotion")
    invoice = writer.apply_invoice(ALICE, "inv-early", "USD", 700)
    purchase = writer.buy_calling_credits(ALICE, "purchase-001", "USD", 300)
    void = writer.void_invoice(ALICE, "inv-early")
    for n in range(12):
        writer.apply_invoice(ALICE, f"inv-{n:04d}", "USD", 10)
    balance = writer.balance(ALICE)
    # when each command is repeated, by the writer and by a cold process
    for ledger in (writer, cold):
        again = [
            ledger.grant(ALICE, "grant-001", "USD", 10_000, "promotion"),
            ledger.apply_invoice(ALICE, "inv-early", "USD", 700),
            ledger.buy_calling_credits(ALICE, "purchase-001", "USD", 300),
            ledger.void_invoice(ALICE, "inv-early"),
        ]
        # then each answers exactly as the first time, and records nothing
        assert [a.to_json() for a in again] == [r.to_json() for r in (grant, invoice, purchase, void)]
        assert not any(a.is_new for a in again)
    assert writer.balance(ALICE) == balance
    assert len(writer.entries(ALICE)) == 4 + 12


def test_a_repeated_key_with_other_content_is_still_a_conflict_after_a_snapshot(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    # given a grant followed by more history than an interval
    writer, cold = ledgers
    history_of(writer, invoices=12)
    # when the grant id comes again with another amount, then it is a conflict
    with pytest.raises(IdempotencyConflictError, match="grant-001"):
        cold.grant(ALICE, "grant-001", "USD", 1, "promotion")
    # and a void of an invoice decided long ago restores what it applied
    assert cold.void_invoice(ALICE, "inv-0000").credits_restored_minor == 100
    assert cold.invoice("inv-0000") is not None


def forget_business_keys(store_url: str) -> None:
    """As a store written before business keys were kept."""
    if store_url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(store_url)) as db:
            db.execute("DROP TABLE business_keys")
    else:
        with psycopg.connect(store_url, autocommit=True) as db:
            db.execute("DROP TABLE ledger_events_business_keys")


def test_a_store_from_before_business_keys_gets_them_derived_once(store_url: str) -> None:
    # given a store whose history was written before keys were kept
    writer = SmallSnapshots(env=persistence_env(store_url))
    history_of(writer, invoices=12)
    writer.void_invoice(ALICE, "inv-0003")
    writer.close()
    forget_business_keys(store_url)
    # when the service starts again on it
    upgraded = SmallSnapshots(env=persistence_env(store_url), cache_size=0)
    # then old decisions are recognised, though the account loads from a snapshot
    assert not upgraded.grant(ALICE, "grant-001", "USD", 1_000_000, "promotion").is_new
    assert not upgraded.apply_invoice(ALICE, "inv-0001", "USD", 100).is_new
    assert not upgraded.void_invoice(ALICE, "inv-0003").is_new
    assert upgraded.void_invoice(ALICE, "inv-0004").credits_restored_minor == 100
    assert len(upgraded.entries(ALICE)) == 1 + 12 + 2
    upgraded.close()


def test_snapshots_hold_totals_only(ledgers: tuple[Ledger, Ledger]) -> None:
    # given an account with a snapshot
    writer, _ = ledgers
    history_of(writer, invoices=EVERY * 3)
    assert writer.snapshots is not None
    # when its latest snapshot is read
    latest = next(iter(writer.snapshots.get(CreditAccount.id_for(ALICE), desc=True, limit=1)))
    # then it holds the balances and totals, not the events behind them
    assert isinstance(latest.originator_id, UUID)
    assert latest.state["_balances"] == {"USD": 1_000_000 - latest.state["_applied"]["USD"]}
    assert not {"_grants", "_invoices", "_purchases", "_voids"} & set(latest.state)


def test_every_snapshot_holds_what_a_replay_of_the_store_gives_at_its_version(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    # given snapshots taken from the accounts in hand, one write at a time
    # and by a batch that carries an account past an interval mid-way
    writer, cold = ledgers
    history_of(writer, invoices=EVERY + 2)
    writer.apply_invoices([InvoiceRequest(ALICE, f"batch-{n}", "USD", 100) for n in range(EVERY * 2)])
    assert writer.snapshots is not None and cold.snapshots is not None
    cold.snapshots = cold.repository.snapshot_store = None  # replays every event
    snapshots = list(writer.snapshots.get(CreditAccount.id_for(ALICE)))
    assert len(snapshots) >= 2
    for snapshot in snapshots:
        # when the store's events are replayed up to that snapshot's version
        replayed = cold.repository.get(CreditAccount.id_for(ALICE), version=snapshot.originator_version)
        # then the snapshot holds exactly the replayed account's state
        assert snapshot.state == CreditAccount.Snapshot.take(replayed).state


def test_a_snapshot_that_cannot_be_taken_leaves_the_decision_recorded_once(
    ledgers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a store that fails every snapshot (gone a moment after a commit)
    writer, _ = ledgers
    assert writer.snapshots is not None

    def gone(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("the database went away")

    monkeypatch.setattr(writer.snapshots, "put", gone)
    # when grants carry the account past a snapshot's version
    granted = [writer.grant(ALICE, f"grant-{n:03d}", "USD", 100, "promotion") for n in range(EVERY + 1)]
    # then each was answered as new, exactly once, and recorded once
    assert all(g.is_new for g in granted)
    assert [g.balance_minor for g in granted] == [100 * (n + 1) for n in range(EVERY + 1)]
    assert len(writer.entries(ALICE)) == EVERY + 1
