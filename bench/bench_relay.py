"""Relay restart to first publish, with N accounts in the store.

Records N accounts (an Opened event and a decision each), marks all of them
published, then records one more batch of decisions for accounts spread over
the whole store: a restarted relay must name every one of those streams before
it can publish. It times a fresh relay (new ledger, empty caches) from start
to the broker's acknowledgement of its first batch. The floor, measured in the
same run: a fresh producer's first acknowledged message to the same broker.

    python bench/bench_relay.py [--accounts 100000] [--stores sqlite,postgres] [--quick]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from eventsourcing.persistence import Tracking
from kafka import KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import create_topics, postgres_server_for, store_databases, with_servers
from seeding import seed

from application.ledger import InvoiceRequest
from infra.entrypoints.workers.relay import OutboxRelay
from infra.settings import Settings
from infra.wiring import metrics
from infra.wiring.container import Container


def settings_for(url: str, bootstrap: str) -> Settings:
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        settlements_topic=f"bench-relay-{run_id}.settlements",
        ledger_events_topic=f"bench-relay-{run_id}.ledger-events",
    )
    create_topics(bootstrap, [settings.settlements_topic, settings.ledger_events_topic])
    return settings


def prepare(settings: Settings, accounts: int) -> None:
    """N accounts, all published; then one batch over accounts across the store."""
    seed(settings.database_url, accounts, accounts, prefix="relay")
    container = Container(settings)
    relay = OutboxRelay(settings, container.ledger, container.relay_tracking)
    head = container.ledger.recorder.max_notification_id() or 0
    container.relay_tracking.insert_tracking(Tracking(relay.tracking_name, head))
    rng = random.Random(5)
    picked = rng.sample(range(accounts), min(accounts, settings.relay_batch_size))
    container.ledger.apply_invoices(
        [InvoiceRequest(f"relay-{n:07d}", f"relay-late-{n}", "USD", 100) for n in picked]
    )
    container.close()


def restart_to_first_publish(settings: Settings) -> float:
    published = metrics.RELAY_PUBLISHED._value.get()
    stop = threading.Event()
    started = time.perf_counter()
    container = Container(settings)
    relay = OutboxRelay(settings, container.ledger, container.relay_tracking)
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    while metrics.RELAY_PUBLISHED._value.get() == published:
        if not thread.is_alive() or time.perf_counter() - started > 600:
            raise SystemExit("the relay published nothing")
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    stop.set()
    thread.join()
    container.close()
    return seconds


def producer_floor(settings: Settings) -> float:
    started = time.perf_counter()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    producer.send(settings.settlements_topic, key=b"floor", value=b"{}").get(timeout=30)
    seconds = time.perf_counter() - started
    producer.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="10,000 accounts")
    args = with_servers(parser).parse_args()
    if args.quick:
        args.accounts = 10_000
    rows: list[tuple[str, float, float]] = []
    pg_server = postgres_server_for(args.stores.split(","), args.postgres)
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            with store_databases(store, tmp, pg_server) as (url, _):
                settings = settings_for(url, args.bootstrap)
                prepare(settings, args.accounts)
                rows.append((store, restart_to_first_publish(settings), producer_floor(settings)))
    print(
        f"\nrelay restart to first publish: {args.accounts:,} accounts, first batch names "
        f"{Settings().relay_batch_size:,} streams opened before the restart"
    )
    print(f"{'store':10} {'seconds':>8} {'floor s':>8} {'x floor':>8}")
    for store, seconds, floor in rows:
        print(f"{store:10} {seconds:8.2f} {floor:8.2f} {seconds / floor:8.1f}")


if __name__ == "__main__":
    main()
