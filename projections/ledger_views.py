"""The projection of ledger events into the balance, history and analytics views."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.results import history_entry, rfc3339
from domain.credit_account import CreditAccount
from projections.changes import AccountSeen, BalanceMoved, Change, DailyMoved, HistoryRow
from projections.ports import SetAside, ViewStore
from projections.storable import checked, storable_error

# One stored event made ready for the views: its position, and its changes or
# why it is set aside.
Prepared = tuple[int, list[Change] | SetAside]


def _split(batch: Sequence[Prepared]) -> tuple[list[Change], list[SetAside]]:
    changes: list[Change] = []
    set_aside: list[SetAside] = []
    for _, prepared in batch:
        if isinstance(prepared, SetAside):
            set_aside.append(prepared)
        else:
            changes.extend(prepared)
    return changes, set_aside


# The business key of each kind of history entry.
_KEYS = {"grant": "grant_id", "invoice": "invoice_id", "calling_credit_purchase": "purchase_id"}


def changes_for(event: object, notification_id: int) -> list[Change]:
    """Everything one recorded event changes in the views; [] for none.

    Text is made storable (see projections.storable); an event whose values
    the views cannot represent exactly raises UnprojectableEventError.
    """
    return [checked(change) for change in _changes(event, notification_id)]


def _changes(event: object, notification_id: int) -> list[Change]:
    if isinstance(event, CreditAccount.Opened):
        return [AccountSeen(str(event.originator_id), event.account_id, rfc3339(event.timestamp))]
    entry = history_entry(event)
    if entry is None:
        return []
    assert isinstance(event, CreditAccount.Event)
    account_uuid = str(event.originator_id)
    occurred_at = entry["occurred_at"]
    day = cast(Any, event).timestamp.date().isoformat()
    currency = entry["currency"]
    amount = entry["amount_minor"]
    kind = entry["type"]
    history = HistoryRow(
        account_uuid=account_uuid,
        version=event.originator_version,
        notification_id=notification_id,
        event_id=entry["event_id"],
        type=kind,
        business_key=entry[_KEYS[kind]],
        currency=currency,
        amount_minor=amount,
        balance_minor=entry["balance_minor"],
        occurred_at=occurred_at,
        invoice_total_minor=entry.get("invoice_total_minor"),
        amount_due_minor=entry.get("amount_due_minor"),
        price_minor=entry.get("price_minor"),
        reason=entry.get("reason"),
        note=entry.get("note"),
    )
    if kind == "grant":
        balance = _moved(account_uuid, entry, granted=amount)
        daily = DailyMoved(day, currency, granted_minor=amount, granted_reason=entry["reason"])
    elif kind == "invoice":
        balance = _moved(account_uuid, entry, applied=amount)
        daily = DailyMoved(
            day, currency, applied_minor=amount, invoices_decided=1, invoices_touched=int(amount > 0)
        )
    else:
        balance = _moved(account_uuid, entry, calling=amount)
        daily = DailyMoved(day, currency, calling_credits_minor=amount)
    return [AccountSeen(account_uuid, None, occurred_at), balance, history, daily]


def _moved(
    account_uuid: str, entry: dict[str, Any], granted: int = 0, applied: int = 0, calling: int = 0
) -> BalanceMoved:
    return BalanceMoved(
        account_uuid=account_uuid,
        currency=entry["currency"],
        balance_minor=entry["balance_minor"],
        granted_minor=granted,
        applied_minor=applied,
        calling_credits_minor=calling,
        occurred_at=entry["occurred_at"],
        opens_currency=granted > 0,
    )


def history_entry_from_row(row: HistoryRow) -> dict[str, Any]:
    """The row as the ledger's own history entry (the CLI's and the API's shape)."""
    entry: dict[str, Any] = {
        "type": row.type,
        _KEYS[row.type]: row.business_key,
        "amount_minor": row.amount_minor,
    }
    if row.type == "grant":
        entry["reason"] = row.reason
        entry["note"] = row.note
    elif row.type == "invoice":
        entry["invoice_total_minor"] = row.invoice_total_minor
        entry["amount_due_minor"] = row.amount_due_minor
    else:
        entry["price_minor"] = row.price_minor
        entry["amount_due_minor"] = row.amount_due_minor
    entry["currency"] = row.currency
    entry["balance_minor"] = row.balance_minor
    entry["occurred_at"] = row.occurred_at
    entry["event_id"] = row.event_id
    return entry


class LedgerViewsProjection(Projection[Any]):
    """All three views from one pass over the ledger, under one tracking position.

    One projection rather than three keeps the views consistent with each
    other: a balance and the history line that explains it appear together.
    """

    name = "ledger_views"

    @property
    def store(self) -> ViewStore:
        return cast(ViewStore, self.view)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Used by eventsourcing's ProjectionRunner: one event per transaction.
        self.store.apply(changes_for(domain_event, tracking.notification_id), tracking)

    def process_batch(self, events: Sequence[tuple[Any, Tracking]], after: int | None) -> None:
        """Apply a batch in one transaction; ``after`` is the position the
        batch starts from, checked so two runners never both apply it."""
        if events:
            self.store.apply(self.changes(events), events[-1][1], after=after, check_after=True)

    @staticmethod
    def prepare(notification_id: int, decode: Callable[[], Any]) -> Prepared:
        """The changes of one stored event, or why the views cannot take it.

        Anything raised while decoding the event or turning it into rows is a
        property of the stored event, the same on every attempt: the event is
        set aside rather than retried forever.
        """
        try:
            return notification_id, changes_for(decode(), notification_id)
        except Exception as error:
            return notification_id, SetAside(notification_id, storable_error(error))

    def apply_prepared(self, batch: Sequence[Prepared], application_name: str, after: int | None) -> None:
        """Apply prepared events in one transaction, from position ``after``."""
        if batch:
            changes, set_aside = _split(batch)
            tracking = Tracking(application_name, batch[-1][0])
            self.store.apply(changes, tracking, after=after, check_after=True, set_aside=set_aside)

    def rebuild(self, batches: Iterable[Sequence[Prepared]], application_name: str) -> None:
        """Replace the views with the given batches, atomically."""

        def tracked(batch: Sequence[Prepared]) -> tuple[list[Change], Tracking, list[SetAside]]:
            changes, set_aside = _split(batch)
            return changes, Tracking(application_name, batch[-1][0]), set_aside

        self.store.replace_all(application_name, (tracked(batch) for batch in batches if batch))

    @staticmethod
    def changes(events: Sequence[tuple[Any, Tracking]]) -> list[Change]:
        return [
            change
            for domain_event, tracking in events
            for change in changes_for(domain_event, tracking.notification_id)
        ]
