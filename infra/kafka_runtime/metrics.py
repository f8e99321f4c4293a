"""Prometheus metrics of the pipeline, served later by the HTTP API's /metrics."""

from prometheus_client import Counter, Gauge

INVOICES_CONSUMED = Counter("promocredits_invoices_consumed_total", "InvoiceGenerated messages consumed")
INVOICES_SETTLED = Counter("promocredits_invoices_settled_total", "Invoices whose decision is recorded")
INVOICES_DEAD_LETTERED = Counter(
    "promocredits_invoices_dead_lettered_total", "Messages copied to the dead-letter topic", ["reason"]
)
TRANSIENT_FAILURES = Counter(
    "promocredits_pipeline_transient_failures_total",
    "Batches retried after a transient failure",
    ["component"],
)
RELAY_PUBLISHED = Counter("promocredits_relay_published_total", "Messages the outbox relay published")
RELAY_LAG = Gauge("promocredits_relay_lag_events", "Events recorded but not yet published")
