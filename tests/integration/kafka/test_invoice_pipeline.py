"""The invoice pipeline against a real broker and a real store: invoices in,
settlements and ledger events out, dead letters for what can never succeed."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path

import orjson
import pytest
from eventsourcing.persistence import OperationalError, Tracking, TrackingRecorder
from kafka import KafkaAdminClient

from application.entries import event_id
from application.ledger import Ledger
from consumers.contracts import InvoiceCreditsApplied, LedgerEvent
from domain.credit_account import CreditAccount
from infra.entrypoints.workers import parts
from infra.entrypoints.workers.consumer import InvoiceConsumer
from infra.entrypoints.workers.relay import OutboxRelay
from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import (
    decisions_by_invoice,
    headers,
    invoice,
    pipeline_settings,
    produce,
    read_topic,
    read_topic_to_end,
    recorded_events,
    running,
    values,
    wait_until_consumed,
    wait_until_relayed,
)

pytestmark = pytest.mark.kafka


def run_pipeline(pipeline: Container) -> AbstractContextManager[None]:
    return running([parts.invoice_consumer(pipeline), parts.outbox_relay(pipeline)])


def test_an_invoice_comes_back_as_a_settlement_with_the_right_amounts(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given alice holds 10.00 USD of credits
    pipeline.ledger.grant("acct-alice", "grant-001", "USD", 1000, "goodwill")
    with run_pipeline(pipeline):
        # When billing generates a 25.00 USD invoice for her
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-alice", invoice("acct-alice", "inv-2026-001", 2500))],
        )
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)
        ledger_events = read_topic(kafka_bootstrap, settings.ledger_events_topic, until=lambda r: len(r) >= 2)

    # Then billing learns that 10.00 was applied and 15.00 is still due
    assert len(settlements) == 1
    assert settlements[0].key == b"acct-alice"
    settlement = InvoiceCreditsApplied.model_validate_json(settlements[0].value)
    assert (settlement.invoice_id, settlement.account_id, settlement.currency) == (
        "inv-2026-001",
        "acct-alice",
        "USD",
    )
    assert settlement.invoice_total_minor == 2500
    assert settlement.credits_applied_minor == 1000
    assert settlement.amount_due_minor == 1500
    assert settlement.balance_minor == 0
    # And the ledger-events topic carries the grant and the application, the
    # application under the settlement's event id
    published = [LedgerEvent.model_validate_json(r.value).root for r in ledger_events]
    assert [e.event_type for e in published] == ["CreditGranted", "CreditApplied"]
    assert published[1].event_id == settlement.event_id
    assert all(r.key == b"acct-alice" for r in ledger_events)


def test_an_account_without_credits_gets_a_zero_credit_decision_that_stands(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    with run_pipeline(pipeline):
        # Given bob holds no credits when his invoice arrives
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-bob", invoice("acct-bob", "inv-2026-002", 4000))],
        )
        first = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)
        # When he is granted credits and the same invoice is delivered again
        pipeline.ledger.grant("acct-bob", "grant-002", "USD", 5000, "promotion")
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-bob", invoice("acct-bob", "inv-2026-002", 4000))],
        )
        # (the grant alone already makes two ledger events: only the group's
        # committed offset proves the second delivery was handled)
        wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.invoices_topic)
        wait_until_relayed(parts.outbox_relay(pipeline), pipeline.ledger)
        ledger_events = read_topic_to_end(kafka_bootstrap, settings.ledger_events_topic)
        settlements = read_topic_to_end(kafka_bootstrap, settings.settlements_topic)

    # Then the first decision (nothing applied, everything due) is the only one
    assert values(first) == values(settlements)
    [decision] = values(settlements)
    assert (decision["credits_applied_minor"], decision["amount_due_minor"]) == (0, 4000)
    assert [e["event_type"] for e in values(ledger_events)] == ["CreditApplied", "CreditGranted"]
    assert pipeline.ledger.balance("acct-bob").balances[0].balance_minor == 5000


def test_a_redelivered_invoice_is_decided_once_and_settled_under_one_event_id(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    pipeline.ledger.grant("acct-carol", "grant-003", "EUR", 700, "refund")
    message = invoice("acct-carol", "inv-2026-003", 1000, currency="EUR")
    with run_pipeline(pipeline):
        # When the same message arrives three times
        produce(kafka_bootstrap, settings.invoices_topic, [("acct-carol", message)] * 3)
        # (an empty dead-letter topic means something only once all three
        # copies are handled, and the settlements only once all is relayed)
        wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.invoices_topic)
        wait_until_relayed(parts.outbox_relay(pipeline), pipeline.ledger)
        dead = read_topic_to_end(kafka_bootstrap, settings.dead_letter_topic)
        settlements = read_topic_to_end(kafka_bootstrap, settings.settlements_topic)

    # Then one decision is recorded and published, none dead-lettered
    assert len(decisions_by_invoice(pipeline.ledger)["inv-2026-003"]) == 1
    assert [(s["invoice_id"], s["credits_applied_minor"]) for s in values(settlements)] == [
        ("inv-2026-003", 700)
    ]
    assert dead == []


def test_the_same_invoice_id_with_different_content_goes_to_the_dead_letter_topic(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    original = invoice("acct-dave", "inv-2026-004", 1000)
    altered = invoice("acct-dave", "inv-2026-004", 9000)
    with run_pipeline(pipeline):
        produce(kafka_bootstrap, settings.invoices_topic, [("acct-dave", original), ("acct-dave", altered)])
        dead = read_topic(kafka_bootstrap, settings.dead_letter_topic, until=lambda r: len(r) >= 1)
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)

    # Then the altered copy is dead-lettered unchanged, saying why and from where
    [letter] = dead
    assert letter.value == orjson.dumps(altered)
    assert letter.key == b"acct-dave"
    found = headers(letter)
    assert found["dlq.reason"] == "conflict"
    assert "inv-2026-004" in found["dlq.error"]
    assert found["dlq.original.topic"] == settings.invoices_topic
    assert int(found["dlq.original.partition"]) in range(settings.kafka_partitions)
    assert int(found["dlq.original.offset"]) == 1
    # And billing only ever hears of the original decision
    assert [s["invoice_total_minor"] for s in values(settlements)] == [1000]


BROKEN = {
    "plain text": (b"this is not json", "not_json"),
    "truncated JSON": (b'{"event_type": "InvoiceGenerated", "invoice_id": "inv-x"', "not_json"),
    "missing fields": (
        orjson.dumps({"event_type": "InvoiceGenerated", "invoice_id": "inv-2026-010"}),
        "invalid",
    ),
    "total as a string": (orjson.dumps(invoice("acct-erin", "inv-2026-011", "1000")), "invalid"),  # type: ignore[arg-type]
    "total as a float": (orjson.dumps(invoice("acct-erin", "inv-2026-012", 10.5)), "invalid"),  # type: ignore[arg-type]
    "negative total": (orjson.dumps(invoice("acct-erin", "inv-2026-013", -1)), "invalid"),
    "unknown currency": (orjson.dumps(invoice("acct-erin", "inv-2026-014", 100, currency="XYZ")), "invalid"),
    "wrong event type": (
        orjson.dumps(invoice("acct-erin", "inv-2026-016", 100, event_type="InvoicePaid")),
        "invalid",
    ),
}


def test_non_json_and_invalid_messages_are_dead_lettered_and_later_ones_still_settle(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    with run_pipeline(pipeline):
        # Given every kind of broken message, each followed by a good one
        # (with an extra field, which is fine)
        messages: list[tuple[str, bytes | dict[str, object]]] = []
        for n, (bad, _reason) in enumerate(BROKEN.values()):
            messages.append(("acct-erin", bad))
            messages.append(("acct-erin", invoice("acct-erin", f"inv-2026-1{n:02}", 300, channel="web")))
        produce(kafka_bootstrap, settings.invoices_topic, messages)
        dead = read_topic(kafka_bootstrap, settings.dead_letter_topic, until=lambda r: len(r) >= len(BROKEN))
        settlements = read_topic(
            kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= len(BROKEN)
        )

    # Then each broken one is dead-lettered unchanged with its reason and a
    # readable error, in the order they came
    assert [letter.value for letter in dead] == [bad for bad, _ in BROKEN.values()]
    assert [headers(letter)["dlq.reason"] for letter in dead] == [reason for _, reason in BROKEN.values()]
    assert all(headers(letter)["dlq.error"] for letter in dead)
    assert [int(headers(letter)["dlq.original.offset"]) for letter in dead] == list(
        range(0, 2 * len(BROKEN), 2)
    )
    # And every good one after them settles
    expected = [f"inv-2026-1{n:02}" for n in range(len(BROKEN))]
    assert [s["invoice_id"] for s in values(settlements)] == expected
    assert sorted(decisions_by_invoice(pipeline.ledger)) == expected


class FlakyLedger:
    """The real ledger behind a store that is down for the first calls."""

    def __init__(self, ledger: Ledger, failures: int) -> None:
        self._ledger = ledger
        self.failures_left = failures

    def settle(self, requests):  # type: ignore[no-untyped-def]
        if self.failures_left:
            self.failures_left -= 1
            raise OperationalError("database is unavailable")
        return self._ledger.settle(requests)

    def forget_cached_accounts(self) -> None:
        self._ledger.forget_cached_accounts()


def test_a_store_outage_is_retried_never_dead_lettered_nor_skipped(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given the store fails the first three batches
    pipeline.ledger.grant("acct-frank", "grant-005", "USD", 200, "compensation")
    flaky = FlakyLedger(pipeline.ledger, failures=3)
    consumer = InvoiceConsumer(settings, flaky)  # type: ignore[arg-type]
    with running([consumer, parts.outbox_relay(pipeline)]):
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-frank", invoice("acct-frank", f"inv-2026-02{n}", 100)) for n in range(3)],
        )
        wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.invoices_topic)
        wait_until_relayed(parts.outbox_relay(pipeline), pipeline.ledger)
        settlements = read_topic_to_end(kafka_bootstrap, settings.settlements_topic)
        dead = read_topic_to_end(kafka_bootstrap, settings.dead_letter_topic)

    # Then every invoice was decided once the store came back, in order
    assert flaky.failures_left == 0
    assert dead == []
    decided = sorted(values(settlements), key=lambda s: s["invoice_id"])
    assert [(s["invoice_id"], s["credits_applied_minor"]) for s in decided] == [
        ("inv-2026-020", 100),
        ("inv-2026-021", 100),
        ("inv-2026-022", 0),
    ]


def test_the_service_creates_missing_topics_with_the_configured_partition_count(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # Given topics that do not exist yet and a partition count of 4
    settings = pipeline_settings(
        f"sqlite:///{tmp_path}/ledger.db", kafka_bootstrap, create_topics=False, kafka_partitions=4
    )
    pipeline = Container(settings)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    wanted = {
        settings.invoices_topic,
        settings.dead_letter_topic,
        settings.settlements_topic,
        settings.ledger_events_topic,
    }
    assert not wanted & set(admin.list_topics())

    # When the service starts and settles an invoice (producing before it
    # created its topics would let the broker auto-create one its own way)
    with run_pipeline(pipeline):
        deadline = time.monotonic() + 30
        while not wanted <= set(admin.list_topics()):
            assert time.monotonic() < deadline, "the service did not create its topics"
            time.sleep(0.1)
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-ivan", invoice("acct-ivan", "inv-2026-201", 10))],
        )
        settled = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)

    # Then the invoice was settled through the topics the service made
    assert [(s["invoice_id"], s["amount_due_minor"]) for s in values(settled)] == [("inv-2026-201", 10)]

    # And all four topics exist with 4 partitions (6 unless configured)
    described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(sorted(wanted))}
    assert described == dict.fromkeys(wanted, 4)
    assert Settings.model_fields["kafka_partitions"].default == 6
    admin.close()
    pipeline.close()


class FlakyTracking:
    """The relay's position store, failing the first writes after a publish."""

    def __init__(self, tracking: TrackingRecorder, failures: int) -> None:
        self._tracking = tracking
        self.failures_left = failures

    def insert_tracking(self, tracking: Tracking) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise OperationalError("database is unavailable")
        self._tracking.insert_tracking(tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self._tracking.max_tracking_id(application_name)


def test_a_relay_that_cannot_record_its_position_publishes_again_under_the_same_ids(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given three recorded grants, and a store that fails the relay's first
    # two position writes (after the broker acknowledged the batch)
    for n in range(3):
        pipeline.ledger.grant("acct-jo", f"grant-{n}", "USD", 100 + n, "promotion")
    tracking = FlakyTracking(pipeline.relay_tracking, failures=2)
    relay = OutboxRelay(settings, pipeline.ledger, tracking)  # type: ignore[arg-type]

    # When the relay runs until its position is recorded
    with running([relay]):
        published = read_topic(kafka_bootstrap, settings.ledger_events_topic, until=lambda r: len(r) >= 9)

    # Then the batch went out three times, each time with the same ids and
    # content, and the position finally covers it
    assert tracking.failures_left == 0
    ids = [m["event_id"] for m in values(published)]
    assert len(ids) == 9 and len(set(ids)) == 3
    assert len({r.value for r in published}) == 3
    assert relay.position() == pipeline.ledger.recorder.max_notification_id()


class OvertakenTracking(FlakyTracking):
    """A position store that another relay advances just before our first write."""

    def insert_tracking(self, tracking: Tracking) -> None:
        if self.failures_left:
            self.failures_left -= 1
            self._tracking.insert_tracking(tracking)  # the other relay got there first
        self._tracking.insert_tracking(tracking)


def test_a_relay_overtaken_by_another_resumes_from_the_recorded_position(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given two grants, and another relay that records their position just
    # before this relay does (two service instances on one store)
    for n in range(2):
        pipeline.ledger.grant("acct-kim", f"grant-{n}", "USD", 100 + n, "promotion")
    tracking = OvertakenTracking(pipeline.relay_tracking, failures=1)
    relay = OutboxRelay(settings, pipeline.ledger, tracking)  # type: ignore[arg-type]

    with running([relay]):
        first = read_topic(kafka_bootstrap, settings.ledger_events_topic, until=lambda r: len(r) >= 2)
        assert [m["grant_id"] for m in values(first)] == ["grant-0", "grant-1"]
        # When more is recorded after its position write was refused
        pipeline.ledger.grant("acct-kim", "grant-late", "USD", 500, "goodwill")
        published = read_topic(
            kafka_bootstrap,
            settings.ledger_events_topic,
            until=lambda r: "grant-late" in {m.get("grant_id") for m in values(r)},
            timeout=20,
        )

    # Then it went on from the recorded position instead of republishing the
    # first batch forever, and the late grant was published
    assert tracking.failures_left == 0
    assert "grant-late" in {m.get("grant_id") for m in values(published)}
    assert relay.position() == pipeline.ledger.recorder.max_notification_id()


def test_an_invoice_id_already_decided_for_another_account_goes_to_the_dead_letter_topic(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given an invoice decided for dave
    with run_pipeline(pipeline):
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-dave", invoice("acct-dave", "inv-2026-005", 1000))],
        )
        first = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)
        assert [(s["account_id"], s["invoice_id"]) for s in values(first)] == [("acct-dave", "inv-2026-005")]
        # When the same invoice id arrives for eve (another partition, perhaps)
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-eve", invoice("acct-eve", "inv-2026-005", 1000))],
        )
        dead = read_topic(kafka_bootstrap, settings.dead_letter_topic, until=lambda r: len(r) >= 1)
        wait_until_relayed(parts.outbox_relay(pipeline), pipeline.ledger)
        settlements = read_topic_to_end(kafka_bootstrap, settings.settlements_topic)

    # Then it is a conflict, and billing only hears of dave's decision
    assert [(r.key, headers(r)["dlq.reason"]) for r in dead] == [(b"acct-eve", "conflict")]
    assert [(s["account_id"], s["invoice_id"]) for s in values(settlements)] == [
        ("acct-dave", "inv-2026-005")
    ]


def test_the_relay_publishes_each_accounts_events_in_ledger_order_with_the_event_id_header(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given many events on four accounts, interleaved: grants, invoices that
    # use credits and invoices that find none
    accounts = ["acct-lea", "acct-max", "acct-noa", "acct-oto"]
    for n in range(15):
        for account in accounts:
            pipeline.ledger.grant(account, f"grant-{n}", "USD", 100 + n, "promotion")
            if n % 3 == 0:
                pipeline.ledger.apply_invoice(account, f"inv-{account}-{n}", "USD", 250)
    recorded = [e for e in recorded_events(pipeline.ledger) if type(e).__name__ != "Opened"]
    expected = {
        account: [
            event_id(e.originator_id, e.originator_version)
            for e in recorded
            if e.originator_id == CreditAccount.id_for(account)
        ]
        for account in accounts
    }

    # When the relay publishes them all
    relay = parts.outbox_relay(pipeline)
    with running([relay]):
        wait_until_relayed(relay, pipeline.ledger)
        published = read_topic_to_end(kafka_bootstrap, settings.ledger_events_topic)

    # Then each account's events come in the order the ledger recorded them
    # (one key, one partition: consumers see them in that order), each once
    found: dict[str, list[str]] = {}
    for record in published:
        found.setdefault(record.key.decode(), []).append(orjson.loads(record.value)["event_id"])
    assert found == expected
    assert sum(len(ids) for ids in expected.values()) == 4 * (15 + 5)
    # And each message carries its event id in the event_id header, which
    # consumers use to drop duplicates without parsing the body
    assert all(headers(r)["event_id"] == orjson.loads(r.value)["event_id"] for r in published)
