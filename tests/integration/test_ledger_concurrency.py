"""Several OS processes writing ONE account at once: nothing lost, nothing twice."""

from __future__ import annotations

import multiprocessing
import traceback
from typing import Any

from application.ledger import Ledger
from infra.adapters.store.urls import persistence_env

WORKERS = 4
GRANTS_PER_WORKER = 8
INVOICES_PER_WORKER = 8
SHARED_INVOICES = 6
ACCOUNT = "acct-hot"


def _work(url: str, worker: int, start: Any, results: Any, initial_spend: bool) -> None:
    """One writer process: grants, its own invoices, and invoices every worker sends."""
    try:
        # All start together, on a store nobody may have created yet: the
        # processes race to create the tables too.
        start.wait(timeout=60)
        ledger = Ledger(env=persistence_env(url), cache_size=100)
        outcomes: list[tuple[str, str, dict[str, Any]]] = []
        start.wait(timeout=60)
        for n in range(max(GRANTS_PER_WORKER, INVOICES_PER_WORKER, SHARED_INVOICES)):
            if n < GRANTS_PER_WORKER:
                grant = ledger.grant(ACCOUNT, f"grant-w{worker}-{n}", "USD", 100 + n, "promotion")
                outcomes.append(("grant", grant.grant_id, grant.to_json()))
            if n < INVOICES_PER_WORKER:
                total = 250 + 10 * n if initial_spend else 30 + n
                invoice = ledger.apply_invoice(ACCOUNT, f"inv-w{worker}-{n}", "USD", total)
                outcomes.append(("invoice", invoice.invoice_id, invoice.to_json()))
            if n < SHARED_INVOICES:
                # Every worker sends the same shared invoice: one decision only.
                shared = ledger.apply_invoice(ACCOUNT, f"inv-shared-{n}", "USD", 40 + n)
                outcomes.append(("invoice", shared.invoice_id, shared.to_json()))
        ledger.close()
        results.put((worker, outcomes, None))
    except BaseException:  # report to the parent instead of dying silently
        results.put((worker, [], traceback.format_exc()))


def run_writers(url: str, *, initial_spend: bool) -> list[tuple[str, str, dict[str, Any]]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=_work, args=(url, worker, start, results, initial_spend))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=240) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    failures = [error for _, _, error in reports if error]
    assert failures == [], "\n".join(failures)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    return [outcome for _, outcomes, _ in reports for outcome in outcomes]


def replay(entries: list[dict[str, Any]]) -> int:
    """An independent model of the rules, replaying the recorded order."""
    balance = 0
    for entry in entries:
        if entry["type"] == "grant":
            balance += entry["amount_minor"]
        else:
            applied = min(balance, entry["invoice_total_minor"])
            assert entry["amount_minor"] == applied, entry
            assert entry["amount_due_minor"] == entry["invoice_total_minor"] - applied, entry
            balance -= applied
        assert entry["balance_minor"] == balance, entry
    return balance


def test_concurrent_writers_lose_nothing_and_apply_nothing_twice(store_url: str) -> None:
    # given an account every worker writes to at the same time
    # when 4 processes grant and apply invoices, 6 of them shared by all workers
    outcomes = run_writers(store_url, initial_spend=False)
    ledger = Ledger(env=persistence_env(store_url))
    try:
        entries = ledger.history(ACCOUNT)
        # then every operation succeeded (conflicts were retried, not failed)
        assert len(outcomes) == WORKERS * (GRANTS_PER_WORKER + INVOICES_PER_WORKER + SHARED_INVOICES)
        # and every grant and invoice was recorded exactly once
        grant_ids = [e["grant_id"] for e in entries if e["type"] == "grant"]
        invoice_ids = [e["invoice_id"] for e in entries if e["type"] == "invoice"]
        assert sorted(grant_ids) == sorted(
            f"grant-w{w}-{n}" for w in range(WORKERS) for n in range(GRANTS_PER_WORKER)
        )
        assert sorted(invoice_ids) == sorted(
            [f"inv-w{w}-{n}" for w in range(WORKERS) for n in range(INVOICES_PER_WORKER)]
            + [f"inv-shared-{n}" for n in range(SHARED_INVOICES)]
        )
        # and every worker was told exactly what was recorded
        recorded = {e.get("grant_id") or e["invoice_id"]: e for e in entries}
        for kind, key, answer in outcomes:
            entry = recorded[key]
            assert answer["balance_minor"] == entry["balance_minor"]
            if kind == "invoice":
                assert answer["credits_applied_minor"] == entry["amount_minor"]
        # and the recorded order obeys the rules, ending in the stored balance
        final = replay(entries)
        assert ledger.balance(ACCOUNT).balances[0].balance_minor == final
        granted = sum(100 + n for n in range(GRANTS_PER_WORKER)) * WORKERS
        applied = sum(e["amount_minor"] for e in entries if e["type"] == "invoice")
        assert final == granted - applied >= 0
    finally:
        ledger.close()


def test_concurrent_invoices_fully_covered_end_in_the_oracle_balance(store_url: str) -> None:
    # given a large balance, so every invoice is fully covered whatever the order
    ledger = Ledger(env=persistence_env(store_url))
    try:
        ledger.grant(ACCOUNT, "grant-seed", "USD", 1_000_000, "promotion")
        # when the workers grant and spend concurrently
        outcomes = run_writers(store_url, initial_spend=True)
        # then the balance is exactly what arithmetic says, independent of order
        granted = 1_000_000 + WORKERS * sum(100 + n for n in range(GRANTS_PER_WORKER))
        spent = WORKERS * sum(250 + 10 * n for n in range(INVOICES_PER_WORKER)) + sum(
            40 + n for n in range(SHARED_INVOICES)
        )
        assert ledger.balance(ACCOUNT).balances[0].balance_minor == granted - spent
        assert all(a["amount_due_minor"] == 0 for kind, _, a in outcomes if kind == "invoice")
        replay(ledger.history(ACCOUNT))
    finally:
        ledger.close()
