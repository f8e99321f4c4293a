"""The relay's event decoder builds exactly the events the ledger's mapper does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from application.ledger import VoidRequest
from infra.entrypoints.workers.relay import EventDecoder
from infra.wiring.container import Container


def record_every_kind(container: Container) -> None:
    ledger = container.ledger
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 500)
    ledger.grant(
        "acct-alice", "grant-001", "USD", 1000, "goodwill", note='Zoë\'s "refund" \\ 账户 \U0001f600'
    )
    ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 600)
    ledger.buy_calling_credits("acct-alice", "buy-001", "USD", 300)
    ledger.settle([VoidRequest("acct-alice", "inv-2026-002"), VoidRequest("acct-bob", "inv-2026-009")])
    ledger.grant("acct-bob", "grant-002", "EUR", 10**15, "promotion")


def same(one: object, other: object) -> bool:
    return (
        type(one) is type(other)
        and vars(one) == vars(other)
        and all(type(vars(one)[name]) is type(vars(other)[name]) for name in vars(one))
    )


def test_every_recorded_event_decodes_as_the_mapper_decodes_it(container: Container) -> None:
    # given every kind of event, stored in the database
    record_every_kind(container)
    notifications = container.ledger.recorder.select_notifications(start=1, limit=100)
    decode = EventDecoder(container.ledger.mapper)
    # then each decodes to the same event, state and types included
    for notification in notifications:
        assert same(decode(notification), container.ledger.mapper.to_domain_event(notification))
    assert len({type(decode(n)) for n in notifications}) == 5


def test_what_orjson_would_read_differently_is_left_to_the_mapper(container: Container) -> None:
    # given stored events altered to hold what orjson reads otherwise, or not at all
    record_every_kind(container)
    mapper = container.ledger.mapper
    decode = EventDecoder(mapper)
    stored = container.ledger.recorder.select_notifications(start=1, limit=100)[1]
    state: dict[str, Any] = orjson.loads(stored.state)
    altered = [
        b'{"amount_minor": 123456789012345678901234567890, ' + stored.state[1:],  # beyond 64 bits
        stored.state[:-1] + b', "extra": 1.5}',
        stored.state[:-1] + b', "extra": [1, 2]}',
        stored.state[:-1] + b', "extra": {"a": 1}}',
        stored.state[:-1] + b', "extra": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"}}',
        stored.state[:-1] + b', "extra": "\\ud800"}',  # a lone surrogate
        stored.state[:-1] + b', "extra": NaN}',
        orjson.dumps({**state, "class_version": 1}),
    ]
    for data in altered:
        altered_event = replace(stored, state=data)
        # then the decoder answers as the mapper does
        assert same(decode(altered_event), mapper.to_domain_event(altered_event)), data
