"""Resident memory of the consumer's ledger after N distinct accounts.

Decides one invoice for each of N distinct accounts through a ledger built
the way the consumer's is (the composition root, the configured account
cache), in batches of the consumer's size, on a fresh SQLite store. It prints
the process's RSS at every tenth of the run: with the cache bounded, it must
level off instead of growing with the accounts seen. The floor is the RSS
with the ledger built and no account seen yet.

    python bench/bench_consumer_rss.py [--accounts 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.ledger import InvoiceRequest
from infra.settings import Settings
from infra.wiring.container import Container


def rss_mib() -> float:
    # Current, not peak: a level that stays flat is the point.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no /proc/self/status: this benchmark needs Linux")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 accounts")
    args = parser.parse_args()
    if args.quick:
        args.accounts = 50_000
    with tempfile.TemporaryDirectory() as tmp:
        container = Container(Settings(database_url=f"sqlite:///{tmp}/ledger.db"))
        ledger, batch = container.ledger, container.settings.consumer_batch_size
        ledger.balance("nobody")  # connect and create the tables
        floor = rss_mib()
        print(
            f"\nconsumer RSS: {args.accounts:,} distinct accounts, batches of {batch:,}, "
            f"account cache {container.settings.account_cache_size:,}"
        )
        print(f"{'accounts':>10} {'RSS MiB':>8} {'x floor':>8} {'accounts/s':>11}")
        print(f"{0:10,} {floor:8.0f} {1:8.2f}")
        started = time.perf_counter()
        checkpoint = step = max(1, args.accounts // 10)
        for start in range(0, args.accounts, batch):
            end = min(start + batch, args.accounts)
            ledger.apply_invoices(
                [InvoiceRequest(f"rss-{n:08d}", f"rss-inv-{n}", "USD", 100) for n in range(start, end)]
            )
            if end >= checkpoint or end == args.accounts:
                checkpoint += step
                rss = rss_mib()
                rate = end / (time.perf_counter() - started)
                print(f"{end:10,} {rss:8.0f} {rss / floor:8.2f} {rate:11,.0f}", flush=True)
        container.close()


if __name__ == "__main__":
    main()
