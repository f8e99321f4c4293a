"""The InvoiceGenerated and InvoiceVoided consumer: poll, decide the batch in
one store transaction, dead-letter what can never succeed, then commit the offsets.

A kill -9 at any instant is safe: before the offset commit the batch is simply
read again, and the ledger returns the decisions it already recorded (one
decision per invoice_id), so nothing is lost and nothing applied twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata

from application.ledger import Ledger
from consumers.invoices import DeadLetter, Inbound, InvoiceBatchHandler, Settled
from infra.adapters.kafka import clients
from infra.adapters.kafka.retry import Backoff
from infra.settings import Settings
from infra.wiring import metrics

log = logging.getLogger("promocredits.consumer")

Polled = Mapping[TopicPartition, Sequence[ConsumerRecord]]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """kafka-python calls these inside poll(), between two of our batches, so
    there is no half-done batch to drop; what may be stale is the ledger's
    cache of accounts that another consumer now writes."""

    def __init__(self, ledger: Ledger, owned: set[int], invoices_topic: str) -> None:
        self._ledger = ledger
        self._owned = owned
        self._invoices_topic = invoices_topic

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(f"{p.topic}[{p.partition}]" for p in revoked))
        self._owned.difference_update(p.partition for p in revoked if p.topic == self._invoices_topic)
        self._ledger.forget_cached_accounts()

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(f"{p.topic}[{p.partition}]" for p in assigned))
        self._owned.update(p.partition for p in assigned if p.topic == self._invoices_topic)
        self._ledger.forget_cached_accounts()


class InvoiceConsumer:
    name = "consumer"

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self._settings = settings
        self._ledger = ledger
        self._handler = InvoiceBatchHandler(ledger)
        # Partitions of the inbound invoices topic this consumer owns now (for
        # operators and tests; the group decides).
        self.partitions_owned: set[int] = set()

    def run(self, stop: threading.Event) -> None:
        try:
            clients.ensure_topics(self._settings, clients.pipeline_topics(self._settings), stop)
        except clients.StoppedError:
            return
        consumer = clients.consumer(self._settings, client_id="promocredits-consumer")
        topics = [self._settings.invoices_topic, self._settings.voids_topic]
        for topic in topics:
            clients.wait_for_partitions(consumer, topic, stop)
        listener = _Rebalance(self._ledger, self.partitions_owned, self._settings.invoices_topic)
        consumer.subscribe(topics, listener=listener)
        dead_letters = clients.producer(self._settings, client_id="promocredits-dlq")
        backoff = Backoff()
        log.info("consuming %s as group %s", ", ".join(topics), self._settings.consumer_group)
        try:
            while not stop.is_set():
                polled = consumer.poll(timeout_ms=500, max_records=self._settings.consumer_batch_size)
                if not polled:
                    continue
                try:
                    self._process(consumer, dead_letters, polled)
                    backoff.reset()
                except CommitFailedError as error:
                    # The group moved these partitions elsewhere meanwhile.
                    # Their new owner reads the batch again and gets the very
                    # decisions recorded here, so there is nothing to undo.
                    log.warning("offset commit rejected after a rebalance: %s", error)
                    self._ledger.forget_cached_accounts()
                except Exception as error:
                    # The store or the broker is down: never skip, never
                    # dead-letter; read the same batch again after a pause.
                    metrics.TRANSIENT_FAILURES.labels("consumer").inc()
                    log.warning("batch failed, retrying: %s: %s", type(error).__name__, error)
                    self._ledger.forget_cached_accounts()
                    _rewind(consumer, polled)
                    backoff.wait(stop)
        finally:
            # No commit on close: only recorded batches are ever committed.
            consumer.close(autocommit=False)
            dead_letters.close(timeout=5)
            log.info("consumer stopped")

    def _process(self, consumer: KafkaConsumer, dead_letters: KafkaProducer, polled: Polled) -> None:
        voids = self._settings.voids_topic
        batch = [
            Inbound(record, record.value, void=record.topic == voids)
            for records in polled.values()
            for record in records
        ]
        metrics.INVOICES_CONSUMED.inc(len(batch))
        decisions = self._handler.handle(batch)  # recorded durably when it returns
        futures = [self._dead_letter(dead_letters, d) for d in decisions if isinstance(d, DeadLetter)]
        if futures:
            dead_letters.flush(timeout=clients.ACK_TIMEOUT_SECONDS)
            for future in futures:
                future.get(timeout=clients.ACK_TIMEOUT_SECONDS)
        consumer.commit(
            {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in polled.items()}
        )
        metrics.INVOICES_SETTLED.inc(sum(isinstance(d, Settled) for d in decisions))
        for decision in decisions:
            if isinstance(decision, DeadLetter):
                metrics.INVOICES_DEAD_LETTERED.labels(decision.reason).inc()

    def _dead_letter(self, producer: KafkaProducer, letter: DeadLetter[ConsumerRecord]):  # type: ignore[no-untyped-def]
        record = letter.ref
        log.warning(
            "dead-lettering %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            letter.reason,
            letter.error,
        )
        headers = [
            *(record.headers or []),
            ("dlq.reason", letter.reason.encode()),
            ("dlq.error", letter.error.encode()),
            ("dlq.original.topic", record.topic.encode()),
            ("dlq.original.partition", str(record.partition).encode()),
            ("dlq.original.offset", str(record.offset).encode()),
        ]
        # Each inbound topic has its dead letters apart, for its own producer to look at.
        topic = (
            self._settings.voids_dead_letter_topic
            if record.topic == self._settings.voids_topic
            else self._settings.dead_letter_topic
        )
        return producer.send(topic, key=record.key, value=record.value, headers=headers)


def _rewind(consumer: KafkaConsumer, polled: Polled) -> None:
    """Go back to the first message of the failed batch on every partition we
    still own, so the next poll returns it again."""
    owned = consumer.assignment()
    for tp, records in polled.items():
        if tp in owned and records:
            consumer.seek(tp, records[0].offset)
