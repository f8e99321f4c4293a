"""Voided invoices through a real broker and a real store: voids in, credits
given back once, settlements and ledger events out, dead letters for voids
that can never succeed."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.contracts import InvoiceCreditsRestored, LedgerEvent
from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.integration.kafka.test_invoice_pipeline import run_pipeline
from tests.kafka_server import (
    headers,
    invoice,
    produce,
    read_topic,
    read_topic_to_end,
    values,
    wait_until_consumed,
    wait_until_relayed,
)

pytestmark = pytest.mark.kafka


def void(account_id: str, invoice_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_type": "InvoiceVoided",
        "event_id": f"evt-void-{invoice_id}",
        "invoice_id": invoice_id,
        "account_id": account_id,
        "voided_at": "2026-03-02T10:00:00Z",
        **extra,
    }


def test_a_void_gives_back_what_its_invoice_used_and_a_repeated_void_changes_nothing(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given alice's 30.00 USD invoice used 30.00 of her 50.00 of credits
    pipeline.ledger.grant("acct-alice", "grant-001", "USD", 5000, "goodwill")
    with run_pipeline(pipeline):
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-alice", invoice("acct-alice", "inv-2026-001", 3000))],
        )
        read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)
        # When billing voids it, twice
        produce(
            kafka_bootstrap, settings.voids_topic, [("acct-alice", void("acct-alice", "inv-2026-001"))] * 2
        )
        wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.voids_topic)
        wait_until_relayed(parts.outbox_relay(pipeline), pipeline.ledger)
        settlements = read_topic_to_end(kafka_bootstrap, settings.settlements_topic)
        ledger_events = read_topic_to_end(kafka_bootstrap, settings.ledger_events_topic)

    # Then billing is told once that the 30.00 came back
    applied, restored = sorted(settlements, key=lambda r: r.offset)
    assert values([applied])[0]["event_type"] == "InvoiceCreditsApplied"
    message = InvoiceCreditsRestored.model_validate_json(restored.value)
    assert (message.invoice_id, message.account_id, message.currency) == ("inv-2026-001", "acct-alice", "USD")
    assert (message.credits_restored_minor, message.balance_minor) == (3000, 5000)
    assert settlements[-1].key == b"acct-alice"
    # And the ledger-events topic carries the restore under the same event id
    published = [LedgerEvent.model_validate_json(r.value).root for r in ledger_events]
    assert [e.event_type for e in published] == ["CreditGranted", "CreditApplied", "CreditRestored"]
    assert published[-1].event_id == message.event_id
    # And the balance is whole again, restored once
    assert pipeline.ledger.balance("acct-alice").balances[0].balance_minor == 5000
    assert [e["type"] for e in pipeline.ledger.history("acct-alice")] == ["grant", "invoice", "restore"]


def test_a_void_before_its_invoice_makes_the_invoice_use_nothing(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given bob holds credits and his invoice is voided before it is generated
    pipeline.ledger.grant("acct-bob", "grant-002", "USD", 5000, "promotion")
    with run_pipeline(pipeline):
        produce(kafka_bootstrap, settings.voids_topic, [("acct-bob", void("acct-bob", "inv-2026-002"))])
        wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.voids_topic)
        # When the invoice arrives
        produce(
            kafka_bootstrap,
            settings.invoices_topic,
            [("acct-bob", invoice("acct-bob", "inv-2026-002", 4000))],
        )
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 2)

    # Then the void is settled first, restoring nothing in no currency
    restored, applied = values(sorted(settlements, key=lambda r: r.offset))
    assert restored["event_type"] == "InvoiceCreditsRestored"
    assert (restored["currency"], restored["credits_restored_minor"], restored["balance_minor"]) == (
        "XXX",
        0,
        0,
    )
    # And the invoice goes out as a settlement that applied nothing
    assert applied["event_type"] == "InvoiceCreditsApplied"
    assert (applied["credits_applied_minor"], applied["amount_due_minor"], applied["balance_minor"]) == (
        0,
        4000,
        5000,
    )
    assert pipeline.ledger.balance("acct-bob").balances[0].balance_minor == 5000


def test_a_void_for_another_account_and_a_broken_void_are_dead_lettered(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given carol's invoice decided with her credits
    pipeline.ledger.grant("acct-carol", "grant-003", "EUR", 700, "refund")
    pipeline.ledger.apply_invoice("acct-carol", "inv-2026-003", "EUR", 500)
    broken = void("acct-dave", "inv-2026-004", voided_at="yesterday")
    with run_pipeline(pipeline):
        # When a void names dave as its owner, and another is not a valid void
        produce(
            kafka_bootstrap,
            settings.voids_topic,
            [("acct-dave", void("acct-dave", "inv-2026-003")), ("acct-dave", broken)],
        )
        dead = read_topic(kafka_bootstrap, settings.voids_dead_letter_topic, until=lambda r: len(r) >= 2)
        wait_until_consumed(kafka_bootstrap, settings.consumer_group, settings.voids_topic)

    # Then both are dead-lettered on the voids' own dead-letter topic, with why
    reasons = sorted(headers(letter)["dlq.reason"] for letter in dead)
    assert reasons == ["conflict", "invalid"]
    assert all(headers(letter)["dlq.original.topic"] == settings.voids_topic for letter in dead)
    # And nothing changed: carol keeps what was decided, dave has no account
    assert pipeline.ledger.balance("acct-carol").balances[0].balance_minor == 200
    assert pipeline.ledger.account("acct-dave") is None
    lookup = pipeline.ledger.invoice("inv-2026-003")
    assert lookup is not None and not lookup.voided
