"""Benchmark `audit verify` on the embedded SQLite store.

Builds N ledger events through the Ledger (batched invoices over many
accounts), then measures, each in a fresh process so peaks are its own:

- verify: the full audit (chain recomputed, every event decoded and replayed);
- floor: the same rows read with the same paged SELECT and hashed with one
  sha256 each, no decoding, no replay: what reading and hashing alone cost;
- memory: peak RSS of the verify process, and the Python heap peak
  (tracemalloc, in a separate run because tracing slows it down).

Usage: python bench/bench_verify.py [--events 200000] [--accounts 10000] [--db PATH] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application.audit.verify import Verifier  # noqa: E402
from application.ledger import InvoiceRequest, Ledger  # noqa: E402
from infra.adapters.store.raw_log import raw_log  # noqa: E402
from infra.adapters.store.urls import persistence_env  # noqa: E402

BATCH = 2_000


def build(url: str, events: int, accounts: int) -> None:
    ledger = Ledger(env=persistence_env(url), cache_size=accounts)
    rng = random.Random(1)
    names = [f"acct-{i:06d}" for i in range(accounts)]
    started = time.perf_counter()
    for name in names:  # an Opened and a grant each
        ledger.grant(name, f"grant-{name}", "USD", 1_000_000, "promotion")
    invoices = max(0, events - 2 * accounts)
    for start in range(0, invoices, BATCH):
        ledger.apply_invoices(
            [
                InvoiceRequest(rng.choice(names), f"inv-{n:09d}", "USD", rng.randint(0, 5_000))
                for n in range(start, min(start + BATCH, invoices))
            ]
        )
        if sys.stderr.isatty():  # a counter redrawn in place; noise in a log
            print(f"\rbuilt {2 * accounts + start + BATCH:,} events", end="", file=sys.stderr, flush=True)
    ledger.close()
    print(f"\rbuilt {events:,} events in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def phase_verify(url: str) -> dict[str, float]:
    log = raw_log(url)
    started = time.perf_counter()
    verifier = Verifier()
    verifier.feed_all(log.rows(log.head()))
    report = verifier.finish()
    elapsed = time.perf_counter() - started
    assert report.clean, report.findings[:3]
    return {
        "events": report.events_checked,
        "seconds": elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def phase_floor(url: str) -> dict[str, float]:
    log = raw_log(url)
    started = time.perf_counter()
    count = 0
    for row in log.rows(log.head()):
        hashlib.sha256(row[4] or b"").digest()
        count += 1
    return {"events": count, "seconds": time.perf_counter() - started}


def phase_heap(url: str) -> dict[str, float]:
    tracemalloc.start()
    log = raw_log(url)
    verifier = Verifier()
    verifier.feed_all(log.rows(log.head()))
    verifier.finish()
    return {"heap_peak_mib": tracemalloc.get_traced_memory()[1] / 2**20}


PHASES = {"verify": phase_verify, "floor": phase_floor, "heap": phase_heap}


def in_child(phase: str, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--url", url], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--db", help="reuse or create this SQLite file")
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--url")
    parser.add_argument("--build", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="20,000 events over 2,000 accounts")
    args = parser.parse_args()
    if args.quick:
        args.events, args.accounts = 20_000, 2_000
    if args.build:
        build(args.build, args.events, args.accounts)
        return
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.url)))
        return
    directory = tempfile.mkdtemp(prefix="bench-verify-")
    path = Path(args.db) if args.db else Path(directory) / "ledger.db"
    url = f"sqlite:///{path.resolve()}"
    if not path.exists():
        # Built in a child too: a child's peak RSS starts from its parent's at
        # fork, so a parent that built the store would inflate every figure.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--build",
                url,
                "--events",
                str(args.events),
                "--accounts",
                str(args.accounts),
            ],
            check=True,
        )
    floor = in_child("floor", url)
    verify = in_child("verify", url)
    heap = in_child("heap", url)
    verify_rate = verify["events"] / verify["seconds"]
    floor_rate = floor["events"] / floor["seconds"]
    print(f"events:            {int(verify['events']):,} over {args.accounts:,} accounts ({path})")
    print(f"verify:            {verify_rate:,.0f} events/s ({verify['seconds']:.2f}s)")
    print(f"floor (read+hash): {floor_rate:,.0f} events/s ({floor['seconds']:.2f}s)")
    print(f"verify / floor:    {verify_rate / floor_rate:.2f}")
    print(
        f"verify peak RSS:   {verify['peak_rss_mib']:.1f} MiB; "
        f"Python heap peak {heap['heap_peak_mib']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
