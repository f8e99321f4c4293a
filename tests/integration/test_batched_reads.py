"""Reads that take one round trip per batch, not one per account, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from application.ledger import InvoiceRequest, Ledger
from domain.credit_account import CreditAccount
from infra.entrypoints.workers.relay import LedgerAccountDirectory
from infra.settings import Settings
from infra.wiring.container import Container

ACCOUNTS = ("acct-alice", "acct-bob", "acct-carol")


def counting(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the ledger's recorder was asked for one stream, and for many."""
    calls = {"one stream": 0, "many streams": 0}
    recorder: Any = ledger.recorder
    select_events, events_of = recorder.select_events, recorder.events_of

    def one(*args: Any, **kwargs: Any) -> Any:
        calls["one stream"] += 1
        return select_events(*args, **kwargs)

    def many(*args: Any, **kwargs: Any) -> Any:
        calls["many streams"] += 1
        return events_of(*args, **kwargs)

    monkeypatch.setattr(recorder, "select_events", one)
    monkeypatch.setattr(recorder, "events_of", many)
    return calls


def test_a_batch_of_invoices_for_cold_accounts_reads_them_all_in_one_query(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three accounts with grants, recorded by another process's ledger
    writer = Container(Settings(database_url=store_url))
    for n, account in enumerate(ACCOUNTS):
        writer.ledger.grant(account, "grant-001", "USD", 1000 * (n + 1), "promotion")
    writer.close()
    # when a fresh ledger, with nothing cached, decides one batch for them and a new account
    container = Container(Settings(database_url=store_url))
    calls = counting(container.ledger, monkeypatch)
    requests = [InvoiceRequest(a, f"inv-{a}", "USD", 1500) for a in (*ACCOUNTS, "acct-dave")]
    settlements = container.ledger.apply_invoices(requests)
    # then the four accounts were read in one query, none one by one
    assert calls == {"one stream": 0, "many streams": 1}
    # and each decision was taken on the account's recorded balance
    assert [(s.account_id, s.credits_applied_minor, s.balance_minor) for s in settlements] == [  # type: ignore[union-attr]
        ("acct-alice", 1000, 0),
        ("acct-bob", 1500, 500),
        ("acct-carol", 1500, 1500),
        ("acct-dave", 0, 0),
    ]
    assert container.ledger.balance("acct-bob").balances[0].balance_minor == 500
    container.close()


def test_the_relay_names_many_streams_with_one_query(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # given three recorded accounts and a stream that does not exist
    container = Container(Settings(database_url=store_url))
    for account in ACCOUNTS:
        container.ledger.grant(account, "grant-001", "USD", 100, "promotion")
    streams = [CreditAccount.id_for(a) for a in (*ACCOUNTS, "acct-never-recorded")]
    calls = counting(container.ledger, monkeypatch)
    # when the relay's directory is asked for all of them
    names = LedgerAccountDirectory(container.ledger).account_ids_of(streams)
    # then one query named every recorded one, from its Opened event
    assert calls == {"one stream": 0, "many streams": 1}
    assert names == {CreditAccount.id_for(a): a for a in ACCOUNTS}
    container.close()
