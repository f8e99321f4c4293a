"""Three replicas of `promocredits run` on one PostgreSQL and one broker: one
active relay and projector among them, consumers sharing the partitions, and
the relay leader killed over and over without losing or doubling a decision."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.conftest import fresh_postgres_database
from tests.e2e.outage_support import (
    active_parts,
    assert_decided_once_as_the_oracle_says,
    children_of,
    settlement_counts,
    stop,
    wait_until,
)
from tests.e2e.test_pipeline_crashes import expected_settlements, workload
from tests.kafka_server import (
    decisions_by_invoice,
    invoice,
    kafka_bootstrap,
    pipeline_settings,
    produce,
    read_topic,
    settings_env,
)
from tests.servers import free_port

__all__ = ["kafka_bootstrap"]

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(900)]

BIN = Path(sys.executable).parent / "promocredits"
RELAY_BATCH = 200
TAKEOVER_SECONDS = 10


class Replica:
    """One `promocredits run` with an API port of its own."""

    def __init__(self, name: str, settings: Settings, logs: Path) -> None:
        self.name = name
        self.api_port = free_port()
        self._env = settings_env(settings) | {"PROMOCREDITS_API_PORT": str(self.api_port)}
        self._log = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen([str(BIN), "run"], env=self._env, stdout=log, stderr=log)

    def active(self) -> dict[str, bool]:
        return active_parts(self.api_port) if self.running() else {}

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def part_pid(self, part: str) -> int:
        assert self.process is not None
        [pid] = [pid for pid, cmd in children_of(self.process.pid).items() if cmd.split()[3:4] == [part]]
        return pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop(self.process)


@contextlib.contextmanager
def replicas(settings: Settings, logs: Path, count: int = 3) -> Iterator[list[Replica]]:
    started = [Replica(f"replica-{n}", settings, logs) for n in range(count)]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        for replica in started:
            replica.stop()


def the_active(group: list[Replica], part: str) -> list[Replica]:
    return [r for r in group if r.active().get(part)]


def everything_published(container: Container, expected: dict[str, tuple[int, int, int]]) -> bool:
    if len(decisions_by_invoice(container.ledger)) < len(expected):
        return False
    return parts.outbox_relay(container).position() == container.ledger.recorder.max_notification_id()


def distinct_invoices(seed: int, accounts: int, count: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Every invoice a new one, over accounts of which most hold credits."""
    rng = random.Random(seed)
    ids = [f"acct-{n:03}" for n in range(accounts)]
    grants = {a: rng.randrange(1_000, 500_000) for a in ids if rng.random() < 0.8}
    return grants, [invoice(rng.choice(ids), f"inv-{n:06}", rng.randrange(0, 6_000)) for n in range(count)]


def granted(container: Container, grants: dict[str, int]) -> None:
    for account, amount in grants.items():
        container.ledger.grant(account, f"grant-{account}", "USD", amount, "promotion")


@pytest.fixture
def settings(postgres_server: str, kafka_bootstrap: str) -> Settings:
    url = fresh_postgres_database(postgres_server)
    return pipeline_settings(
        url, kafka_bootstrap, kafka_partitions=6, relay_batch_size=RELAY_BATCH, consumer_batch_size=500
    )


def test_three_replicas_without_faults_publish_each_settlement_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    # Given three replicas on one store, and 20,000 invoices over 500 accounts
    container = Container(settings)
    grants, invoices = distinct_invoices(seed=61, accounts=500, count=20_000)
    granted(container, grants)
    expected = expected_settlements(grants, invoices)
    with replicas(settings, tmp_path) as group:
        wait_until(lambda: len(the_active(group, "relay")) == 1, "one active relay", every=0.5)
        # When billing sends them all
        produce(settings.kafka_bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in invoices])
        wait_until(lambda: everything_published(container, expected), "every invoice published", 300, 0.5)
        # Then one replica relays and one projects, and all three stay up
        assert len(the_active(group, "relay")) == 1
        assert len(the_active(group, "projections")) == 1
        assert all(r.running() for r in group)
    # And the settlements topic holds exactly one message per invoice
    settlements = read_topic(
        settings.kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= len(expected)
    )
    assert len(settlements) == len(expected) == len({i["invoice_id"] for i in invoices})
    assert set(settlement_counts(settlements)) == set(expected)
    container.close()


def test_the_relay_leader_killed_repeatedly_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    # Given three replicas, and invoices arriving while the relay leader is killed three times
    container = Container(settings)
    grants, invoices = workload(seed=67, accounts=200, count=6_000)
    granted(container, grants)
    expected = expected_settlements(grants, invoices)
    chunks = [invoices[n : n + 1_000] for n in range(0, len(invoices), 1_000)]
    takeovers: list[float] = []
    with replicas(settings, tmp_path) as group:
        wait_until(lambda: len(the_active(group, "relay")) == 1, "one active relay", every=0.5)
        for round_, chunk in enumerate(chunks):
            produce(settings.kafka_bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in chunk])
            if round_ % 2 == 1:
                # When the active relay is killed with SIGKILL mid-stream
                [leader] = the_active(group, "relay")
                leader_process = leader.process
                assert leader_process is not None
                killed_at = time.monotonic()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(leader.part_pid("relay"), signal.SIGKILL)
                # Then another replica takes over within 10 s
                took_over_at = wait_until(
                    lambda le=leader: [r for r in the_active(group, "relay") if r is not le] != [],
                    "a standby to take over",
                    timeout=60,
                    every=0.1,
                )
                takeovers.append(took_over_at - killed_at)
                # And the replica that lost a part stops whole, and is started again
                leader_process.wait(timeout=60)
                assert leader_process.returncode != 0
                leader.start()
        wait_until(lambda: everything_published(container, expected), "every invoice published", 300, 0.5)
    print(f"takeovers after SIGKILL of the relay leader: {[round(t, 1) for t in takeovers]} s")
    assert len(takeovers) == 3
    assert max(takeovers) <= TAKEOVER_SECONDS
    # And every invoice has exactly one decision, with the oracle's amounts, and
    # repeats on the settlements topic come only from failovers, one batch each at most
    assert_decided_once_as_the_oracle_says(
        container, settings, expected, repeats_at_most=RELAY_BATCH * len(takeovers)
    )
    container.close()
