"""The process-wide container the commands share, built on first use."""

from __future__ import annotations

from application.ledger import Ledger
from infra.container import Container
from infra.store.urls import check_ledger_exists

_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def ledger() -> Ledger:
    return container().ledger


def existing_ledger() -> Ledger:
    """The ledger for a command that only reads: it must already exist."""
    check_ledger_exists(container().settings.database_url)
    return ledger()
