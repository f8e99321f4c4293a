"""The outbox relay: publishes recorded ledger events, in notification order,
and records how far it got in the event store's own database.

The position is written only after the broker acknowledged every message up
to it, so a crash republishes at most the unacknowledged tail, with the same
event ids (at-least-once, stable ids), and nothing recorded is ever skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, Tracking, TrackingRecorder
from eventsourcing.utils import get_topic
from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from application.entries import ENTRY_CLASSES
from application.ledger import EventStreams, Ledger
from application.stored_fields import StoredFields
from consumers.publications import Channel, Publisher
from consumers.stored_publications import StoredPublisher
from domain.credit_account import CreditAccount
from infra.adapters.kafka import clients
from infra.adapters.kafka.retry import Backoff
from infra.settings import Settings
from infra.wiring import metrics

log = logging.getLogger("promocredits.relay")

# Every batch ends in a flush, which sends whatever is waiting; with a linger
# longer than a batch takes, the producer's sender thread wakes for that
# flush (or a full batch) rather than every few milliseconds while the relay
# is still sending. Its wakeups, and the two threads passing the GIL back and
# forth, cost the relay a fifth of its CPU. A batch's first messages reach
# the broker later, by at most the batch's own duration; the position, which
# waits for the flush, is recorded no later than before.
FLUSHED_LINGER_MS = 1_000


class EventDecoder:
    """The mapper's ``to_domain_event`` for the account events the relay
    publishes, parsed with orjson (``StoredFields``): the standard library's
    JSON decoder, calling the transcoder back for every object, was most of
    what reading a batch cost. Other topics, and whatever ``StoredFields``
    cannot vouch for, go to the mapper.
    """

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self._mapper = mapper
        self.fields = StoredFields(mapper)
        classes = (CreditAccount.Opened, *ENTRY_CLASSES)
        self._classes: dict[str, type] = {get_topic(cls): cls for cls in classes}

    def __call__(self, stored: StoredEvent) -> object:
        cls = self._classes.get(stored.topic)
        if cls is None:
            return self._mapper.to_domain_event(stored)
        return self.fields.event(stored, cls)


class LedgerAccountDirectory:
    """Accounts' business ids, from the first events of their streams."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def account_ids_of(self, originator_ids: Collection[UUID]) -> dict[UUID, str]:
        recorder = self._ledger.recorder
        if isinstance(recorder, EventStreams):
            firsts = [
                stream[0] for stream in recorder.events_of(list(originator_ids), first_only=True).values()
            ]
        else:
            firsts = [e for i in originator_ids for e in recorder.select_events(i, lte=1)]
        found: dict[UUID, str] = {}
        for stored in firsts:
            opened = self._ledger.mapper.to_domain_event(stored)
            if isinstance(opened, CreditAccount.Opened):
                found[opened.originator_id] = opened.account_id
        return found


class OutboxRelay:
    name = "relay"

    def __init__(self, settings: Settings, ledger: Ledger, tracking: TrackingRecorder) -> None:
        self._settings = settings
        self._ledger = ledger
        self._tracking = tracking
        decode = EventDecoder(ledger.mapper)
        self._publisher = StoredPublisher(Publisher(LedgerAccountDirectory(ledger)), decode.fields, decode)
        self._partitioner = clients.KeyHashPartitioner()
        self._topics = {
            Channel.SETTLEMENTS: settings.settlements_topic,
            Channel.LEDGER_EVENTS: settings.ledger_events_topic,
        }
        # The position belongs to the destination: pointing the relay at new
        # topics publishes the whole history there.
        self.tracking_name = f"kafka-relay:{settings.settlements_topic}:{settings.ledger_events_topic}"

    def position(self) -> int:
        return self._tracking.max_tracking_id(self.tracking_name) or 0

    def run(self, stop: threading.Event) -> None:
        try:
            clients.ensure_topics(self._settings, self._topics.values(), stop)
        except clients.StoppedError:
            return
        producer = clients.producer(
            self._settings, client_id="promocredits-relay", linger_ms=FLUSHED_LINGER_MS
        )
        backoff = Backoff()
        position = self.position()
        log.info("relaying ledger events after notification %d", position)
        try:
            while not stop.is_set():
                try:
                    published_up_to = self._relay_batch(producer, position)
                    backoff.reset()
                except Exception as error:
                    # Store or broker down: keep the position, publish the
                    # same events again once they are back.
                    metrics.TRANSIENT_FAILURES.labels("relay").inc()
                    log.warning("relay batch failed, retrying: %s: %s", type(error).__name__, error)
                    backoff.wait(stop)
                    # Another relay on the same store may have recorded a
                    # later position (ours was then refused as not newer):
                    # go on from there rather than repeat a batch forever.
                    position = self._recorded_position_or(position)
                    continue
                if published_up_to is None:
                    stop.wait(self._settings.relay_idle_seconds)
                else:
                    position = published_up_to
        finally:
            producer.close(timeout=5)
            log.info("relay stopped at notification %d", position)

    def _recorded_position_or(self, position: int) -> int:
        try:
            return max(position, self.position())
        except Exception:  # the store is still down: keep ours
            return position

    def _route(self, producer: KafkaProducer, channel: Channel) -> tuple[str, list[int]]:
        """The channel's topic and its partitions now, in order. Choosing each
        record's partition here, as the default partitioner would, spares the
        producer copying and sorting the topic's partitions for every record
        (7% of the relay's CPU samples under py-spy)."""
        topic = self._topics[channel]
        return topic, sorted(producer.partitions_for(topic))

    def _relay_batch(self, producer: KafkaProducer, position: int) -> int | None:
        """Publish the next batch after ``position``; return the new position,
        or None when everything recorded is published."""
        recorder = self._ledger.recorder
        notifications = recorder.select_notifications(
            start=position, limit=self._settings.relay_batch_size, inclusive_of_start=False
        )
        if not notifications:
            metrics.RELAY_LAG.set(0)
            return None
        futures: list[FutureRecordMetadata] = []
        settlements = self._route(producer, Channel.SETTLEMENTS)
        ledger_events = self._route(producer, Channel.LEDGER_EVENTS)
        choose = self._partitioner.choose
        for publication in self._publisher.publications(notifications):
            topic, partitions = settlements if publication.channel is Channel.SETTLEMENTS else ledger_events
            key = publication.key.encode()
            futures.append(
                producer.send(
                    topic,
                    key=key,
                    value=publication.value,
                    headers=[("event_id", publication.event_id.encode())],
                    partition=choose(key, partitions),
                )
            )
        producer.flush(timeout=clients.ACK_TIMEOUT_SECONDS)
        for future in futures:
            future.get(timeout=clients.ACK_TIMEOUT_SECONDS)  # raises unless acknowledged
        last = notifications[-1].id
        self._tracking.insert_tracking(Tracking(self.tracking_name, last))
        metrics.RELAY_PUBLISHED.inc(len(futures))
        metrics.RELAY_LAG.set(max((recorder.max_notification_id() or 0) - last, 0))
        return last
