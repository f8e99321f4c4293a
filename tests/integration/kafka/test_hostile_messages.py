"""Hostile invoice messages on a real broker: each is dead-lettered as invalid,
changes nothing, and the invoices and views after it carry on."""

from __future__ import annotations

import orjson
import pytest

from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import decisions_by_invoice, headers, invoice, produce, read_topic, running, values

pytestmark = pytest.mark.kafka

VALID = orjson.dumps(invoice("acct-mallory", "inv-hostile-000", 100))

HOSTILE = {
    "NUL in the event id": VALID.replace(b'"evt-inv-hostile-000"', b'"evt-\\u0000"'),
    "escape sequence in the invoice id": orjson.dumps(invoice("acct-mallory", "inv-\x1b[2J", 100)),
    "lone surrogate in the invoice id": VALID.replace(b'"inv-hostile-000"', b'"inv-\\ud800"'),
    "dot segment in the account id": orjson.dumps(invoice("acct/../admin", "inv-hostile-001", 100)),
    "a 10,000-character invoice id": orjson.dumps(invoice("acct-mallory", "i" * 10_000, 100)),
    "a total past the ledger's bound": orjson.dumps(invoice("acct-mallory", "inv-hostile-002", 10**15 + 1)),
    "a total past 64 bits": VALID.replace(b'"total_minor":100', b'"total_minor":' + str(2**64).encode()),
}


def test_hostile_messages_are_dead_lettered_as_invalid_and_change_nothing(
    pipeline: Container, settings: Settings, kafka_bootstrap: str
) -> None:
    # Given mallory holds 5.00 USD of credits
    pipeline.ledger.grant("acct-mallory", "grant-001", "USD", 500, "promotion")
    with running([parts.invoice_consumer(pipeline), parts.outbox_relay(pipeline)]):
        # When every hostile message arrives, followed by an ordinary invoice
        messages: list[tuple[str, bytes | dict[str, object]]] = [
            ("acct-mallory", m) for m in HOSTILE.values()
        ]
        messages.append(("acct-mallory", invoice("acct-mallory", "inv-2026-900", 300)))
        produce(kafka_bootstrap, settings.invoices_topic, messages)
        dead = read_topic(kafka_bootstrap, settings.dead_letter_topic, until=lambda r: len(r) >= len(HOSTILE))
        settlements = read_topic(kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= 1)

    # Then each hostile message is dead-lettered unchanged, as invalid, with a bounded reason
    assert [letter.value for letter in dead] == list(HOSTILE.values())
    assert [headers(letter)["dlq.reason"] for letter in dead] == ["invalid"] * len(HOSTILE)
    assert all(0 < len(headers(letter)["dlq.error"]) <= 1000 for letter in dead)
    # And only the ordinary invoice was decided, using 3.00 of the credits
    assert sorted(decisions_by_invoice(pipeline.ledger)) == ["inv-2026-900"]
    assert [(s["invoice_id"], s["credits_applied_minor"]) for s in values(settlements)] == [
        ("inv-2026-900", 300)
    ]
    # And the views, caught up, show the balance the ledger holds
    pipeline.views_runner.catch_up()
    view = pipeline.views.store.account(str(pipeline.ledger.account("acct-mallory").id))  # type: ignore[union-attr]
    assert view is not None
    assert [(b.currency, b.balance_minor) for b in view.balances] == [("USD", 200)]
