"""The process-wide container the commands share, built on first use."""

from __future__ import annotations

from application.ledger import Ledger
from infra.adapters.store.urls import check_ledger_exists
from infra.entrypoints.cli.output import EXIT_FAILURE, fail
from infra.wiring.components import Component, ComponentFailedError
from infra.wiring.container import Container
from infra.wiring.serving import serve

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


def serve_components(components: list[Component]) -> None:
    """Run until SIGTERM/SIGINT; a component that fails stops the rest and exits 1."""
    try:
        serve(components)
    except ComponentFailedError as error:
        fail(str(error), EXIT_FAILURE)
    finally:
        container().close()
