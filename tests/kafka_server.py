"""A real Kafka broker for tests, and small helpers to talk to it.

The broker is PROMOCREDITS_TEST_KAFKA_BOOTSTRAP when set, else the suite's
own broker on free ports (tests/servers.py), else a testcontainers broker when
a Docker engine answers; otherwise the test is skipped locally and FAILS in CI.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from application.ledger import Ledger
from domain.credit_account import CreditAccount
from infra.adapters.kafka.clients import ensure_topics, pipeline_topics
from infra.entrypoints.workers.relay import OutboxRelay
from infra.settings import Settings
from infra.wiring.components import Component, run_components
from tests.servers import ServerStartError, suite_servers, unavailable


def kafka_bootstrap_servers() -> str:
    configured = os.environ.get("PROMOCREDITS_TEST_KAFKA_BOOTSTRAP")
    if configured:
        return configured
    attempts = []
    try:
        return suite_servers().kafka()
    except ServerStartError as error:
        attempts.append(f"local broker: {error}")
    try:
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer("confluentinc/cp-kafka:7.6.0")
        container.start()
        return str(container.get_bootstrap_server())
    except Exception as error:  # any failure means no Docker here
        attempts.append(f"testcontainers: {error}")
    unavailable("Kafka", "; ".join(attempts))
    raise AssertionError("unreachable")


# Topics made by this session's tests; deleted at its end so a developer's
# local broker does not collect thousands of partitions and start ever slower.
_CREATED_TOPICS: list[str] = []


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    bootstrap = kafka_bootstrap_servers()
    yield bootstrap
    if _CREATED_TOPICS:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            admin.delete_topics(_CREATED_TOPICS)
            admin.close()
        except KafkaError:
            pass  # leftovers cost disk, never correctness


def pipeline_settings(
    store_url: str, bootstrap: str, create_topics: bool = True, **overrides: Any
) -> Settings:
    """Settings with topics and a group of their own, so tests never meet."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "database_url": store_url,
        "kafka_bootstrap_servers": bootstrap,
        "invoices_topic": f"test-{suffix}.invoices",
        "dead_letter_topic": f"test-{suffix}.invoices.dlq",
        "voids_topic": f"test-{suffix}.voids",
        "voids_dead_letter_topic": f"test-{suffix}.voids.dlq",
        "settlements_topic": f"test-{suffix}.settlements",
        "ledger_events_topic": f"test-{suffix}.ledger-events",
        "consumer_group": f"test-{suffix}",
        "kafka_partitions": 3,
        "relay_idle_seconds": 0.02,
        # The broker's minimum: a killed consumer's restart waits this long.
        "consumer_session_timeout_ms": 6_000,
    }
    values.update(overrides)
    settings = Settings(**values)
    _CREATED_TOPICS.extend(pipeline_topics(settings))
    # Before anyone produces: the broker would auto-create them otherwise,
    # with its own partition count.
    if create_topics:
        ensure_topics(settings, pipeline_topics(settings), threading.Event())
    return settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `promocredits` subprocess these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"PROMOCREDITS_{name.upper()}"] = str(value)
    return env


