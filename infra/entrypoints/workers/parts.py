"""The long-running parts of `promocredits run`, put together from the
composition root for the commands that run them. Each part gets only the
pieces it uses; kafka-python and FastAPI are imported by the parts that need
them, so ledger commands start without either."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.wiring.components import Component
from infra.wiring.container import Container

if TYPE_CHECKING:
    from infra.entrypoints.api.server import ApiComponent
    from infra.entrypoints.workers.consumer import InvoiceConsumer
    from infra.entrypoints.workers.relay import OutboxRelay


def invoice_consumer(container: Container) -> InvoiceConsumer:
    from infra.entrypoints.workers.consumer import InvoiceConsumer

    return InvoiceConsumer(container.settings, container.ledger)


def outbox_relay(container: Container) -> OutboxRelay:
    from infra.entrypoints.workers.relay import OutboxRelay

    return OutboxRelay(container.settings, container.ledger, container.relay_tracking)


def relay(container: Container) -> Component:
    """The outbox relay, active in one replica of the store at a time."""
    return container.elected(outbox_relay(container))


def projector(container: Container) -> Component:
    """The projector, active in one replica of the store at a time."""
    from infra.entrypoints.workers.projector import ProjectionsComponent

    return container.elected(
        ProjectionsComponent(container.views_runner, container.settings.projection_poll_seconds)
    )


def api(container: Container, host: str | None = None, port: int | None = None) -> ApiComponent:
    from application.explanation import Explainer
    from infra.entrypoints.api.app import ApiPorts
    from infra.entrypoints.api.server import ApiComponent

    settings = container.settings
    ports = ApiPorts(
        settings,
        event_log=lambda: container.ledger.recorder,
        views=lambda: container.views.store,
        writer=lambda: container.api_ledger,
        explainer=lambda: Explainer(container.api_ledger, container.known_accounts),
    )
    return ApiComponent(
        ports,
        host if host is not None else settings.api_host,
        port if port is not None else settings.api_port,
    )


def service(container: Container) -> list[Component]:
    """Every part of `promocredits run`, in the order they start."""
    return [invoice_consumer(container), relay(container), projector(container), api(container)]
