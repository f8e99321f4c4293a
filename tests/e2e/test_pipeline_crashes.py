"""The pipeline as real `promocredits` processes, killed with SIGKILL at random
moments and restarted: no invoice lost, none decided twice, no event left
unpublished. Expected settlements come from an independent oracle."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from application.entries import event_id
from domain.credit_account import CreditAccount
from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import (
    decisions_by_invoice,
    invoice,
    kafka_bootstrap,
    pipeline_settings,
    produce,
    read_topic,
    read_topic_to_end,
    recorded_events,
    running,
    settings_env,
    values,
    wait_until_consumed,
)

__all__ = ["kafka_bootstrap"]

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

BIN = Path(sys.executable).parent / "promocredits"


@contextmanager
def service(command: str, settings: Settings, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`promocredits COMMAND` running for the block; killed if still alive after."""
    with (logs / f"{command}.log").open("ab") as log:
        process = subprocess.Popen([str(BIN), command], env=settings_env(settings), stdout=log, stderr=log)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def stop_cleanly(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def expected_settlements(
    grants: dict[str, int], invoices: list[dict[str, Any]]
) -> dict[str, tuple[int, int, int]]:
    """The oracle: per account, invoices in the order they were produced take
    min(balance, total); a repeated invoice keeps its first decision."""
    balances = dict(grants)
    decided: dict[str, tuple[int, int, int]] = {}
    for inv in invoices:
        if inv["invoice_id"] in decided:
            continue
        balance = balances.get(inv["account_id"], 0)
        applied = min(balance, inv["total_minor"])
        balances[inv["account_id"]] = balance - applied
        decided[inv["invoice_id"]] = (applied, inv["total_minor"] - applied, balance - applied)
    return decided


def workload(seed: int, accounts: int, count: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    rng = random.Random(seed)
    ids = [f"acct-{n:03}" for n in range(accounts)]
    # Most accounts hold credits, a few none; a few accounts get most invoices.
    grants = {a: rng.randrange(1_000, 50_000) for a in ids if rng.random() < 0.8}
    weights = [1 / (rank + 1) for rank in range(accounts)]
    invoices = []
    for n in range(count):
        account = rng.choices(ids, weights)[0]
        invoices.append(invoice(account, f"inv-2026-{n:05}", rng.choice([0, rng.randrange(1, 6_000)])))
        if rng.random() < 0.05:  # billing sends some invoices twice
            invoices.append(invoices[-1])
    return grants, invoices


def test_a_consumer_killed_mid_batch_and_restarted_decides_every_invoice_exactly_once(
    store_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Given accounts with credits and 1,500 invoices waiting on the topic
    settings = pipeline_settings(store_url, kafka_bootstrap, consumer_batch_size=40)
    container = Container(settings)
    grants, invoices = workload(seed=7, accounts=40, count=1_500)
    for account, amount in grants.items():
        container.ledger.grant(account, f"grant-{account}", "USD", amount, "promotion")
    produce(kafka_bootstrap, settings.invoices_topic, [(i["account_id"], i) for i in invoices])
    expected = expected_settlements(grants, invoices)
    first_decision = len(grants) * 2  # Opened + granted per account
    recorder = container.ledger.recorder

    def decided() -> int:
        return (recorder.max_notification_id() or 0) - first_decision

    # When the consumer is killed with SIGKILL while deciding, twice, and
    # then runs to the end
    rng = random.Random(11)
    for round_ in range(2):
        with service("consume", settings, tmp_path) as consumer:
            target = decided() + rng.randrange(100, 300)
            wait_for(lambda t=target: decided() >= t, f"decisions before kill {round_}")  # type: ignore[misc]
            consumer.kill()
            consumer.wait()
        assert decided() < len(expected), "the consumer finished before it was killed"
    with service("consume", settings, tmp_path) as consumer:
        wait_for(
            lambda: len(decisions_by_invoice(container.ledger)) >= len(expected), "every decision", every=0.5
        )
        assert stop_cleanly(consumer) == 0
    with running([parts.outbox_relay(container)]):
        settlements = read_topic(
            kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= len(expected)
        )
    # (every invoice committed means every dead letter was acknowledged before)
    wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.invoices_topic)
    dead = read_topic_to_end(kafka_bootstrap, settings.dead_letter_topic)

    # Then every invoice has exactly one recorded decision, with the oracle's amounts
    decisions = decisions_by_invoice(container.ledger)
    assert {invoice_id: len(events) for invoice_id, events in decisions.items()} == dict.fromkeys(expected, 1)
    # And exactly one distinct settlement event id, with the same amounts
    by_invoice: dict[str, set[str]] = {}
    amounts = {}
    for s in values(settlements):
        by_invoice.setdefault(s["invoice_id"], set()).add(s["event_id"])
        amounts[s["invoice_id"]] = (s["credits_applied_minor"], s["amount_due_minor"], s["balance_minor"])
    assert {k: len(v) for k, v in by_invoice.items()} == dict.fromkeys(expected, 1)
    assert amounts == expected
    assert dead == []
    container.close()


def test_a_relay_killed_and_restarted_leaves_no_event_unpublished(
    store_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Given 1,200 recorded ledger events
    settings = pipeline_settings(store_url, kafka_bootstrap, relay_batch_size=50)
    container = Container(settings)
    grants, invoices = workload(seed=3, accounts=30, count=1_000)
    for account, amount in grants.items():
        container.ledger.grant(account, f"grant-{account}", "USD", amount, "compensation")
    from application.ledger import InvoiceRequest

    requests = [InvoiceRequest(i["account_id"], i["invoice_id"], "USD", i["total_minor"]) for i in invoices]
    for start in range(0, len(requests), 200):
        container.ledger.apply_invoices(requests[start : start + 200])
    relay = parts.outbox_relay(container)

    # When the relay is killed with SIGKILL mid-way, twice, while new events
    # keep being recorded, and then runs to the end
    rng = random.Random(5)
    for round_ in range(2):
        with service("relay", settings, tmp_path) as process:
            target = relay.position() + rng.randrange(50, 400)
            wait_for(lambda t=target: relay.position() >= t, f"relay progress before kill {round_}")  # type: ignore[misc]
            process.kill()
            process.wait()
        container.ledger.grant("acct-late", f"grant-late-{round_}", "EUR", 100 + round_, "goodwill")
    with service("relay", settings, tmp_path) as process:
        last = container.ledger.recorder.max_notification_id()
        wait_for(lambda: relay.position() == last, "the relay to catch up")
        assert stop_cleanly(process) == 0

    # Then every ledger event (all but the bookkeeping Opened) is on the topic
    events = [e for e in recorded_events(container.ledger) if not isinstance(e, CreditAccount.Opened)]
    wanted = {event_id(e.originator_id, e.originator_version) for e in events}
    published = read_topic(
        kafka_bootstrap, settings.ledger_events_topic, until=lambda r: len(r) >= len(wanted)
    )
    found = values(published)
    assert {m["event_id"] for m in found} == wanted
    # And a message republished after a kill is the same message, not a new one
    first_seen: dict[str, bytes] = {}
    for record in published:
        key = orjson.loads(record.value)["event_id"]
        assert first_seen.setdefault(key, record.value) == record.value
    # And every decision is also on the settlements topic
    applied = {
        event_id(e.originator_id, e.originator_version)
        for e in events
        if isinstance(e, CreditAccount.CreditApplied)
    }
    settlements = read_topic(
        kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= len(applied)
    )
    assert {s["event_id"] for s in values(settlements)} == applied
    container.close()


def test_a_grant_written_through_the_cli_while_the_consumer_runs_is_applied_to_the_next_invoice(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # Given the consumer running on the embedded store, and gina without credits
    settings = pipeline_settings(f"sqlite:///{tmp_path}/ledger.db", kafka_bootstrap)
    container = Container(settings)

    def decisions() -> dict[str, list[CreditAccount.CreditApplied]]:
        return decisions_by_invoice(container.ledger)

    with service("consume", settings, tmp_path) as consumer:
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-gina", invoice("acct-gina", "inv-2026-101", 2000))],
        )
        wait_for(lambda: "inv-2026-101" in decisions(), "the first decision")

        # When support grants her 30.00 through the CLI
        granted = subprocess.run(
            [
                str(BIN),
                "grant",
                "acct-gina",
                "30.00",
                "--currency",
                "USD",
                "--grant-id",
                "grant-cli-1",
                "--reason",
                "goodwill",
                "--json",
            ],
            env=settings_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert granted.returncode == 0, granted.stderr
        assert orjson.loads(granted.stdout)["balance_minor"] == 3000

        # And two more invoices of 20.00 arrive
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-gina", invoice("acct-gina", f"inv-2026-10{n}", 2000)) for n in (2, 3)],
        )
        wait_for(lambda: {"inv-2026-102", "inv-2026-103"} <= set(decisions()), "the later decisions")
        assert stop_cleanly(consumer) == 0

    # Then the first invoice kept its zero-credit decision and the grant
    # paid the next one in full and half of the last
    with running([parts.outbox_relay(container)]):
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 3)
    assert [
        (s["invoice_id"], s["credits_applied_minor"], s["amount_due_minor"], s["balance_minor"])
        for s in values(settlements)
    ] == [
        ("inv-2026-101", 0, 2000, 0),
        ("inv-2026-102", 2000, 0, 1000),
        ("inv-2026-103", 1000, 1000, 0),
    ]
    container.close()


def test_promocredits_run_settles_an_invoice_and_stops_cleanly_on_sigterm(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # Given the whole service running as one process on the embedded store
    settings = pipeline_settings(
        f"sqlite:///{tmp_path}/ledger.db",
        kafka_bootstrap,
        views_database_url=f"sqlite:///{tmp_path}/views.db",
        api_port=0,
    )
    with service("run", settings, tmp_path) as process:
        # When support grants credits and billing produces an invoice
        granted = subprocess.run(
            [str(BIN), "grant", "acct-kim", "12.50", "--currency", "USD", "--grant-id", "grant-kim-1",
             "--reason", "refund", "--json"],
            env=settings_env(settings), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert granted.returncode == 0, granted.stderr
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-kim", invoice("acct-kim", "inv-2026-301", 5000))],
        )

        # Then the settlement comes back with the right amounts
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)
        assert [
            (s["invoice_id"], s["credits_applied_minor"], s["amount_due_minor"], s["balance_minor"])
            for s in values(settlements)
        ] == [("inv-2026-301", 1250, 3750, 0)]
        # And SIGTERM stops every part cleanly
        assert stop_cleanly(process) == 0
