"""The relay's producer: where its messages land, and that its long linger
never holds a batch back."""

from __future__ import annotations

import threading
import time

import pytest
from kafka.partitioner.default import murmur2

from infra.adapters.kafka import clients
from infra.entrypoints.workers.relay import FLUSHED_LINGER_MS, OutboxRelay
from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import read_topic_to_end

pytestmark = pytest.mark.kafka


def test_each_account_lands_on_the_default_partitioners_partition(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given events of many accounts
    accounts = [f"acct-{n:03d}" for n in range(60)]
    for account in accounts:
        pipeline.ledger.grant(account, f"grant-{account}", "USD", 100, "promotion")
        pipeline.ledger.apply_invoice(account, f"inv-{account}", "USD", 250)
    relay = OutboxRelay(settings, pipeline.ledger, pipeline.relay_tracking)
    topics = [settings.settlements_topic, settings.ledger_events_topic]
    clients.ensure_topics(settings, topics, threading.Event())
    producer = clients.producer(settings, client_id="test-relay", linger_ms=FLUSHED_LINGER_MS)
    try:
        # When the relay publishes them, in one batch
        started = time.monotonic()
        position = relay._relay_batch(producer, 0)
        took = time.monotonic() - started
    finally:
        producer.close()

    # Then the batch was sent and acknowledged at its flush, not after the linger
    assert position == pipeline.ledger.recorder.max_notification_id()
    assert took < FLUSHED_LINGER_MS / 1000
    # And every message is on the partition kafka's default partitioner picks
    # for its key (consumers rely on it for per-account order)
    for topic in topics:
        records = read_topic_to_end(kafka_bootstrap, topic)
        assert {r.key.decode() for r in records} == set(accounts)
        for record in records:
            expected = (murmur2(record.key) & 0x7FFFFFFF) % settings.kafka_partitions
            assert record.partition == expected
    assert isinstance(producer.config["partitioner"], clients.KeyHashPartitioner)
