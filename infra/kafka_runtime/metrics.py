"""Metrics of the pipeline: the shared ones from infra.metrics (served at
/metrics), plus what only the pipeline reports."""

from prometheus_client import Counter

from infra.metrics import INVOICES_CONSUMED, INVOICES_DEAD_LETTERED, INVOICES_SETTLED, RELAY_LAG

TRANSIENT_FAILURES = Counter(
    "promocredits_pipeline_transient_failures", "Batches retried after a transient failure", ["component"]
)
RELAY_PUBLISHED = Counter("promocredits_relay_published", "Messages the outbox relay published")

__all__ = [
    "INVOICES_CONSUMED",
    "INVOICES_DEAD_LETTERED",
    "INVOICES_SETTLED",
    "RELAY_LAG",
    "RELAY_PUBLISHED",
    "TRANSIENT_FAILURES",
]
