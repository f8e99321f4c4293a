"""Settlement latency at fixed offered rates, on a real Kafka broker.

For each store it runs `promocredits run` (as bench_pipeline does), offers
invoices at a fixed rate for a fixed time, and reads the settlements back. An
invoice's latency runs from its produce time to the settlement's
``decided_at`` (when the ledger decided it) and to when the settlement was
read back (end to end). The floor, in the same run: the bare kafka-python
consumer with one INSERT per poll, end to end at the same rates.

    python bench/bench_latency.py [--rates 1000,2500] [--seconds 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import (
    invoices,
    pg_database,
    postgres_server,
    running_floor,
    running_service,
    store_databases,
    with_servers,
)


def offered(bootstrap: str, topic: str, messages: list[tuple[str, bytes]], rate: int) -> dict[str, float]:
    """Produce at ``rate`` messages per second; each invoice id's produce time."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks=1)
    sent: dict[str, float] = {}
    started = time.time()
    for n, (key, value) in enumerate(messages):
        due = started + n / rate
        if (wait := due - time.time()) > 0:
            time.sleep(wait)
        sent[json.loads(value)["invoice_id"]] = time.time()
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()
    return sent


def received(
    bootstrap: str, topic: str, wanted: set[str], out: dict[str, tuple[float, float | None]]
) -> None:
    """Each wanted result's (read time, decided_at) by invoice id, until all arrived."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    missing = set(wanted)
    deadline = time.monotonic() + 600
    while missing and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=100).values():
            now = time.time()
            for record in records:
                result = json.loads(record.value)
                if result["invoice_id"] not in missing:
                    continue  # an earlier run's
                missing.discard(result["invoice_id"])
                decided = result.get("decided_at")
                out[result["invoice_id"]] = (
                    now,
                    datetime.fromisoformat(decided).timestamp() if decided else None,
                )
    consumer.close()


def measure(
    bootstrap: str, in_topic: str, out_topic: str, rate: int, seconds: float, accounts: int
) -> tuple[float, ...]:
    messages = invoices(uuid.uuid4().hex[:8], int(rate * seconds), accounts)
    results: dict[str, tuple[float, float | None]] = {}
    wanted = {json.loads(value)["invoice_id"] for _, value in messages}
    reader = threading.Thread(target=received, args=(bootstrap, out_topic, wanted, results))
    reader.start()
    sent = offered(bootstrap, in_topic, messages, rate)
    reader.join()
    end_to_end = sorted(results[i][0] - t for i, t in sent.items() if i in results)
    decided = sorted(d - t for i, t in sent.items() if i in results and (d := results[i][1]) is not None)
    if len(end_to_end) < len(sent):
        raise SystemExit(f"{len(sent) - len(end_to_end)} of {len(sent)} results never arrived")
    return (*percentiles(decided), *percentiles(end_to_end))


def percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="1000,2500")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="5 seconds per rate, 2,000 accounts")
    args = with_servers(parser).parse_args()
    if args.quick:
        args.seconds, args.accounts = 5, 2_000
    rates = [int(rate) for rate in args.rates.split(",")]
    pg_server = postgres_server(args.postgres)
    rows: list[tuple[str, int, tuple[float, ...]]] = []
    with pg_database(pg_server) as url, running_floor(url, args.bootstrap) as (in_topic, out_topic):
        for rate in rates:
            rows.append(
                (
                    "floor (PostgreSQL)",
                    rate,
                    measure(args.bootstrap, in_topic, out_topic, rate, args.seconds, args.accounts),
                )
            )
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            with (
                store_databases(store, tmp, pg_server) as (url, views_url),
                running_service(store, url, views_url, args.bootstrap, args.accounts) as topics,
            ):
                for rate in rates:
                    latencies = measure(
                        args.bootstrap,
                        topics["PROMOCREDITS_INVOICES_TOPIC"],
                        topics["PROMOCREDITS_SETTLEMENTS_TOPIC"],
                        rate,
                        args.seconds,
                        args.accounts,
                    )
                    rows.append((f"promocredits run ({store})", rate, latencies))
    floors = {rate: latencies[3] for name, rate, latencies in rows if name.startswith("floor")}
    print(f"\nsettlement latency, {args.seconds:g}s per offered rate, ms (decided: produce to decided_at)")
    columns = ("dec p50", "dec p99", "e2e p50", "e2e p99")
    print(f"{'path':28} {'rate/s':>7} " + " ".join(f"{c:>8}" for c in columns) + f" {'p99 x floor':>12}")
    for name, rate, (d50, d99, e50, e99) in rows:
        print(f"{name:28} {rate:7,} {d50:8.0f} {d99:8.0f} {e50:8.0f} {e99:8.0f} {e99 / floors[rate]:12.1f}")


if __name__ == "__main__":
    main()
