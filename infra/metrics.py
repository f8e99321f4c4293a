"""Every Prometheus metric the service exposes at /metrics, defined once.

Metric objects are plain in-process counters, not clients: defining them here
connects to nothing. Components increment them; the API renders them. When
`promocredits run` runs each part in a process of its own it sets
PROMETHEUS_MULTIPROC_DIR, every process writes its metrics there, and the API
renders them all together.
"""

from __future__ import annotations

import os

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
RELAY_LAG = Gauge(
    "promocredits_relay_lag_events",
    "Events recorded but not yet published by the relay",
    multiprocess_mode="livemax",
)

# The HTTP API. The route template, not the path, keeps label sets bounded.
HTTP_REQUESTS = Counter("promocredits_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "promocredits_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)


def exposition() -> bytes:
    """Prometheus text of every process of the service."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
