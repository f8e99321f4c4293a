"""Ledgers filled fast for benchmarks: invoices decided in batches of many
accounts, so each batch is one transaction and one cold-account read."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application.ledger import InvoiceRequest, Ledger  # noqa: E402
from infra.adapters.store.urls import persistence_env  # noqa: E402

BATCH = 2_000


def seed(url: str, accounts: int, events: int, *, prefix: str = "acct") -> None:
    """At least one Opened event and one decision for each of ``accounts``,
    then invoices over random accounts until about ``events`` are recorded;
    every tenth account is granted credits first so both views paths run."""
    ledger = Ledger(env=persistence_env(url), cache_size=0)
    rng = random.Random(3)
    started = time.perf_counter()
    names = [f"{prefix}-{i:07d}" for i in range(accounts)]
    for name in names[::10]:
        ledger.grant(name, f"grant-{name}", "USD", 1_000_000, "promotion")
    invoices = max(accounts, events - accounts - 2 * len(names[::10]))
    pending: list[InvoiceRequest] = []
    for n in range(invoices):
        account = names[n] if n < accounts else rng.choice(names)
        pending.append(InvoiceRequest(account, f"{prefix}-inv-{n:09d}", "USD", rng.randint(0, 5_000)))
        if len(pending) == BATCH or n == invoices - 1:
            ledger.apply_invoices(pending)
            pending = []
    ledger.close()
    print(f"seeded {accounts:,} accounts in {time.perf_counter() - started:.1f}s", file=sys.stderr)
