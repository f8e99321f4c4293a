"""The composition root: builds every component from settings, on demand."""

from __future__ import annotations

from functools import cached_property

from application.ledger import Ledger
from infra.settings import Settings
from infra.store.urls import persistence_env


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

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.close()
