"""The Kafka message contracts and the pure translation around them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from uuid import UUID

import orjson

from application.entries import event_id
from application.ledger import InvoiceRequest, Ledger
from application.results import InvoiceSettlement
from consumers.contracts import InvoiceCreditsApplied, LedgerEvent, schema_documents
from consumers.invoices import CONFLICT, INVALID, NOT_JSON, DeadLetter, Inbound, InvoiceBatchHandler, Settled
from consumers.publications import Channel, Publisher
from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_the_checked_in_json_schemas_are_generated_from_the_models() -> None:
    # A change to a model without `promocredits contracts` fails here.
    documents = schema_documents()
    assert sorted(p.name for p in CONTRACTS.glob("*.json")) == sorted(documents)
    for name, text in documents.items():
        assert (CONTRACTS / name).read_text() == text, (
            f"contracts/{name} is stale: run promocredits contracts"
        )


def message(ref: int, **fields: object) -> Inbound[int]:
    body = {
        "event_type": "InvoiceGenerated",
        "event_id": f"evt-{ref}",
        "invoice_id": f"inv-2026-{ref:03}",
        "account_id": "acct-alice",
        "currency": "USD",
        "total_minor": 1000,
        "issued_at": "2026-03-01T09:30:00+01:00",
    }
    body.update(fields)
    return Inbound(ref, orjson.dumps({k: v for k, v in body.items() if v is not None}))


class RecordingLedger:
    """Answers from a script and remembers each call."""

    def __init__(self, answers: dict[str, LedgerError]) -> None:
        self.answers = answers
        self.calls: list[list[InvoiceRequest]] = []

    def settle(self, requests: Sequence[InvoiceRequest]) -> list[InvoiceSettlement | LedgerError]:
        self.calls.append(list(requests))
        return [self.answers.get(r.invoice_id) or settled(r) for r in requests]


def settled(request: InvoiceRequest) -> InvoiceSettlement:
    return InvoiceSettlement(
        request.account_id,
        request.invoice_id,
        request.currency,
        request.total_minor,
        0,
        request.total_minor,
        0,
    )


def test_a_batch_is_decided_in_one_ledger_call_and_every_message_gets_one_outcome_in_order() -> None:
    # Given a batch mixing good, broken and conflicting messages
    ledger = RecordingLedger(
        {
            "inv-2026-003": IdempotencyConflictError("inv-2026-003 already decided"),
            "inv-2026-005": InvalidCommandError("unknown currency"),
        }
    )
    batch = [
        message(1),
        Inbound(2, b"{not json"),
        message(3),
        message(4, total_minor=None),
        message(5),
        message(6, total_minor=True),
        Inbound(7, None),
        message(8, unexpected="ignored"),
    ]

    # When the handler decides it
    decisions = InvoiceBatchHandler(ledger).handle(batch)

    # Then the ledger was called once with the valid messages, in order
    assert [[r.invoice_id for r in call] for call in ledger.calls] == [
        ["inv-2026-001", "inv-2026-003", "inv-2026-005", "inv-2026-008"]
    ]
    # And every message has exactly one outcome, in the batch's order
    assert [d.ref for d in decisions] == [1, 2, 3, 4, 5, 6, 7, 8]
    kinds = [d.reason if isinstance(d, DeadLetter) else "settled" for d in decisions]
    assert kinds == ["settled", NOT_JSON, CONFLICT, INVALID, INVALID, INVALID, NOT_JSON, "settled"]
    assert isinstance(decisions[0], Settled)
    assert "total_minor" in decisions[3].error  # type: ignore[union-attr]


class Directory:
    def __init__(self) -> None:
        self.asked: list[object] = []

    def account_ids_of(self, originator_ids: Collection[UUID]) -> dict[UUID, str]:
        self.asked.append(set(originator_ids))
        return dict.fromkeys(originator_ids, "acct-from-store")


def test_each_ledger_event_is_published_with_a_stable_id_and_settlements_for_decisions(
    tmp_path: Path,
) -> None:
    # Given an account with a grant, a zero-credit and a paying invoice, and a purchase
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 500)
    ledger.grant("acct-alice", "grant-001", "USD", 1000, "goodwill")
    ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 600)
    ledger.buy_calling_credits("acct-alice", "buy-001", "USD", 700)
    events = list(ledger.events.get(CreditAccount.id_for("acct-alice")))

    # When the relay's publisher translates them
    directory = Directory()
    publisher = Publisher(directory)
    publications = [p for e in events for p in publisher.publications(e)]

    # Then Opened is not published and the account came from it, not the store
    assert directory.asked == []
    ledger_events = [
        LedgerEvent.model_validate_json(p.value).root
        for p in publications
        if p.channel is Channel.LEDGER_EVENTS
    ]
    assert [e.event_type for e in ledger_events] == [
        "CreditApplied",
        "CreditGranted",
        "CreditApplied",
        "CallingCreditPurchased",
    ]
    assert [e.event_id for e in ledger_events] == [
        event_id(e.originator_id, e.originator_version) for e in events[1:]
    ]
    # And each invoice decision, zero-credit included, is also a settlement
    settlements = [
        InvoiceCreditsApplied.model_validate_json(p.value)
        for p in publications
        if p.channel is Channel.SETTLEMENTS
    ]
    assert [
        (s.invoice_id, s.credits_applied_minor, s.amount_due_minor, s.balance_minor) for s in settlements
    ] == [
        ("inv-2026-001", 0, 500, 0),
        ("inv-2026-002", 600, 0, 400),
    ]
    assert {p.key for p in publications} == {"acct-alice"}
    # And a publisher that starts after the Opened event asks the store once
    later = Publisher(directory)
    assert [p.key for p in later.publications(events[2])] == ["acct-from-store"]
    later.publications(events[3])
    assert len(directory.asked) == 1


def test_a_publisher_asks_the_store_once_per_batch_for_every_account_opened_before_it_started() -> None:
    # Given two accounts whose streams began before the publisher started
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.grant("acct-alice", "grant-001", "USD", 1000, "goodwill")
    ledger.grant("acct-bob", "grant-002", "USD", 1000, "goodwill")
    ledger.apply_invoice("acct-bob", "inv-2026-003", "USD", 100)
    later_events = [
        event
        for account_id in ("acct-alice", "acct-bob")
        for event in list(ledger.events.get(CreditAccount.id_for(account_id)))[1:]
    ]

    # When a publisher learns the batch, then translates it
    directory = Directory()
    publisher = Publisher(directory)
    publisher.learn(later_events)
    keys = [p.key for e in later_events for p in publisher.publications(e)]

    # Then the store was asked once, for both streams together
    assert directory.asked == [{CreditAccount.id_for("acct-alice"), CreditAccount.id_for("acct-bob")}]
    assert set(keys) == {"acct-from-store"}


def test_hostile_text_in_an_invoice_message_is_dead_lettered_as_invalid_before_the_ledger() -> None:
    # given messages whose ids hold a NUL, a control character, an over-long id,
    # or a lone surrogate escaped in otherwise valid JSON
    batch = [
        message(1, event_id="evt\x00one"),
        message(2, event_id="evt\x1b[31m"),
        message(3, event_id="e" * 10_000),
        Inbound(4, message(4).value.replace(b'"evt-4"', b'"evt-\\ud800"')),  # type: ignore[union-attr]
    ]
    ledger = RecordingLedger({})
    # when the batch is handled
    decisions = InvoiceBatchHandler(ledger).handle(batch)
    # then each is dead-lettered as invalid, with a short reason, and nothing was decided
    assert [type(d) for d in decisions] == [DeadLetter] * 4
    assert [d.reason for d in decisions if isinstance(d, DeadLetter)] == [INVALID] * 4
    assert all(len(d.error) <= 1000 for d in decisions if isinstance(d, DeadLetter))
    assert ledger.calls == []


def test_bytes_that_are_not_json_at_all_stay_not_json() -> None:
    decisions = InvoiceBatchHandler(RecordingLedger({})).handle([Inbound(1, b'{"event_type": "\\ud8')])
    assert [d.reason for d in decisions if isinstance(d, DeadLetter)] == [NOT_JSON]
