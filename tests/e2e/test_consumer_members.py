"""Two and three consumer processes in one group, members killed with SIGKILL
and new ones joining while invoices arrive: every invoice decided exactly
once, as the oracle says, and published exactly once."""

from __future__ import annotations

import random
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest

from infra.entrypoints.workers import parts
from infra.wiring.container import Container
from tests.e2e.outage_support import assert_decided_once_as_the_oracle_says, stop, wait_until
from tests.e2e.test_pipeline_crashes import expected_settlements, service, stop_cleanly, workload
from tests.kafka_server import (
    decisions_by_invoice,
    kafka_bootstrap,
    pipeline_settings,
    produce,
)

__all__ = ["kafka_bootstrap"]

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]


@pytest.mark.parametrize("members", [2, 3])
def test_members_killed_and_joining_while_invoices_arrive_decide_each_exactly_once(
    store_url: str, kafka_bootstrap: str, tmp_path: Path, members: int
) -> None:
    # Given a group of consumers and a relay, and accounts with credits
    settings = pipeline_settings(store_url, kafka_bootstrap, kafka_partitions=6, consumer_batch_size=50)
    container = Container(settings)
    grants, invoices = workload(seed=70 + members, accounts=80, count=2_400)
    for account, amount in grants.items():
        container.ledger.grant(account, f"grant-{account}", "USD", amount, "promotion")
    expected = expected_settlements(grants, invoices)
    rng = random.Random(members)
    chunks = [invoices[n : n + 400] for n in range(0, len(invoices), 400)]
    with ExitStack() as stack:
        started = 0

        def joined() -> subprocess.Popen[bytes]:
            # A member of its own log, back once it has joined the group: one
            # told to stop while still starting up would die of the signal.
            nonlocal started
            started += 1
            logs = tmp_path / f"member-{started}"
            logs.mkdir()
            member = stack.enter_context(service("consume", settings, logs))
            log = logs / "consume.log"
            wait_until(lambda: log.exists() and "as group" in log.read_text(), f"member {started} to join")
            return member

        relay = stack.enter_context(service("relay", settings, tmp_path))
        group = [joined() for _ in range(members)]
        for round_, chunk in enumerate(chunks):
            produce(kafka_bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in chunk])
            if round_ % 2 == 0:
                # When a member is killed mid-stream and a new one joins
                wait_until(lambda: len(decisions_by_invoice(container.ledger)) > 0, "some decisions")
                victim = group.pop(rng.randrange(len(group)))
                stop(victim)
                group.append(joined())

        relay_position = parts.outbox_relay(container).position

        def everything_published() -> bool:
            decided = len(decisions_by_invoice(container.ledger)) == len(expected)
            return decided and relay_position() == container.ledger.recorder.max_notification_id()

        wait_until(everything_published, "every invoice decided and published", timeout=300, every=0.5)
        assert all(member.poll() is None for member in group)
        assert all(stop_cleanly(member) == 0 for member in group)
        assert stop_cleanly(relay) == 0

    # Then every invoice has exactly one decision with the oracle's amounts and,
    # the relay never failing over, exactly one settlement
    assert_decided_once_as_the_oracle_says(container, settings, expected, repeats_at_most=0)
    container.close()
