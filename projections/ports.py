"""The view store a projection writes to and the API reads from.

Implemented for SQLite and PostgreSQL in infra; the projection never knows
which. Every write applies a batch of changes and the tracking position in
ONE transaction, which is what makes processing exactly-once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eventsourcing.persistence import Tracking

from projections.changes import Change, HistoryRow


class TrackingConflictError(Exception):
    """Another runner moved the view's position first; nothing was applied."""


@dataclass(frozen=True)
class BalanceRow:
    currency: str
    balance_minor: int
    granted_minor: int
    applied_minor: int
    calling_credits_minor: int
    last_activity_at: str
    restored_minor: int = 0


@dataclass(frozen=True)
class AccountView:
    account_id: str
    last_activity_at: str
    balances: list[BalanceRow]

    @property
    def visible(self) -> bool:
        # Balances never go negative, so "total > 0" is "any currency > 0".
        return any(b.balance_minor > 0 for b in self.balances)


@dataclass(frozen=True)
class DailyRow:
    day: str
    currency: str
    granted_minor: int
    applied_minor: int
    calling_credits_minor: int
    invoices_decided: int
    invoices_touched: int
    restored_minor: int = 0
    granted_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LiabilityRow:
    currency: str
    liability_minor: int
    accounts_with_balance: int


@dataclass(frozen=True)
class SetAside:
    """An event the views cannot take: skipped, with why, so the rest go on."""

    notification_id: int
    error: str


@dataclass(frozen=True)
class ViewsHealth:
    """What readiness needs to know about the views, read in one go."""

    position: int
    quarantined: int
    first_quarantined: SetAside | None
    # Epoch milliseconds of the projector's last look at the event log
    # (None: no projector has run on these views yet).
    checked_at_ms: int | None
    failing_since_ms: int | None
    last_error: str | None


class ViewStore(Protocol):
    def apply(
        self,
        changes: Sequence[Change],
        tracking: Tracking,
        *,
        after: int | None = None,
        check_after: bool = False,
        set_aside: Sequence[SetAside] = (),
    ) -> None:
        """Apply the changes, record the events set aside, and move the
        position to ``tracking``, atomically.

        With ``check_after`` the position must still be ``after`` (None: no
        position yet), else TrackingConflictError and nothing is applied.
        """

    def replace_all(
        self,
        application_name: str,
        batches: Iterable[tuple[Sequence[Change], Tracking, Sequence[SetAside]]],
    ) -> None:
        """Empty every view and the events set aside, and apply all the
        batches in ONE transaction, so readers keep seeing the old views until
        the new ones are complete."""

    def record_status(self, application_name: str, checked_at_ms: int, error: str | None) -> None:
        """The projector's pulse: it looked for events at ``checked_at_ms``,
        and failed to with ``error`` (None: it succeeded)."""

    def health(self, application_name: str) -> ViewsHealth: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def clear(self, application_name: str) -> None:
        """Empty every view and forget the position, in one transaction."""

    def account(self, account_uuid: str) -> AccountView | None: ...

    def history(self, account_uuid: str, limit: int, before_version: int | None) -> list[HistoryRow]:
        """Newest first, only versions below ``before_version`` when given."""

    def daily(self, currency: str | None, from_day: str | None, to_day: str | None) -> list[DailyRow]: ...

    def liability(self) -> list[LiabilityRow]: ...

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        """Every row of every view table, sorted: for row-for-row comparisons."""