def invoice(
    account_id: str, invoice_id: str, total_minor: int, currency: str = "USD", **extra: Any
) -> dict[str, Any]:
    return {
        "event_type": "InvoiceGenerated",
        "event_id": f"evt-{invoice_id}",
        "invoice_id": invoice_id,
        "account_id": account_id,
        "currency": currency,
        "total_minor": total_minor,
        "issued_at": "2026-03-01T09:30:00Z",
        **extra,
    }


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[str, bytes | dict[str, Any]]]) -> None:
    """Send (key, value) pairs; dict values are sent as JSON."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for key, value in messages:
            payload = value if isinstance(value, bytes) else orjson.dumps(value)
            producer.send(topic, key=key.encode(), value=payload)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=5)


def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[ConsumerRecord]], bool],
    timeout: float = 120.0,
) -> list[ConsumerRecord]:
    """Every record of the topic from the start, read until ``until`` holds
    (then a moment longer, to catch anything that should not be there).

    Fails if ``until`` never holds within ``timeout``: a condition that is not
    met is a failure, never a shorter list for the caller to overlook. To
    check that nothing (more) was written, wait for a positive signal that the
    writer is done and use ``read_topic_to_end``.
    """
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = _partitions(reader, topic, timeout)
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while time.monotonic() < deadline:
            for batch in reader.poll(timeout_ms=200).values():
                records.extend(batch)
            if until(records):
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at > 1.0:
                    return records
            else:
                settled_at = None
        raise AssertionError(
            f"{topic}: the awaited records never came within {timeout} s; "
            f"{len(records)} read: {[r.value[:120] for r in records[:10]]}"
        )
    finally:
        reader.close()


def read_topic_to_end(bootstrap: str, topic: str, timeout: float = 120.0) -> list[ConsumerRecord]:
    """Every record the topic holds now, from the start to its current end.

    For "nothing (more) was written" checks, after a positive signal that the
    writer is done (``wait_until_consumed``, ``wait_until_relayed``): what is
    not there by then will never be.
    """
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = _partitions(reader, topic, timeout)
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        ends = reader.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while any(reader.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, f"{topic}: could not read to its end within {timeout} s"
            for batch in reader.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        reader.close()


def wait_until_consumed(bootstrap: str, group: str, topic: str, timeout: float = 120.0) -> None:
    """Wait until the group has committed every message the topic holds now.

    The consumer commits a batch only once its decisions are recorded and its
    dead letters acknowledged, so after this nothing more comes of them.
    """
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    # (a consumer that never subscribes only reads the group's offsets: it
    # does not join the group)
    offsets = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=group)
    try:
        partitions = _partitions(reader, topic, timeout)
        ends = reader.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while True:
            committed = {tp: offsets.committed(tp) or 0 for tp in partitions}
            behind = {tp.partition: (committed[tp], end) for tp, end in ends.items() if committed[tp] < end}
            if not behind:
                return
            assert time.monotonic() < deadline, f"{group} did not consume {topic} in {timeout} s: {behind}"
            time.sleep(0.1)
    finally:
        offsets.close()
        reader.close()


def wait_until_relayed(relay: OutboxRelay, ledger: Ledger, timeout: float = 120.0) -> None:
    """Wait until the relay's recorded position covers every event in the store
    now: everything recorded so far is on the broker, acknowledged."""
    target = ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout
    while relay.position() < target:
        assert time.monotonic() < deadline, f"relayed up to {relay.position()} of {target} in {timeout} s"
        time.sleep(0.05)


def _partitions(reader: KafkaConsumer, topic: str, timeout: float) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = reader.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        time.sleep(0.2)
    raise AssertionError(f"topic {topic} never appeared")


def values(records: Iterable[ConsumerRecord]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]


def headers(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


@contextmanager
def running(components: Sequence[Component]) -> Iterator[None]:
    """Run components in the background for the duration of the block, then
    stop them as SIGTERM would, and fail if one of them failed."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_components(components, stop)
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the pipeline did not stop within 30 s"
    assert not errors, errors


def recorded_events(ledger: Ledger) -> list[Any]:
    """Every domain event in the store, in notification order."""
    events: list[Any] = []
    position = 0
    while True:
        page = ledger.recorder.select_notifications(start=position, limit=1000, inclusive_of_start=False)
        if not page:
            return events
        events.extend(ledger.mapper.to_domain_event(n) for n in page)
        position = page[-1].id


def decisions_by_invoice(ledger: Ledger) -> dict[str, list[CreditAccount.CreditApplied]]:
    found: dict[str, list[CreditAccount.CreditApplied]] = {}
    for event in recorded_events(ledger):
        if isinstance(event, CreditAccount.CreditApplied):
            found.setdefault(event.invoice_id, []).append(event)
    return found
