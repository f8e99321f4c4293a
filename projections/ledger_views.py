"""The projection of ledger events into the balance, history and analytics views."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.entries import GRANT, INVOICE, RESTORE, LedgerEntry, ledger_entry, rfc3339
from domain.credit_account import CreditAccount
from projections.changes import (
    AccountSeen,
    BalanceMoved,
    Change,
    DailyMoved,
    HistoryRow,
    entry_from_row,
    history_row,
)
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


def changes_for(event: object, notification_id: int) -> list[Change]:
    """Everything one recorded event changes in the views; [] for none.

    Text is made storable (see projections.storable); an event whose values
    the views cannot represent exactly raises UnprojectableEventError.
    """
    return [checked(change) for change in _changes(event, notification_id)]


def _changes(event: object, notification_id: int) -> list[Change]:
    if isinstance(event, CreditAccount.Opened):
        return [AccountSeen(str(event.originator_id), event.account_id, rfc3339(event.timestamp))]
    entry = ledger_entry(event)
    if entry is None:
        return []
    # Each computed once: every change of the entry carries them.
    account_uuid = str(entry.account_uuid)
    occurred_at = rfc3339(entry.occurred_at)
    day = entry.occurred_at.date().isoformat()
    amount = entry.amount_minor
    if entry.kind == GRANT:
        balance = _moved(entry, account_uuid, occurred_at, granted=amount)
        daily = DailyMoved(day, entry.currency, granted_minor=amount, granted_reason=entry.reason)
    elif entry.kind == INVOICE:
        balance = _moved(entry, account_uuid, occurred_at, applied=amount)
        daily = DailyMoved(
            day, entry.currency, applied_minor=amount, invoices_decided=1, invoices_touched=int(amount > 0)
        )
    elif entry.kind == RESTORE:
        balance = _moved(entry, account_uuid, occurred_at, restored=amount)
        daily = DailyMoved(day, entry.currency, restored_minor=amount)
    else:
        balance = _moved(entry, account_uuid, occurred_at, calling=amount)
        daily = DailyMoved(day, entry.currency, calling_credits_minor=amount)
    seen = AccountSeen(account_uuid, None, occurred_at)
    history = history_row(entry, notification_id, account_uuid=account_uuid, occurred_at=occurred_at)
    # A restore of nothing (a void before its invoice, or of an invoice that
    # used no credit) moves no day's totals, and opens no day in no currency.
    days = [] if entry.kind == RESTORE and amount == 0 else [daily]
    return [seen, balance, history, *days]


def _moved(
    entry: LedgerEntry,
    account_uuid: str,
    occurred_at: str,
    granted: int = 0,
    applied: int = 0,
    calling: int = 0,
    restored: int = 0,
) -> BalanceMoved:
    return BalanceMoved(
        account_uuid=account_uuid,
        currency=entry.currency,
        balance_minor=entry.balance_after_minor,
        granted_minor=granted,
        applied_minor=applied,
        calling_credits_minor=calling,
        occurred_at=occurred_at,
        opens_currency=granted > 0,
        restored_minor=restored,
    )


def history_entry_from_row(row: HistoryRow) -> dict[str, Any]:
    """The row as the ledger's own history line (the CLI's and the API's shape)."""
    return entry_from_row(row).history_json()


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
