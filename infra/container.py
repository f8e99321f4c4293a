"""The composition root: builds every component from settings, on demand."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from eventsourcing.persistence import TrackingRecorder

from application.ledger import Ledger
from infra.settings import Settings
from infra.store.urls import persistence_env

if TYPE_CHECKING:
    from infra.components import Component
    from infra.kafka_runtime.relay import OutboxRelay


class Container:
    """One per process. Nothing connects until a component is first asked for."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(
            env=persistence_env(self.settings.database_url),
            cache_size=self.settings.account_cache_size,
        )

    # The Kafka pipeline. kafka-python is imported here, not at the top, so
    # commands that never touch Kafka start without loading it.

    @cached_property
    def relay_tracking(self) -> TrackingRecorder:
        """Relay positions, in the event store's own database."""
        return self.ledger.factory.tracking_recorder()

    @cached_property
    def invoice_consumer(self) -> Component:
        from infra.kafka_runtime.consumer import InvoiceConsumer

        return InvoiceConsumer(self.settings, self.ledger)

    @cached_property
    def outbox_relay(self) -> OutboxRelay:
        from infra.kafka_runtime.relay import OutboxRelay

        return OutboxRelay(self.settings, self.ledger, self.relay_tracking)

    def service_components(self) -> list[Component]:
        """What `promocredits run` runs side by side, each in its own thread.
        Add a long-running part (projections, the HTTP API) by appending it."""
        return [self.invoice_consumer, self.outbox_relay]

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.close()
