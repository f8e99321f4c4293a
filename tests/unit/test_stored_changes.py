"""Changes read straight from stored events are the canonical ones, or none.

The projector takes an event's changes from its stored fields when it can
(projections.stored_changes) and from the domain event otherwise
(changes_for). Whichever way an event goes, the views must get the same
records, and an event set aside the same error.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Mapper, Notification

from application.ledger import Ledger
from application.stored_fields import StoredFields
from domain.credit_account import CreditAccount
from projections.ledger_views import LedgerViewsProjection, changes_for
from projections.stored_changes import StoredChanges


@pytest.fixture(scope="module")
def mapper() -> Mapper[Any]:
    # The ledger's own mapper: its transcodings are what the store holds.
    ledger = Ledger(env={})
    return ledger.mapper


def history() -> list[object]:
    """Every kind of event the ledger records, with edge amounts."""
    account = CreditAccount.open("acct-bob")
    account.grant("grant-001", "USD", 2500, "refund", "late delivery")
    account.apply_to_invoice("inv-001", "USD", 4000)  # takes every credit
    account.apply_to_invoice("inv-002", "USD", 700)  # nothing left: applies 0
    account.void_invoice("inv-001")  # restores 2500
    account.void_invoice("inv-002")  # restores 0: moves no day
    account.void_invoice("inv-early")  # before its invoice: 0 in no currency
    account.buy_calling_credits("purchase-001", "USD", 300)
    account.grant("grant-002", "EUR", 10**15, "goodwill", "caf\u00e9 \u2603")
    return list(account.collect_events())


def notified(mapper: Mapper[Any], event: Any, position: int, **state: Any) -> Notification:
    """The event as the notification log gives it, its stored state changed
    by ``state`` (a name given None as ``...`` is removed)."""
    stored = mapper.to_stored_event(event)
    fields = json.loads(stored.state)
    for name, value in state.items():
        if value is ...:
            fields.pop(name, None)
        else:
            fields[name] = value
    # Escaped, as JSON can hold a lone surrogate
    raw = json.dumps(fields, ensure_ascii=True, allow_nan=True).encode()
    return Notification(
        id=position,
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=raw,
    )


def canonical(mapper: Mapper[Any], notification: Notification) -> object:
    """What the canonical way prepares: the changes, or the set-aside."""
    return LedgerViewsProjection.prepare(notification.id, lambda: mapper.to_domain_event(notification))[1]


def test_every_recorded_kind_is_read_from_its_stored_fields_as_the_canonical_way(
    mapper: Mapper[Any],
) -> None:
    stored = StoredChanges(mapper)
    for position, event in enumerate(history(), start=1):
        notification = notified(mapper, event, position)
        lean = stored.changes(notification)
        assert lean is not None, type(event).__name__
        expected = canonical(mapper, notification)
        assert isinstance(expected, list)
        assert lean == changes_for(event, position) == expected
        # the same values in the same fields: the stores write vars()
        assert [vars(change) for change in lean] == [vars(change) for change in expected]


@pytest.mark.parametrize(
    ("index", "state"),
    [
        (2, {"note": "a\x00b"}),  # text the views clean
        (2, {"reason": "\ud800"}),  # a lone surrogate
        (2, {"note": None}),  # optional in the history, not in the ledger
        (2, {"amount_minor": 1.5}),
        (2, {"amount_minor": True}),
        (2, {"amount_minor": 2**13_001}),
        (2, {"amount_minor": 2**13_000}),  # one bit past what the views take
        (2, {"balance_after_minor": 2**13_000 - 1}),  # the most they take
        (2, {"balance_after_minor": -(2**13_000 - 1)}),
        (2, {"balance_after_minor": -(2**13_000)}),
        (2, {"balance_after_minor": 2**70}),  # past 64 bits, still exact
        (2, {"amount_minor": "100"}),
        (2, {"currency": 7}),
        (2, {"grant_id": None}),
        (2, {"note": ...}),  # a field missing
        (3, {"credits_applied_minor": -1.0}),
        (3, {"invoice_total_minor": None}),
        (3, {"timestamp": "2026-01-01T00:00:00Z"}),  # not a transcoded datetime
        (3, {"timestamp": {"_type_": "no_such_type", "_data_": 1}}),
        (5, {"credits_restored_minor": 0.0}),
        (7, {"price_minor": [1]}),
        (7, {"unread": {"nested": {"_type_": "uuid_hex", "_data_": "0" * 32}}}),
        (7, {"unread": [1, 2]}),
        (2, {"unread": {"_type_": "no_such_type", "_data_": 1}}),
        (2, {"unread": {"_type_": "decimal_str", "_data_": "1.5"}}),
        (2, {"class_version": 1}),
        (1, {"account_id": "acct\x00nul"}),
        (1, {"account_id": None}),
        (1, {"account_id": 12}),
        (1, {"account_id": ...}),
    ],
)
def test_an_event_the_stored_fields_do_not_vouch_for_goes_the_canonical_way(
    mapper: Mapper[Any], index: int, state: dict[str, Any]
) -> None:
    notification = notified(mapper, history()[index - 1], index, **state)
    lean = StoredChanges(mapper).changes(notification)
    # either the same changes, or none and the canonical way decides
    assert lean is None or lean == canonical(mapper, notification)


@pytest.mark.parametrize(
    ("topic", "state"),
    [
        ("domain.credit_account:CreditAccount.Vanished", b"{}"),
        ("domain.credit_account:CreditAccount.CreditGranted", b"{not json"),
        ("domain.credit_account:CreditAccount.CreditGranted", b"\xff\xfe"),
        ("domain.credit_account:CreditAccount.CreditGranted", b"[]"),
    ],
)
def test_an_event_that_cannot_be_decoded_is_left_to_the_canonical_way(
    mapper: Mapper[Any], topic: str, state: bytes
) -> None:
    notification = Notification(id=9, originator_id=uuid4(), originator_version=2, topic=topic, state=state)
    assert StoredChanges(mapper).changes(notification) is None


def test_an_upcast_event_is_read_after_its_upcasting(
    mapper: Mapper[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given grants stored before a version 2 that named every grant's reason anew
    event = history()[1]
    notification = notified(mapper, event, 2)

    def upcast(state: dict[str, Any]) -> None:
        state["reason"] = f"v2 {state['reason']}"

    monkeypatch.setattr(CreditAccount.CreditGranted, "class_version", 2, raising=False)
    monkeypatch.setattr(CreditAccount.CreditGranted, "upcast_v1_v2", staticmethod(upcast), raising=False)
    # when the views read it, then they read it upcast, as the canonical way does
    lean = StoredChanges(mapper).changes(notification)
    assert lean is not None
    assert lean == canonical(mapper, notification)
    assert lean[2].reason == lean[3].granted_reason == "v2 refund"  # type: ignore[union-attr]


def test_stored_fields_are_the_domain_events_attributes(mapper: Mapper[Any]) -> None:
    fields = StoredFields(mapper)
    for position, event in enumerate(history(), start=1):
        notification = notified(mapper, event, position)
        assert fields.of(notification, type(event)) == vars(mapper.to_domain_event(notification))


@pytest.mark.parametrize(
    "state",
    [
        {"balance_after_minor": 2**64},  # orjson would read a float
        {"note": "\ud800"},  # orjson refuses a lone surrogate
        {"unread": {"_type_": "uuid_hex", "_data_": "0" * 32}},
    ],
)
def test_fields_orjson_would_read_otherwise_are_read_by_the_mapper(
    mapper: Mapper[Any], state: dict[str, Any]
) -> None:
    notification = notified(mapper, history()[1], 2, **state)
    fields = StoredFields(mapper).of(notification, CreditAccount.CreditGranted)
    assert fields == vars(mapper.to_domain_event(notification))
    assert type(fields["balance_after_minor"]) is int
