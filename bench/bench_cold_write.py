"""Cold-write time against the length of an account's history.

For each history length it records one account with that many events, then
times a grant through a fresh ledger (nothing cached: the account is read
from its latest snapshot and the events after it). The floor, from the same
run, is a grant through a fresh ledger to an account that does not exist yet.

    python bench/bench_cold_write.py [--lengths 1,10000,100000] [--stores sqlite,postgres] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import postgres_server_for, store_databases, with_servers
from seeding import BATCH

from application.ledger import InvoiceRequest, Ledger
from infra.adapters.store.urls import persistence_env

REPEATS = 5


def record_history(url: str, account: str, length: int) -> None:
    """``length`` events: the Opened event, a grant, then invoices."""
    ledger = Ledger(env=persistence_env(url))
    ledger.grant(account, "grant-0", "USD", 10**12, "promotion")
    invoices = max(0, length - 2)
    for start in range(0, invoices, BATCH):
        ledger.apply_invoices(
            [
                InvoiceRequest(account, f"{account}-inv-{n}", "USD", 1)
                for n in range(start, min(start + BATCH, invoices))
            ]
        )
    ledger.close()


def cold_write(url: str, account: str | None) -> float:
    """The median time of a grant through a fresh ledger, to ``account`` or,
    when None, each time to a new account."""
    times = []
    for n in range(REPEATS):
        ledger = Ledger(env=persistence_env(url))
        ledger.balance("warm-the-connection")
        started = time.perf_counter()
        ledger.grant(account or f"new-account-{n}", f"cold-{n}", "USD", 1, "promotion")
        times.append(time.perf_counter() - started)
        ledger.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lengths", default="1,10000,100000")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="lengths 1, 1,000 and 10,000")
    args = with_servers(parser).parse_args()
    lengths = [1, 1_000, 10_000] if args.quick else [int(n) for n in args.lengths.split(",")]
    print(f"\ncold write (median of {REPEATS} grants through a fresh ledger) by history length")
    print(f"{'store':10} {'events':>9} {'ms':>9} {'x floor':>8}")
    pg_server = postgres_server_for(args.stores.split(","), args.postgres)
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            with store_databases(store, tmp, pg_server) as (url, _):
                floor = cold_write(url, None)
                print(f"{store:10} {'new':>9} {floor * 1000:9.1f} {1:8.1f}", flush=True)
                for length in lengths:
                    account = f"history-{length}"
                    record_history(url, account, length)
                    seconds = cold_write(url, account)
                    events = max(length, 2)  # an account is recorded with its first decision
                    print(f"{store:10} {events:9,} {seconds * 1000:9.1f} {seconds / floor:8.1f}", flush=True)


if __name__ == "__main__":
    main()
