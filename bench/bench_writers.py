"""How write throughput on one PostgreSQL database scales with consumer processes.

Every insert into the events table takes an EXCLUSIVE table lock (that is how
eventsourcing keeps notification ids gap-free and in commit order), so writers
of one database queue behind each other. This measures how far that lets
throughput grow with 1, 2 and 4 `promocredits consume` processes in one group:
for each, a fresh database with grants for every account, N invoices already
on a topic, and the time until every one is decided. The floor is the
single-process rate of the same run.

    python bench/bench_writers.py [--invoices 40000] [--accounts 2000] [--processes 1,2,4] [--quick]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_pipeline import (  # noqa: E402
    PARTITIONS,
    create_topics,
    fresh_pg_database,
    invoices,
    postgres_server,
    produce_all,
    seed_grants,
    with_servers,
)

from infra.adapters.store.tables import CLAIMS_SUFFIX, POSTGRES_EVENTS  # noqa: E402


def decided(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {POSTGRES_EVENTS}{CLAIMS_SUFFIX}").fetchone()
    return int(row[0]) if row else 0


def bench(processes: int, pg_server: str, bootstrap: str, count: int, accounts: int) -> float:
    run_id = uuid.uuid4().hex[:8]
    url = fresh_pg_database(pg_server)
    print(f"[{processes} consumer(s)] seeding grants for {accounts} accounts...", file=sys.stderr)
    seed_grants(url, accounts)
    topic = f"bench-{run_id}.invoices"
    create_topics(bootstrap, [topic, f"bench-{run_id}.dlq"])
    produce_all(bootstrap, topic, invoices(run_id, count, accounts))
    env = {
        **os.environ,
        "PROMOCREDITS_DATABASE_URL": url,
        "PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PROMOCREDITS_INVOICES_TOPIC": topic,
        "PROMOCREDITS_DEAD_LETTER_TOPIC": f"bench-{run_id}.dlq",
        "PROMOCREDITS_CONSUMER_GROUP": f"bench-{run_id}",
    }
    consumers = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/promocredits"), "consume"], env=env, stderr=subprocess.DEVNULL
        )
        for _ in range(processes)
    ]
    try:
        # Timed from the first decision, so group joining is not counted.
        while decided(url) == 0:
            time.sleep(0.05)
        started, first = time.perf_counter(), decided(url)
        while (done := decided(url)) < count:
            time.sleep(0.1)
        return (done - first) / (time.perf_counter() - started)
    finally:
        for consumer in consumers:
            consumer.send_signal(signal.SIGTERM)
        for consumer in consumers:
            consumer.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=40_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument(
        "--quick", action="store_true", help="8,000 invoices over 500 accounts, 1 and 2 processes"
    )
    args = with_servers(parser).parse_args()
    if args.quick:
        args.invoices, args.accounts, args.processes = 8_000, 500, "1,2"
    pg_server = postgres_server(args.postgres)
    rates = {
        n: bench(n, pg_server, args.bootstrap, args.invoices, args.accounts)
        for n in map(int, args.processes.split(","))
    }
    floor = next(iter(rates.values()))
    print(
        f"\nwriters benchmark: {args.invoices} invoices on one PostgreSQL database, {PARTITIONS} partitions"
    )
    print(f"{'consumer processes':20} {'invoices/s':>11} {'x one process':>14}")
    for processes, rate in rates.items():
        print(f"{processes:<20} {rate:11,.0f} {rate / floor:14.2f}")


if __name__ == "__main__":
    main()
