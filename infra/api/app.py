"""Assembles the FastAPI application; OpenAPI at /docs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra import metrics
from infra.api import openapi, problems
from infra.api.auth import BearerGate, authorizer
from infra.api.limits import BodyLimit, HeadLimit
from infra.api.routes import accounts_router, analytics_router
from infra.container import Container
from projections.ledger_views import LedgerViewsProjection

log = logging.getLogger("promocredits.api")

READY_TIMEOUT_SECONDS = 2.0


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="Promotional credits",
        version="1",
        description="Balances, usage history and analytics of promotional credits; grants and "
        "calling-credit purchases. Authenticate with `Authorization: Bearer <token>`.",
    )
    problems.install(app)
    openapi.install(app)
    tokens = dict(container.settings.api_tokens)
    if not tokens:
        log.warning("PROMOCREDITS_API_TOKENS is empty: every /v1 request will be refused")
    authorized = authorizer(tokens)
    app.include_router(accounts_router(container, authorized))
    app.include_router(analytics_router(container, authorized))
    # Health checks run on their own threads with a deadline: a database that
    # does not answer must make /readyz and /metrics say so quickly, not hang.
    checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")
    _health(app, container, checks)
    # Outermost last. These refusals cost no work for the body: the gate and
    # the head limit decide from the request head alone, the body limit as
    # the bytes arrive; and every answer, refusals included, is measured.
    app.add_middleware(BodyLimit)
    app.add_middleware(BearerGate, tokens=tokens)
    app.add_middleware(HeadLimit)
    app.add_middleware(Measured)
    # Computed at each scrape, in this process, so it is right in either mode.
    lag = CollectorRegistry()
    lag.register(_ProjectionLag(lambda: _lag_or_nan(container, checks)))
    app.state.projection_lag = lag
    return app


class _ProjectionLag(Collector):
    def __init__(self, measure: Callable[[], float]) -> None:
        self._measure = measure

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "promocredits_projection_lag_events", "Events recorded but not yet in the views", self._measure()
        )


def _lag_or_nan(container: Container, checks: ThreadPoolExecutor) -> float:
    # A scrape must neither fail nor hang because a database is down.
    try:
        return float(
            checks.submit(lambda: container.views_runner.lag()).result(timeout=READY_TIMEOUT_SECONDS)
        )
    except Exception:
        return math.nan


def _health(app: FastAPI, container: Container, checks: ThreadPoolExecutor) -> None:
    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    def probe(what: str, check: Callable[[], int]) -> int | JSONResponse:
        try:
            return checks.submit(check).result(timeout=READY_TIMEOUT_SECONDS)
        except FutureTimeout:
            return problems.problem(503, f"the {what} did not answer within {READY_TIMEOUT_SECONDS:g}s")
        except Exception as error:
            return problems.problem(503, f"the {what} is unreachable: {type(error).__name__}")

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "A database is unreachable"}})
    def readyz() -> Any:
        """The event store and the views answer; how far the views lag behind."""
        head = probe("event store", lambda: container.ledger.recorder.max_notification_id() or 0)
        if isinstance(head, JSONResponse):
            return head
        position = probe(
            "views database", lambda: container.views.store.max_tracking_id(LedgerViewsProjection.name) or 0
        )
        if isinstance(position, JSONResponse):
            return position
        return {
            "status": "ready",
            "event_store_head": head,
            "projection_position": position,
            "projection_lag_events": max(0, head - position),
        }

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
