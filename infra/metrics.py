"""Every Prometheus metric the service exposes at /metrics, defined once.

Metric objects are plain in-process counters, not clients: defining them here
connects to nothing. Components increment them; the API renders them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
RELAY_LAG = Gauge("promocredits_relay_lag_events", "Events recorded but not yet published by the relay")

# Read models.
PROJECTION_LAG = Gauge("promocredits_projection_lag_events", "Events recorded but not yet in the views")

# The HTTP API. The route template, not the path, keeps label sets bounded.
HTTP_REQUESTS = Counter("promocredits_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "promocredits_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
