"""Every Prometheus metric the service exposes at /metrics, defined once.

Metric objects are plain in-process counters, not clients: defining them here
connects to nothing. Components increment them; the API renders them. When
`promocredits run` runs each part in a process of its own it sets
PROMETHEUS_MULTIPROC_DIR, every process writes its metrics there, and the API
renders them all together.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# The Kafka pipeline.
INVOICES_CONSUMED = Counter(
    "promocredits_invoices_consumed", "InvoiceGenerated messages read from the inbound topic"
)
INVOICES_SETTLED = Counter(
    "promocredits_invoices_settled", "Invoice decisions recorded (zero-credit decisions included)"
)
INVOICES_DEAD_LETTERED = Counter(
    "promocredits_invoices_dead_lettered", "Inbound messages copied to the dead-letter topic", ["reason"]
)
TRANSIENT_FAILURES = Counter(
    "promocredits_pipeline_transient_failures", "Batches retried after a transient failure", ["component"]
)
RELAY_PUBLISHED = Counter("promocredits_relay_published", "Messages the outbox relay published")
RELAY_LAG = Gauge(
    "promocredits_relay_lag_events",
    "Events recorded but not yet published by the relay",
    multiprocess_mode="livemax",
)

# Leadership: which parts of this replica are the store's active ones.
PART_ACTIVE = Gauge(
    "promocredits_part_active",
    "1 while this replica's part is the active one of the store, 0 while it stands by",
    ["part"],
    multiprocess_mode="livemax",
)
PART_ROLE_SINCE = Gauge(
    "promocredits_part_role_since_seconds",
    "Unix time at which this replica's part took its current role",
    ["part"],
    multiprocess_mode="livemax",
)

# The HTTP API. The route template, not the path, keeps label sets bounded.
HTTP_REQUESTS = Counter("promocredits_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "promocredits_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)


def _registry() -> CollectorRegistry:
    """The metrics of every process of the service."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def exposition() -> bytes:
    """Prometheus text of every process of the service."""
    return generate_latest(_registry())


def replica_roles() -> dict[str, dict[str, object]]:
    """Each elected part of this replica: active or standby, and since when."""
    found: dict[str, dict[str, object]] = {}
    for family in _registry().collect():
        for sample in family.samples:
            part = sample.labels.get("part")
            if part is None:
                continue
            if sample.name == "promocredits_part_active":
                found.setdefault(part, {})["role"] = "active" if sample.value == 1 else "standby"
            elif sample.name == "promocredits_part_role_since_seconds":
                since = datetime.fromtimestamp(sample.value, UTC).isoformat(timespec="seconds")
                found.setdefault(part, {})["since"] = since.replace("+00:00", "Z")
    return dict(sorted(found.items()))
