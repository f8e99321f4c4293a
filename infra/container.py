"""The composition root: builds every component from settings, on demand."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, cast

from eventsourcing.persistence import TrackingRecorder

from application.ledger import Ledger
from application.startup import creating_tables
from infra.settings import Settings
from infra.store.urls import persistence_env

if TYPE_CHECKING:
    from infra.components import Component
    from infra.kafka_runtime.consumer import InvoiceConsumer
    from infra.kafka_runtime.relay import OutboxRelay
    from infra.views.audit_reader import ViewsAuditReader
    from infra.views.factory import ViewDatabase
    from infra.views.store import ViewStoreMixin
    from projections.runner import ViewsRunner


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
        return creating_tables(self.ledger.factory.tracking_recorder)

    @cached_property
    def invoice_consumer(self) -> InvoiceConsumer:
        from infra.kafka_runtime.consumer import InvoiceConsumer

        return InvoiceConsumer(self.settings, self.ledger)

    @cached_property
    def outbox_relay(self) -> OutboxRelay:
        from infra.kafka_runtime.relay import OutboxRelay

        return OutboxRelay(self.settings, self.ledger, self.relay_tracking)

    # Read models and the HTTP API. Imported on first use, so ledger commands
    # start without loading FastAPI.

    @cached_property
    def views(self) -> ViewDatabase:
        from infra.views.factory import ViewDatabase

        return ViewDatabase(self.settings.views_url)

    @cached_property
    def views_runner(self) -> ViewsRunner:
        from projections.ledger_views import LedgerViewsProjection
        from projections.runner import ViewsRunner

        projection = LedgerViewsProjection(view=self.views.recorder)
        return ViewsRunner(
            projection,
            self.ledger.recorder,
            self.ledger.mapper,
            # The views' position is recorded under the projection's name, so
            # it can never be mistaken for the relay's position of the ledger
            # even when both live in one SQLite file's "tracking" table.
            LedgerViewsProjection.name,
            batch_size=self.settings.projection_batch_size,
        )

    @property
    def audit_views(self) -> ViewsAuditReader | None:
        """The balance view for verification, when the views exist: an
        auditor's check must not create an empty views database."""
        from infra.views.audit_reader import ViewsAuditReader
        from projections.ledger_views import LedgerViewsProjection

        url = self.settings.views_url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return None
        # Both view recorders are ViewStoreMixin subclasses.
        return ViewsAuditReader(cast("ViewStoreMixin", self.views.recorder), LedgerViewsProjection.name)

    @cached_property
    def api_ledger(self) -> Ledger:
        """The HTTP API's own ledger. A Ledger keeps the aggregates it wrote in
        memory and is not safe for concurrent writers, so the API does not
        share the consumer's and serialises its own writes (see infra.api)."""
        return Ledger(env=persistence_env(self.settings.database_url), cache_size=0)

    @cached_property
    def projections_component(self) -> Component:
        """The projector, active in one replica of the store at a time."""
        from infra.views.runtime import ProjectionsComponent

        return self._elected(ProjectionsComponent(self.views_runner, self.settings.projection_poll_seconds))

    @cached_property
    def relay_component(self) -> Component:
        """The outbox relay, active in one replica of the store at a time:
        every replica relaying would publish everything once per replica."""
        return self._elected(self.outbox_relay)

    def _elected(self, component: Component) -> Component:
        from infra.leadership import LeaderOnly, leadership_for

        return LeaderOnly(component, leadership_for(self.settings.database_url, component.name))

    @cached_property
    def api_component(self) -> Component:
        from infra.api.server import ApiComponent

        return ApiComponent(self, self.settings.api_host, self.settings.api_port)

    def service_components(self) -> list[Component]:
        """What `promocredits run` runs side by side, each in its own thread.
        Add a long-running part (projections, the HTTP API) by appending it."""
        return [self.invoice_consumer, self.relay_component, self.projections_component, self.api_component]

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.close()
        if "api_ledger" in self.__dict__:
            self.api_ledger.close()
        if "views" in self.__dict__:
            self.views.close()
