"""Real outages mid-stream: the suite's own broker stopped and started, its
PostgreSQL crash-restarted. Every invoice is decided exactly once, as an
independent oracle says, and the service converges within 15 s of the
server's return."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.e2e.outage_support import assert_decided_once_as_the_oracle_says, own_servers, wait_until
from tests.e2e.test_pipeline_crashes import expected_settlements, service, stop_cleanly, workload
from tests.kafka_server import (
    decisions_by_invoice,
    kafka_bootstrap,
    pipeline_settings,
    produce,
)
from tests.servers import SuiteServers

__all__ = ["kafka_bootstrap"]

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

CONVERGENCE_SECONDS = 15
RELAY_BATCH = 100


def run_through_outage(
    settings: Settings, tmp_path: Path, outage: Callable[[], None], seed: int
) -> tuple[float, Container, dict[str, tuple[int, int, int]]]:
    """Consumer and relay as processes; half the invoices before the outage,
    half right after. Returns how long after the server's return everything
    was decided and published."""
    container = Container(settings)
    grants, invoices = workload(seed=seed, accounts=60, count=2_000)
    for account, amount in grants.items():
        container.ledger.grant(account, f"grant-{account}", "USD", amount, "promotion")
    expected = expected_settlements(grants, invoices)
    half = len(invoices) // 2
    bootstrap = settings.kafka_bootstrap
    recorder = container.ledger.recorder

    def everything_published() -> bool:
        decided = len(decisions_by_invoice(container.ledger)) == len(expected)
        return decided and parts.outbox_relay(container).position() == recorder.max_notification_id()

    with service("consume", settings, tmp_path) as consumer, service("relay", settings, tmp_path) as relay:
        produce(bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in invoices[:half]])
        wait_until(lambda: len(decisions_by_invoice(container.ledger)) >= 100, "the first decisions")
        # When the server goes away mid-stream and comes back
        outage()
        back_at = time.monotonic()
        produce(bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in invoices[half:]])
        converged_at = wait_until(everything_published, "every invoice decided and published", every=0.25)
        assert consumer.poll() is None and relay.poll() is None, "a part exited during the outage"
        assert stop_cleanly(consumer) == 0
        assert stop_cleanly(relay) == 0
    return converged_at - back_at, container, expected


def test_a_broker_stopped_and_started_mid_stream_loses_and_doubles_nothing(
    store_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    servers: SuiteServers = own_servers("PROMOCREDITS_TEST_KAFKA_BOOTSTRAP")
    settings = pipeline_settings(
        store_url, kafka_bootstrap, consumer_batch_size=100, relay_batch_size=RELAY_BATCH
    )

    def broker_outage() -> None:
        servers.stop_kafka()
        time.sleep(8)
        servers.start_kafka()

    took, container, expected = run_through_outage(settings, tmp_path, broker_outage, seed=41)
    print(f"converged {took:.1f}s after the broker came back")
    assert took <= CONVERGENCE_SECONDS, f"converged {took:.1f}s after the broker came back"
    assert_decided_once_as_the_oracle_says(container, settings, expected, repeats_at_most=RELAY_BATCH)
    container.close()


@pytest.mark.postgres
def test_postgresql_crash_restarted_mid_stream_loses_and_doubles_nothing(
    postgres_server: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    from tests.conftest import fresh_postgres_database

    servers = own_servers("PROMOCREDITS_TEST_POSTGRES_URL")
    settings = pipeline_settings(
        fresh_postgres_database(postgres_server),
        kafka_bootstrap,
        consumer_batch_size=100,
        relay_batch_size=RELAY_BATCH,
    )
    took, container, expected = run_through_outage(
        settings, tmp_path, servers.restart_postgres_immediately, seed=43
    )
    print(f"converged {took:.1f}s after PostgreSQL came back")
    assert took <= CONVERGENCE_SECONDS, f"converged {took:.1f}s after PostgreSQL came back"
    assert_decided_once_as_the_oracle_says(container, settings, expected, repeats_at_most=RELAY_BATCH)
    container.close()
