"""The composition root: builds the application and its adapters from settings,
on demand. The long-running parts are put together from these by
infra.entrypoints.workers.parts."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, cast

from eventsourcing.persistence import TrackingRecorder

from application.ledger import Ledger
from application.startup import creating_tables
from infra.adapters.store.urls import persistence_env, sqlite_path
from infra.settings import Settings

if TYPE_CHECKING:
    from application.explanation import KnownAccounts
    from infra.adapters.views.audit_reader import ViewsAuditReader
    from infra.adapters.views.factory import ViewDatabase
    from infra.adapters.views.store import ViewStoreMixin
    from infra.wiring.components import Component
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

    @cached_property
    def relay_tracking(self) -> TrackingRecorder:
        """Relay positions, in the event store's own database."""
        return creating_tables(self.ledger.factory.tracking_recorder)

    # Read models. Imported on first use, so ledger commands start without
    # loading what only the views need.

    @cached_property
    def views(self) -> ViewDatabase:
        from infra.adapters.views.factory import ViewDatabase

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
        from infra.adapters.views.audit_reader import ViewsAuditReader
        from projections.ledger_views import LedgerViewsProjection

        if not self._views_exist():
            return None
        # Both view recorders are ViewStoreMixin subclasses.
        return ViewsAuditReader(cast("ViewStoreMixin", self.views.recorder), LedgerViewsProjection.name)

    @property
    def known_accounts(self) -> KnownAccounts:
        """Account ids the views know, for the explanation's close matches;
        none when the views do not exist (a support query must not create
        an empty views database)."""
        from infra.adapters.views.account_ids import NoViews, ViewsAccountIds

        if not self._views_exist():
            return NoViews()
        return ViewsAccountIds(cast("ViewStoreMixin", self.views.recorder))

    def _views_exist(self) -> bool:
        """False for a SQLite views database not created yet (a server's is
        always taken to exist)."""
        url = self.settings.views_url
        return not url.startswith("sqlite:///") or sqlite_path(url).exists()

    @cached_property
    def api_ledger(self) -> Ledger:
        """The HTTP API's own ledger, cached like the consumer's. Its request
        threads write concurrently: each unit of work takes its accounts out
        of the cache, so no two share one, and the store's optimistic
        concurrency orders writers of the same account. Separate from the
        consumer's so that neither evicts the other's hot accounts."""
        return Ledger(
            env=persistence_env(self.settings.database_url),
            cache_size=self.settings.account_cache_size,
        )

    def elected(self, part: Component) -> Component:
        """``part``, run only in the replica that holds the store's lock for it:
        the relay and the projector, which every replica running at once would
        publish twice or race on the views."""
        from infra.adapters.locks import leadership_for
        from infra.wiring.leadership import LeaderOnly

        return LeaderOnly(part, leadership_for(self.settings.database_url, part.name))

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.close()
        if "api_ledger" in self.__dict__:
            self.api_ledger.close()
        if "views" in self.__dict__:
            self.views.close()
