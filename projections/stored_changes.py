"""The views' changes read straight from a stored event's fields.

The canonical way (``changes_for``) builds a LedgerEntry from each domain
event, then the view records from the entry, then checks every field of every
record: half a dozen objects and a few dozen type checks per event, most of
the projector's time. Here one plan per stored topic reads the few fields its
event shape needs and checks each of them once.

A plan takes only what it can show gives the very same records: events of the
classes the ledger records, every value read of its exact type and already
storable. Anything else gets None, and the caller goes the canonical way,
which also words every refusal; what the views hold, and why an event is set
aside, never depends on which way an event went.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic, resolve_topic

from application.entries import GRANT, INVOICE, RESTORE, SHAPES_BY_TOPIC, EventShape, event_id, rfc3339
from application.stored_fields import StoredFields
from domain.credit_account import CreditAccount
from projections.changes import AccountSeen, BalanceMoved, Change, DailyMoved, HistoryRow
from projections.storable import MAX_AMOUNT_BITS, storable_text

R = TypeVar("R")

# The decoded fields of one event (the domain event's attributes) and its
# position; the changes, or None for the canonical way.
Plan = Callable[[dict[str, Any], int], list[Change] | None]

_new = object.__new__
_set = object.__setattr__


def _record(cls: type[R], values: dict[str, Any]) -> R:
    # A frozen dataclass's __init__ sets each field through
    # object.__setattr__, three times the cost of giving it its __dict__
    # (as eventsourcing's mapper builds events); the values are the complete
    # set of fields, so the records compare equal.
    record: R = _new(cls)
    _set(record, "__dict__", values)
    return record


def _storable(value: object) -> bool:
    return type(value) is str and storable_text(value) is value


# |n| < 2**MAX_AMOUNT_BITS is n.bit_length() <= MAX_AMOUNT_BITS, without a call.
_BOUND = 2**MAX_AMOUNT_BITS


def _whole(value: object) -> bool:
    # Exact type: bool is an int, and neither it nor a float is an amount.
    return type(value) is int and -_BOUND < value < _BOUND


# The fields only some kinds have that hold text; the others are amounts.
_TEXT_EXTRAS = frozenset({"reason", "note"})


def _opened(fields: dict[str, Any], notification_id: int) -> list[Change] | None:
    originator_id, account_id, timestamp = fields["originator_id"], fields["account_id"], fields["timestamp"]
    if type(originator_id) is not UUID or type(timestamp) is not datetime:
        return None
    if account_id is not None and not _storable(account_id):
        return None
    seen = {"account_uuid": str(originator_id), "account_id": account_id, "occurred_at": rfc3339(timestamp)}
    return [_record(AccountSeen, seen)]


def _entry_plan(shape: EventShape) -> Plan:
    kind, key_field, amount_field = shape.kind, shape.key, shape.amount
    # (field, holds text) of the fields only this kind has.
    extras = tuple((name, name in _TEXT_EXTRAS) for name in shape.extras)
    # The column each kind's amount adds to, in the balance and in the day.
    moved = {GRANT: "granted_minor", INVOICE: "applied_minor", RESTORE: "restored_minor"}.get(
        kind, "calling_credits_minor"
    )
    grants = kind == GRANT

    def plan(fields: dict[str, Any], notification_id: int) -> list[Change] | None:
        originator_id, version, timestamp = (
            fields["originator_id"],
            fields["originator_version"],
            fields["timestamp"],
        )
        key, currency = fields[key_field], fields["currency"]
        amount, balance = fields[amount_field], fields["balance_after_minor"]
        # _whole() inline for the four numbers every entry has: this is
        # the projector's innermost loop.
        if not (
            type(originator_id) is UUID
            and type(timestamp) is datetime
            and type(version) is int
            and type(notification_id) is int
            and type(amount) is int
            and type(balance) is int
            and -_BOUND < amount < _BOUND
            and -_BOUND < balance < _BOUND
            and -_BOUND < version < _BOUND
            and -_BOUND < notification_id < _BOUND
            and _storable(key)
            and _storable(currency)
        ):
            return None
        kind_only = []
        for name, text in extras:
            value = fields[name]
            if not (_storable(value) if text else _whole(value)):
                return None
            kind_only.append((name, value))
        account_uuid = str(originator_id)
        occurred_at = rfc3339(timestamp)
        history = {
            "account_uuid": account_uuid,
            "version": version,
            "notification_id": notification_id,
            "event_id": event_id(account_uuid, version),
            "type": kind,
            "business_key": key,
            "currency": currency,
            "amount_minor": amount,
            "balance_minor": balance,
            "occurred_at": occurred_at,
            "invoice_total_minor": None,
            "amount_due_minor": None,
            "price_minor": None,
            "reason": None,
            "note": None,
        }
        history.update(kind_only)
        changes: list[Change] = [
            _record(
                AccountSeen, {"account_uuid": account_uuid, "account_id": None, "occurred_at": occurred_at}
            ),
            _record(
                BalanceMoved,
                {
                    "account_uuid": account_uuid,
                    "currency": currency,
                    "balance_minor": balance,
                    "granted_minor": 0,
                    "applied_minor": 0,
                    "calling_credits_minor": 0,
                    "occurred_at": occurred_at,
                    "opens_currency": grants and amount > 0,
                    "restored_minor": 0,
                    moved: amount,
                },
            ),
            _record(HistoryRow, history),
        ]
        # A restore of nothing moves no day's totals (see ledger_views).
        if kind != RESTORE or amount != 0:
            changes.append(
                _record(
                    DailyMoved,
                    {
                        # isoformat() starts with the date's own isoformat().
                        "day": occurred_at[:10],
                        "currency": currency,
                        "granted_minor": 0,
                        "granted_reason": history["reason"] if grants else None,
                        "applied_minor": 0,
                        "calling_credits_minor": 0,
                        "invoices_decided": int(kind == INVOICE),
                        "invoices_touched": int(kind == INVOICE and amount > 0),
                        "restored_minor": 0,
                        moved: amount,
                    },
                )
            )
        return changes

    return plan


def _plan_for(topic: str) -> tuple[type, Plan] | None:
    """The event class a topic names and its plan; None for the canonical way."""
    try:
        cls = resolve_topic(topic)
    except Exception:  # an unknown topic: the canonical way sets it aside
        return None
    if not isinstance(cls, type):
        return None
    # In the canonical way's order: an Opened first, then the entries' shapes.
    if issubclass(cls, CreditAccount.Opened):
        return cls, _opened
    shape = SHAPES_BY_TOPIC.get(get_topic(cls))
    return None if shape is None else (cls, _entry_plan(shape))


class StoredChanges:
    """Changes of stored events by the plan of their topic, made once."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._fields = StoredFields(mapper)
        self._plans: dict[str, tuple[type, Plan] | None] = {}

    def changes(self, notification: Notification) -> list[Change] | None:
        """The event's changes, or None: then ask ``changes_for``."""
        topic = notification.topic
        try:
            planned = self._plans[topic]
        except KeyError:
            planned = self._plans[topic] = _plan_for(topic)
        if planned is None:
            return None
        cls, plan = planned
        try:
            return plan(self._fields.of(notification, cls), notification.id)
        except Exception:  # the canonical way meets it again, and words it
            return None
