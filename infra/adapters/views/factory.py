"""Builds the view store named by PROMOCREDITS_VIEWS_DATABASE_URL."""

from __future__ import annotations

from typing import cast

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment

from application.startup import creating_tables
from infra.adapters.store.urls import persistence_env
from infra.adapters.views.postgres_views import PostgresViewRecorder
from infra.adapters.views.sqlite_views import SQLiteViewRecorder
from projections.ledger_views import LedgerViewsProjection
from projections.ports import ViewStore

# PostgreSQL names the tracking table after this: "views_tracking".
ENV_NAME = "views"


class ViewDatabase:
    """The view store and the connection pool behind it."""

    def __init__(self, url: str) -> None:
        env = persistence_env(url)
        env.pop("APPLICATION_RECORDER_TOPIC", None)
        # The API reads from several threads while a projection writes.
        env.setdefault("POSTGRES_POOL_SIZE", "4")
        env.setdefault("POSTGRES_MAX_OVERFLOW", "4")
        self.factory: InfrastructureFactory[TrackingRecorder] = InfrastructureFactory.construct(
            Environment(ENV_NAME, env)
        )
        recorder_class = (
            PostgresViewRecorder
            if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
            else SQLiteViewRecorder
        )
        self.recorder = cast(
            "PostgresViewRecorder | SQLiteViewRecorder",
            creating_tables(lambda: self.factory.tracking_recorder(recorder_class)),
        )
        # Every process that opens the views checks their schema; the first
        # to find an earlier one empties it, for the projector to rebuild.
        try:
            creating_tables(lambda: self.recorder.ensure_schema(LedgerViewsProjection.name))
        except BaseException:
            self.factory.close()
            raise

    @property
    def store(self) -> ViewStore:
        return self.recorder

    def close(self) -> None:
        self.factory.close()
