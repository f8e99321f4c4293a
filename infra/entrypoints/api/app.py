"""Assembles the FastAPI application; OpenAPI at /docs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.explanation import Explainer
from infra.entrypoints.api import console, openapi, problems
from infra.entrypoints.api.auth import BearerGate, authorizer
from infra.entrypoints.api.explanation_routes import explanation_router
from infra.entrypoints.api.invoice_routes import invoices_router
from infra.entrypoints.api.limits import BodyLimit, HeadLimit
from infra.entrypoints.api.routes import AccountWriter, accounts_router, analytics_router
from infra.settings import Settings
from infra.wiring import metrics
from projections.ledger_views import LedgerViewsProjection
from projections.ports import ViewStore
from projections.readiness import ReadinessLimits, StallWatch, unready_reason

log = logging.getLogger("promocredits.api")

READY_TIMEOUT_SECONDS = 2.0

T = TypeVar("T")


@dataclass(frozen=True)
class ApiPorts:
    """What the HTTP API uses, and nothing more: its settings, the event log's
    head (for readiness), the views it reads and the ledger it writes through.

    The three are asked for at each use, not at start: the API comes up, and
    says what is missing on /readyz, while a database is still down.
    """

    settings: Settings
    event_log: Callable[[], EventLogHead]
    views: Callable[[], ViewStore]
    writer: Callable[[], AccountWriter]
    # The support explanation and console: the ledger's entries and the known account ids.
    explainer: Callable[[], Explainer]


class EventLogHead(Protocol):
    def max_notification_id(self) -> int | None: ...


def create_app(ports: ApiPorts) -> FastAPI:
    app = FastAPI(
        title="Promotional credits",
        version="1",
        description="Balances, usage history and analytics of promotional credits; grants and "
        "calling-credit purchases. Authenticate with `Authorization: Bearer <token>`.",
    )
    problems.install(app)
    openapi.install(app)
    tokens = dict(ports.settings.api_tokens)
    if not tokens:
        log.warning("PROMOCREDITS_API_TOKENS is empty: every /v1 request will be refused")
    authorized = authorizer(tokens)
    app.include_router(accounts_router(ports.views, ports.writer, authorized))
    app.include_router(analytics_router(ports.views, authorized))
    app.include_router(invoices_router(ports.writer, authorized))
    app.include_router(explanation_router(ports.explainer, authorized))
    console.mount(app, console.ConsolePorts(tokens, ports.views, ports.writer, ports.explainer))
    # Health checks run on their own threads with a deadline: a database that
    # does not answer must make /readyz and /metrics say so quickly, not hang.
    checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")
    _health(app, ports, checks)
    # Outermost last. These refusals cost no work for the body: the gate and
    # the head limit decide from the request head alone, the body limit as
    # the bytes arrive; and every answer, refusals included, is measured.
    app.add_middleware(BodyLimit)
    app.add_middleware(BearerGate, tokens=tokens)
    app.add_middleware(HeadLimit)
    app.add_middleware(Measured)
    # Computed at each scrape, in this process, so it is right in either mode.
    lag = CollectorRegistry()
    lag.register(_ProjectionLag(lambda: _projection_figures(ports, checks)))
    app.state.projection_lag = lag
    return app


class _ProjectionLag(Collector):
    """The views' lag and health, as gauges read from the databases."""

    def __init__(self, measure: Callable[[], tuple[float, float, float]]) -> None:
        self._measure = measure

    def collect(self) -> Iterable[Metric]:
        lag, quarantined, failing = self._measure()
        yield GaugeMetricFamily(
            "promocredits_projection_lag_events", "Events recorded but not yet in the views", lag
        )
        yield GaugeMetricFamily(
            "promocredits_projection_quarantined_events",
            "Events the views could not take, set aside until a rebuild",
            quarantined,
        )
        yield GaugeMetricFamily(
            "promocredits_projection_failing",
            "1 while the projector fails to reach a database, else 0",
            failing,
        )


def _projection_figures(ports: ApiPorts, checks: ThreadPoolExecutor) -> tuple[float, float, float]:
    """(lag, events set aside, failing); NaN for each when a database does
    not answer, since a scrape must neither fail nor hang."""

    def measure() -> tuple[float, float, float]:
        head = ports.event_log().max_notification_id() or 0
        health = ports.views().health(LedgerViewsProjection.name)
        failing = float(health.failing_since_ms is not None)
        return float(max(0, head - health.position)), float(health.quarantined), failing

    try:
        return checks.submit(measure).result(timeout=READY_TIMEOUT_SECONDS)
    except Exception:
        return math.nan, math.nan, math.nan


def _health(app: FastAPI, ports: ApiPorts, checks: ThreadPoolExecutor) -> None:
    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    limits = ReadinessLimits(
        ports.settings.readiness_max_lag_events, ports.settings.readiness_max_stall_seconds * 1000
    )
    stall_watch = StallWatch()

    def probe(what: str, check: Callable[[], T]) -> T | JSONResponse:
        try:
            return checks.submit(check).result(timeout=READY_TIMEOUT_SECONDS)
        except FutureTimeout:
            return problems.problem(503, f"the {what} did not answer within {READY_TIMEOUT_SECONDS:g}s")
        except Exception as error:
            return problems.problem(503, f"the {what} is unreachable: {type(error).__name__}")

    @app.get(
        "/readyz",
        tags=["operations"],
        responses={
            503: {
                "description": "A database is unreachable, events were set aside from the views, "
                "or the projector fails, has stopped, or lags too far behind"
            }
        },
    )
    def readyz() -> Any:
        """The event store and the views answer, and the views follow the
        ledger: nothing set aside, the projector neither failing nor stopped,
        the lag within PROMOCREDITS_READINESS_MAX_LAG_EVENTS."""
        head = probe("event store", lambda: ports.event_log().max_notification_id() or 0)
        if isinstance(head, JSONResponse):
            return head
        health = probe("views database", lambda: ports.views().health(LedgerViewsProjection.name))
        if isinstance(health, JSONResponse):
            return health
        figures: dict[str, Any] = {
            "event_store_head": head,
            "projection_position": health.position,
            "projection_lag_events": max(0, head - health.position),
            "projection_quarantined_events": health.quarantined,
            # Which replica publishes and projects: one per store is active.
            "roles": metrics.replica_roles(),
        }
        reason = unready_reason(head, health, time.time_ns() // 1_000_000, limits, stall_watch)
        if reason is not None:
            return problems.problem(503, reason, **figures)
        return {"status": "ready", **figures}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus(request: Request) -> Response:
        """Prometheus text exposition."""
        body = metrics.exposition() + generate_latest(request.app.state.projection_lag)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


# Any token is a valid method to the HTTP parser; label values must stay a
# small fixed set, whatever clients send.
_MEASURED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Measured:
    """Counts and times every answer by method, route and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            # The matched route's template ("/v1/accounts/{account_id}/..."),
            # so account ids never become label values.
            route = getattr(scope.get("route"), "path_format", "unmatched")
            method = scope["method"] if scope["method"] in _MEASURED_METHODS else "other"
            metrics.HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
