"""The benchmark's floor: the least work any service must do per invoice.

Consume a poll, insert its rows into PostgreSQL with one batched INSERT in one
transaction, produce one result per row, commit offsets. No ledger logic.

    python bench/floor_consumer.py BOOTSTRAP IN_TOPIC OUT_TOPIC POSTGRES_URL GROUP
"""

from __future__ import annotations

import json
import signal
import sys
import threading

import psycopg
from kafka import KafkaConsumer, KafkaProducer


def main() -> None:
    bootstrap, in_topic, out_topic, pg_url, group = sys.argv[1:6]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    db = psycopg.connect(pg_url)
    db.execute(
        "CREATE TABLE IF NOT EXISTS floor_invoices "
        "(invoice_id text PRIMARY KEY, account_id text NOT NULL, total_minor bigint NOT NULL)"
    )
    db.commit()
    consumer = KafkaConsumer(
        in_topic,
        bootstrap_servers=bootstrap,
        group_id=f"floor-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=2_000,
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=256 * 1024, acks="all")
    while not stop.is_set():
        rows = []
        for records in consumer.poll(timeout_ms=100).values():
            for record in records:
                invoice = json.loads(record.value)
                rows.append((invoice["invoice_id"], invoice["account_id"], invoice["total_minor"]))
        if not rows:
            continue
        with db.cursor() as cur:
            cur.executemany("INSERT INTO floor_invoices VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", rows)
        db.commit()
        for invoice_id, account_id, total in rows:
            producer.send(
                out_topic,
                key=account_id.encode(),
                value=json.dumps({"invoice_id": invoice_id, "total_minor": total}).encode(),
            )
        producer.flush()
        consumer.commit()
    consumer.close()
    producer.close()


if __name__ == "__main__":
    main()
