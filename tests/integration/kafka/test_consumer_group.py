"""Several consumers in one group: partitions move between them, and a
consumer that lost its partitions cannot record a different decision."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from application.ledger import Ledger
from consumers.invoices import Inbound, InvoiceBatchHandler, Settled
from infra.adapters.store.urls import persistence_env
from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import decisions_by_invoice, invoice, produce, read_topic, running, values
from tests.threads import CheckedThread

pytestmark = pytest.mark.kafka


def test_partitions_moving_between_consumers_lose_no_invoice_and_decide_none_twice(
    settings: Settings, kafka_bootstrap: str
) -> None:
    # Given two service instances in one group on the same store, with
    # credits on every account
    first, second = Container(settings), Container(settings)
    accounts = [f"acct-{n:02}" for n in range(12)]
    for account in accounts:
        first.ledger.grant(account, f"grant-{account}", "USD", 5_000, "promotion")
    invoices = [invoice(accounts[n % 12], f"inv-2026-{n:04}", 700) for n in range(600)]
    stop_first = threading.Event()
    first_consumer, second_consumer = parts.invoice_consumer(first), parts.invoice_consumer(second)
    first_thread = CheckedThread(first_consumer.run, stop_first, name="first-consumer")

    with running([second_consumer, parts.outbox_relay(second)]):
        first_thread.start()
        # (both members own partitions before anything flows, so the first
        # really has work to hand over)
        deadline = time.monotonic() + 30
        while not (first_consumer.partitions_owned and second_consumer.partitions_owned):
            assert time.monotonic() < deadline, "the group never split the partitions"
            time.sleep(0.1)
        # When invoices flow while the first instance leaves half-way
        # (a rebalance hands its partitions to the second)
        produce(kafka_bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in invoices[:300]])
        # (the first leaves once decisions are flowing, not after a guessed pause)
        deadline = time.monotonic() + 120
        while len(decisions_by_invoice(second.ledger)) < 100:
            assert time.monotonic() < deadline, "no invoices were decided"
            time.sleep(0.1)
        stop_first.set()
        # (a first consumer that crashed instead of leaving cleanly would
        # hand over its partitions too, and hide the crash)
        first_thread.finish(timeout=60)
        produce(kafka_bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in invoices[300:]])
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 600)

    # Then every invoice has one decision and one settlement, and each
    # account paid its first seven invoices (7 x 700 <= 5,000) and no more
    assert {k: len(v) for k, v in decisions_by_invoice(second.ledger).items()} == {
        i["invoice_id"]: 1 for i in invoices
    }
    assert len({s["event_id"] for s in values(settlements)}) == 600
    applied: dict[str, int] = {}
    for s in values(settlements):
        applied[s["account_id"]] = applied.get(s["account_id"], 0) + s["credits_applied_minor"]
    assert applied == dict.fromkeys(accounts, 5_000)
    first.close()
    second.close()


def test_a_consumer_with_a_stale_view_of_an_account_returns_the_recorded_decision(store_url: str) -> None:
    # Given two consumers' ledgers on one store; the old owner has cached the
    # account (it decided an invoice) before its partition moved
    old_owner = Ledger(env=persistence_env(store_url))
    new_owner = Ledger(env=persistence_env(store_url))
    old_owner.grant("acct-hana", "grant-001", "USD", 1_000, "goodwill")
    old_owner.apply_invoice("acct-hana", "inv-2026-001", "USD", 100)
    # And the new owner decided the next invoice meanwhile
    recorded = new_owner.apply_invoice("acct-hana", "inv-2026-002", "USD", 800)

    # When the old owner, still holding a stale copy, processes the same
    # message late, and then one the new owner never saw
    handler = InvoiceBatchHandler(old_owner)
    late = handler.handle(
        [
            Inbound(1, orjson.dumps(invoice("acct-hana", "inv-2026-002", 800))),
            Inbound(2, orjson.dumps(invoice("acct-hana", "inv-2026-003", 800))),
        ]
    )

    # Then it answers with the decision already recorded, not a new one, and
    # decides the next invoice on the true balance (100 left, not 900)
    assert isinstance(late[0], Settled) and late[0].settlement == recorded
    assert isinstance(late[1], Settled)
    assert (late[1].settlement.credits_applied_minor, late[1].settlement.balance_minor) == (100, 0)
    assert [len(v) for v in decisions_by_invoice(new_owner).values()] == [1, 1, 1]
    old_owner.close()
    new_owner.close()
