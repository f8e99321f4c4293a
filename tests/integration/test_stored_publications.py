"""The relay's messages written from stored fields are, byte for byte, the
messages the general way writes from the domain events."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from application.stored_fields import StoredFields
from consumers.publications import Publication, Publisher
from consumers.stored_publications import StoredPublisher
from infra.entrypoints.workers.relay import EventDecoder, LedgerAccountDirectory
from infra.wiring.container import Container
from tests.integration.test_relay_decoding import record_every_kind


def general_way(container: Container, batch: list[StoredEvent]) -> list[Publication]:
    publisher = Publisher(LedgerAccountDirectory(container.ledger))
    events = [container.ledger.mapper.to_domain_event(stored) for stored in batch]
    publisher.learn(events)
    return [publication for event in events for publication in publisher.publications(event)]


class CountingDirectory(LedgerAccountDirectory):
    def __init__(self, container: Container) -> None:
        super().__init__(container.ledger)
        self.asked: list[int] = []

    def account_ids_of(self, originator_ids: Collection[UUID]) -> dict[UUID, str]:
        self.asked.append(len(originator_ids))
        return super().account_ids_of(originator_ids)


def stored_way(
    container: Container, batch: list[StoredEvent], directory: CountingDirectory | None = None
) -> list[Publication]:
    mapper = container.ledger.mapper
    publisher = Publisher(directory or CountingDirectory(container))
    return StoredPublisher(publisher, StoredFields(mapper), EventDecoder(mapper)).publications(batch)


def test_every_kind_of_entry_is_published_as_the_general_way_publishes_it(container: Container) -> None:
    # given every kind of event, stored
    record_every_kind(container)
    batch = container.ledger.recorder.select_notifications(start=1, limit=100)
    # when both ways publish the batch
    expected = general_way(container, batch)
    # then they write the same messages, in the same order
    assert stored_way(container, batch) == expected
    assert {orjson.loads(p.value)["event_type"] for p in expected} == {
        "InvoiceCreditsApplied",
        "InvoiceCreditsRestored",
        "CreditGranted",
        "CreditApplied",
        "CallingCreditPurchased",
        "CreditRestored",
    }


def test_accounts_opened_in_an_earlier_batch_are_named_all_the_same(container: Container) -> None:
    # given a batch that starts after the accounts' Opened events
    record_every_kind(container)
    batch = container.ledger.recorder.select_notifications(start=1, limit=100)
    later = [s for s in batch if not s.topic.endswith("Opened")]
    # when it is published
    directory = CountingDirectory(container)
    published = stored_way(container, later, directory)
    # then each message still names its account as the general way does
    assert published == general_way(container, later)
    assert {p.key for p in published} == {"acct-alice", "acct-bob"}
    # and both accounts were asked for at once, not once per stream
    assert directory.asked == [2]


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda s: {**s, "currency": "usd"}, id="off-contract currency"),
        pytest.param(lambda s: {**s, "balance_after_minor": -1}, id="negative balance"),
        pytest.param(lambda s: {**s, "balance_after_minor": True}, id="bool for an int"),
        pytest.param(lambda s: {**s, "balance_after_minor": 2**70}, id="beyond 64 bits"),
        pytest.param(lambda s: {**s, "invoice_id": "x\ud800"}, id="lone surrogate"),
        pytest.param(lambda s: {**s, "invoice_id": 7}, id="number for text"),
        pytest.param(lambda s: {**s, "extra": 1.5}, id="a float"),
        pytest.param(lambda s: {k: v for k, v in s.items() if k != "amount_due_minor"}, id="missing field"),
        pytest.param(
            lambda s: {**s, "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+02:00"}},
            id="another zone",
        ),
    ],
)
def test_a_state_the_checks_do_not_vouch_for_goes_the_general_way(container: Container, alter: Any) -> None:
    # given an invoice decision whose stored state was altered
    record_every_kind(container)
    batch = container.ledger.recorder.select_notifications(start=1, limit=100)
    decision = next(i for i, s in enumerate(batch) if s.topic.endswith("CreditApplied"))
    state = alter(orjson.loads(batch[decision].state))
    try:
        data = orjson.dumps(state)
    except TypeError:  # a lone surrogate: JSON text orjson cannot write
        data = batch[decision].state.replace(b'"inv-2026-001"', b'"x\\ud800"')
    assert data != batch[decision].state
    altered = [*batch[:decision], replace(batch[decision], state=data), *batch[decision + 1 :]]
    # then both ways publish the same messages, or both refuse
    assert outcome(lambda: stored_way(container, altered)) == outcome(lambda: general_way(container, altered))


def outcome(publish: Any) -> object:
    try:
        return publish()
    except Exception as error:  # the refusal itself is what is compared
        return type(error)
