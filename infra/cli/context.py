"""The process-wide container the commands share, built on first use."""

from __future__ import annotations

from application.ledger import Ledger
from infra.container import Container

_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def ledger() -> Ledger:
    return container().ledger
