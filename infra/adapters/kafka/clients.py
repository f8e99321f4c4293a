"""kafka-python clients and topics, built from settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.cluster import ClusterMetadata
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner import DefaultPartitioner, Partitioner
from kafka.partitioner.default import murmur2

from infra.adapters.kafka.retry import Backoff
from infra.settings import Settings

log = logging.getLogger("promocredits.kafka")

# Generous enough for a broker leader change, short enough that a dead broker
# is noticed and the batch retried.
ACK_TIMEOUT_SECONDS = 30


# kafka-python backs off reconnecting exponentially up to 30 s by default, so
# a broker back after a short outage went unused for up to half a minute.
# One second between attempts costs nothing while it is down.
RECONNECT = {"reconnect_backoff_ms": 100, "reconnect_backoff_max_ms": 1_000}
# A request to a broker that died without closing its connections fails
# after this long instead of 30 s, and the client moves on to reconnect.
REQUEST_TIMEOUT_MS = 15_000


class StoppedError(Exception):
    """Asked to stop before the work could be done."""


class KeyHashPartitioner(Partitioner):  # type: ignore[misc]  # kafka-python is untyped
    """Kafka's default partitioner, remembering each key's murmur2 hash.

    Consumers rely on every message of an account landing on the partition
    the default partitioner picks for its key. kafka-python computes murmur2
    in pure Python for every record, which was a tenth of the relay's CPU,
    though the relay sends the same few thousand account keys over and over.
    The hash depends on the key's bytes alone, so a remembered one is never
    stale, even after partitions are added: the choice is still the hash
    modulo the topic's current partition count, as the default's.
    """

    def __init__(self, keys: int = 65_536) -> None:
        self._hash: Callable[[bytes], int] = lru_cache(maxsize=keys)(murmur2)
        self._unkeyed = DefaultPartitioner()

    def partition(
        self,
        topic: str,
        key: object,
        serialized_key: bytes | None,
        value: object,
        serialized_value: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or partitions is None:
            # Unkeyed records, and the default's own error for an unknown topic.
            chosen: int = self._unkeyed.partition(
                topic, key, serialized_key, value, serialized_value, cluster
            )
            return chosen
        return self.choose(bytes(serialized_key), sorted(partitions))

    def choose(self, key: bytes, ordered: Sequence[int]) -> int:
        """The partition of ``key`` among a topic's partitions, in order: for
        a sender that passes each record's partition itself, reading the
        topic's partitions once per batch instead of once per record."""
        return ordered[(self._hash(key) & 0x7FFFFFFF) % len(ordered)]


def producer(settings: Settings, client_id: str, *, linger_ms: int = 5) -> KafkaProducer:
    """``linger_ms``: how long a batch may wait for more records. A caller
    that flushes after every burst of sends can let batches wait for the
    flush, so the sender thread does not compete with it while it sends."""
    # Idempotent, acks from every in-sync replica: a retried send is never
    # written twice and an acknowledged one is not lost with one broker.
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        batch_size=256 * 1024,
        compression_type=None,
        partitioner=KeyHashPartitioner(),
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        # Metadata refreshed this often finds a restarted broker's partition
        # leaders again quickly.
        metadata_max_age_ms=5_000,
        **RECONNECT,
    )


def consumer(settings: Settings, client_id: str, **config: Any) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        group_id=settings.consumer_group,
        # Offsets are committed by hand, only after the batch is recorded.
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.consumer_batch_size,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=min(3_000, settings.consumer_session_timeout_ms // 3),
        group_instance_id=settings.consumer_instance_id,
        fetch_max_bytes=64 * 1024 * 1024,
        # A topic created moments before the group formed may have no
        # partition metadata at the first assignment; a short refresh
        # interval lets the group see it and rebalance in seconds.
        metadata_max_age_ms=5_000,
        request_timeout_ms=max(REQUEST_TIMEOUT_MS, settings.consumer_session_timeout_ms + 5_000),
        **RECONNECT,
        **config,
    )


def pipeline_topics(settings: Settings) -> list[str]:
    return [
        settings.invoices_topic,
        settings.dead_letter_topic,
        settings.voids_topic,
        settings.voids_dead_letter_topic,
        settings.settlements_topic,
        settings.ledger_events_topic,
    ]


def ensure_topics(settings: Settings, topics: Iterable[str], stop: threading.Event) -> None:
    """Create the missing topics, retrying while the broker is unreachable."""
    backoff = Backoff(ceiling=5.0)
    wanted = list(dict.fromkeys(topics))
    while not stop.is_set():
        try:
            _create_missing(settings, wanted)
            return
        except KafkaError as error:
            log.warning("kafka at %s unavailable (%s); retrying", settings.kafka_bootstrap, error)
            backoff.wait(stop)
    raise StoppedError("stopped before the topics could be created")


def wait_for_partitions(consumer: KafkaConsumer, topic: str, stop: threading.Event) -> None:
    """Block until this client's metadata knows the topic's partitions, so the
    group's first assignment already includes them."""
    backoff = Backoff(ceiling=1.0)
    while not stop.is_set():
        if consumer.partitions_for_topic(topic):
            return
        backoff.wait(stop)


def _create_missing(settings: Settings, topics: list[str]) -> None:
    # A short bootstrap timeout: the caller retries, and a SIGTERM during an
    # outage is honoured within seconds.
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="promocredits-admin",
        bootstrap_timeout_ms=3_000,
        **RECONNECT,
    )
    try:
        missing = [t for t in topics if t not in set(admin.list_topics())]
        if not missing:
            return
        spec = {
            "num_partitions": settings.kafka_partitions,
            "replication_factor": settings.kafka_replication_factor,
        }
        try:
            admin.create_topics({t: dict(spec) for t in missing}, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            # Another instance won the race for one of them; look again.
            _create_missing(settings, topics)
            return
        log.info("created topics %s with %d partitions", ", ".join(missing), settings.kafka_partitions)
    finally:
        admin.close()
