"""What an auditor asks of the record: past balances, statements, one decision per
invoice, and exports that can be checked without the database."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import psycopg

from application.audit.export import EXPORT_TRUNCATED, verify_export
from application.audit.statement import balance_as_of, statement
from application.audit.verify import CHAIN_MISMATCH, DUPLICATE_INVOICE
from application.ledger import Ledger
from infra.adapters.store.raw_log import raw_log
from infra.entrypoints.cli.audit_runs import export_store
from tests.integration.audit_support import ACCOUNTS, build_history, verify

SIGN = {"grant": +1, "invoice": -1, "calling_credit_purchase": -1, "restore": +1}


def _when(entry: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(entry["occurred_at"]))


def independent_fold(entries: list[dict[str, object]], as_of: datetime) -> dict[str, int]:
    """Sum the public history's amounts, knowing nothing of the audit code."""
    balances: dict[str, int] = {}
    for entry in entries:
        if _when(entry) <= as_of:
            currency = str(entry["currency"])
            balances[currency] = balances.get(currency, 0) + SIGN[str(entry["type"])] * int(
                str(entry["amount_minor"])
            )
    return balances


def test_balances_as_of_random_instants_equal_a_fold_over_the_history(ledger: Ledger) -> None:
    # given a history over several accounts
    build_history(ledger, rounds=6)
    rng = random.Random(5)
    for account in ACCOUNTS:
        entries = ledger.history(account)
        times = [_when(e) for e in entries]
        # instants between events, exactly at events (inclusive), before and after all
        instants = [times[0] + (times[-1] - times[0]) * rng.random() for _ in range(15)]
        instants += [*rng.sample(times, 5), times[0] - timedelta(seconds=1), times[-1] + timedelta(days=1)]
        for instant in instants:
            # when the auditor asks for the balance as of that instant
            found = balance_as_of(ledger, account, instant)
            # then it equals the fold, currencies with no event yet left out or zero
            expected = independent_fold(entries, instant)
            assert {c: b for c, b in found.items() if b or c in expected} == expected, (account, instant)


def test_statement_running_balances_match_the_recorded_ones(ledger: Ledger) -> None:
    build_history(ledger, rounds=6)
    for account in ACCOUNTS:
        entries = ledger.history(account)
        start, end = _when(entries[len(entries) // 3]), _when(entries[2 * len(entries) // 3])
        # when a statement is asked for a period in the middle of the history
        result = statement(ledger, account, start, end)
        # then it lists exactly the entries after start up to and including end
        expected_ids = [e["event_id"] for e in entries if start < _when(e) <= end]
        assert [line.entry.event_id for line in result.lines] == expected_ids
        # and each running balance is the balance the event recorded
        for line in result.lines:
            assert line.running_balance_minor == line.entry.balance_after_minor
        # and the opening and closing balances are the balances as of start and end
        assert {c: b for c, b in result.opening.items() if b} == {
            c: b for c, b in balance_as_of(ledger, account, start).items() if b
        }
        # (compared over every currency either side names: a currency the
        # statement leaves out must have a zero balance, not go unchecked)
        as_of_end = balance_as_of(ledger, account, end)
        currencies = set(result.closing) | set(as_of_end)
        assert {c: result.closing.get(c, 0) for c in currencies} == {
            c: as_of_end.get(c, 0) for c in currencies
        }


def forget_invoice_claims(store_url: str) -> None:
    """What a store written before invoice claims existed, or tampered with, looks like."""
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as db:
            db.execute("DELETE FROM invoice_claims")
    else:
        with psycopg.connect(store_url) as db:
            db.execute("DELETE FROM ledger_events_invoice_claims")


def test_an_invoice_decided_for_two_accounts_is_reported(ledger: Ledger, store_url: str) -> None:
    # given the same invoice id decided for two different accounts, which the
    # ledger refuses unless its invoice claims were lost
    ledger.grant("acct-alice", "grant-alice-1", "USD", 1_000, "promotion")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 400)
    forget_invoice_claims(store_url)
    ledger.apply_invoice("acct-bob", "inv-2026-001", "USD", 400)
    # when the store is verified
    report = verify(store_url)
    # then the second decision is named, with the account and the first position
    [finding] = report.findings
    assert finding.kind == DUPLICATE_INVOICE
    assert finding.account_id == "acct-bob"
    assert "inv-2026-001" in finding.detail and f"position {finding.position - 2}" in finding.detail


def test_an_export_verifies_offline_and_tampering_or_truncation_is_caught(
    ledger: Ledger, store_url: str, tmp_path: Path
) -> None:
    build_history(ledger, rounds=4)
    export = tmp_path / "ledger.jsonl"
    # when the store is exported
    exported = export_store(raw_log(store_url), export)
    lines = export.read_bytes().splitlines(keepends=True)
    # then the export ends with the digest, which is the store's chain head
    assert exported.clean
    assert (
        orjson.loads(lines[-1])["digest"] == exported.chain_head.hex() == verify(store_url).chain_head.hex()
    )
    # and it verifies offline, also against the digest recorded at export time
    assert verify_export(lines, exported.chain_head).clean

    # when one line is altered, the chain breaks at that row's position
    record = orjson.loads(lines[10])
    record["state"] += " "
    altered = [*lines[:10], orjson.dumps(record) + b"\n", *lines[11:]]
    report = verify_export(altered)
    assert [f.position for f in report.findings if f.kind == CHAIN_MISMATCH] == [record["n"]]

    # when the tail is cut, the missing digest line gives it away
    cut = lines[:-4]
    assert EXPORT_TRUNCATED in {f.kind for f in verify_export(cut).findings}

    # when the tail is cut and a matching digest line forged, only the digest
    # recorded at export time catches it
    rows = [orjson.loads(line) for line in lines[:-4]]
    forged = orjson.dumps({"digest": rows[-1]["hash"], "rows": len(rows)}) + b"\n"
    assert verify_export([*cut, forged]).clean
    caught = verify_export([*cut, forged], exported.chain_head)
    assert [f.kind for f in caught.findings] == [EXPORT_TRUNCATED]
