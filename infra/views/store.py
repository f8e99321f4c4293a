"""View-store logic shared by the SQLite and PostgreSQL recorders."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from itertools import groupby
from typing import Any

from eventsourcing.persistence import Tracking

from infra.views import schema
from projections.changes import AccountSeen, BalanceMoved, Change, DailyMoved, HistoryRow
from projections.ports import AccountView, BalanceRow, DailyRow, LiabilityRow, TrackingConflictError


class ViewStatements:
    """Every statement, in the database's own parameter style."""

    def __init__(self, convert: Callable[[str], str], tracking_table: str) -> None:
        self.convert = convert
        self.tracking_table = tracking_table
        self.statements: dict[str, str] = {
            name: convert(getattr(schema, name))
            for name in dir(schema)
            if name.isupper() and isinstance(getattr(schema, name), str)
        }
        self.move_tracking = convert(
            f"UPDATE {tracking_table} SET notification_id = :new "
            "WHERE application_name = :application_name AND notification_id = :after "
            "RETURNING notification_id"
        )
        self.start_tracking = convert(
            f"INSERT INTO {tracking_table} (application_name, notification_id) "
            "VALUES (:application_name, :new) ON CONFLICT (application_name) DO NOTHING "
            "RETURNING notification_id"
        )
        self.balances_snapshot = convert(
            "SELECT t.position, a.account_id, b.currency, b.balance_minor, b.granted_minor, "
            "b.applied_minor, b.calling_credits_minor FROM (SELECT (SELECT notification_id "
            f"FROM {tracking_table} WHERE application_name = :application_name) AS position) t "
            "LEFT JOIN (view_balances b JOIN view_accounts a ON a.account_uuid = b.account_uuid) "
            "ON 1 = 1"
        )
        self.forget_tracking = convert(
            f"DELETE FROM {tracking_table} WHERE application_name = :application_name"
        )

    def __getitem__(self, name: str) -> str:
        return self.statements[name]


def _writes(changes: Sequence[Change]) -> list[tuple[str, str, dict[str, Any]]]:
    """(table, statement name, parameters) for every change, in order."""
    writes: list[tuple[str, str, dict[str, Any]]] = []
    for change in changes:
        params = asdict(change)
        if isinstance(change, AccountSeen):
            writes.append(("view_accounts", "UPSERT_ACCOUNT", params))
        elif isinstance(change, BalanceMoved):
            statement = "UPSERT_BALANCE" if change.opens_currency else "UPDATE_BALANCE"
            writes.append(("view_balances", statement, params))
        elif isinstance(change, HistoryRow):
            writes.append(("view_history", "INSERT_HISTORY", params))
        elif isinstance(change, DailyMoved):
            writes.append(("view_daily", "UPSERT_DAILY", params))
            if change.granted_reason is not None:
                writes.append(("view_daily_grants", "UPSERT_DAILY_GRANT", params))
    return writes


class ViewStoreMixin:
    """The ViewStore port over a datastore with ``transaction(commit=...)``."""

    views_sql: ViewStatements
    datastore: Any

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)  # type: ignore[no-any-return]

    # Writes

    def apply(
        self,
        changes: Sequence[Change],
        tracking: Tracking,
        *,
        after: int | None = None,
        check_after: bool = False,
    ) -> None:
        with self._transaction(commit=True) as c:
            # The position moves first: it takes the write lock, so a second
            # runner waits here and then finds the position moved.
            if check_after:
                self._move_position(c, tracking, after)
            else:
                # The tracking recorder's own check: strictly after the last.
                self._insert_tracking(c, tracking)  # type: ignore[attr-defined]
            self._write(c, changes)

    def _write(self, c: Any, changes: Sequence[Change]) -> None:
        # Tables are independent, so each table's writes may run together as
        # long as their order within the table is kept.
        writes = sorted(_writes(changes), key=lambda w: list(schema.TABLES).index(w[0]))
        for (_, statement), group in groupby(writes, key=lambda w: (w[0], w[1])):
            c.executemany(self.views_sql[statement], [params for _, _, params in group])

    def replace_all(
        self, application_name: str, batches: Iterable[tuple[Sequence[Change], Tracking]]
    ) -> None:
        with self._transaction(commit=True) as c:
            self._clear(c, application_name)
            after: int | None = None
            for changes, tracking in batches:
                self._move_position(c, tracking, after)
                self._write(c, changes)
                after = tracking.notification_id

    def _move_position(self, c: Any, tracking: Tracking, after: int | None) -> None:
        params = {
            "application_name": tracking.application_name,
            "new": tracking.notification_id,
            "after": after,
        }
        c.execute(self.views_sql.start_tracking if after is None else self.views_sql.move_tracking, params)
        if c.fetchone() is None:
            raise TrackingConflictError(f"views position of {tracking.application_name} is no longer {after}")

    def clear(self, application_name: str) -> None:
        with self._transaction(commit=True) as c:
            self._clear(c, application_name)

    def _clear(self, c: Any, application_name: str) -> None:
        c.execute(self.views_sql.forget_tracking, {"application_name": application_name})
        for table in schema.TABLES:
            c.execute(f"DELETE FROM {table}")

    # Reads

    def _rows(self, statement: str, params: dict[str, Any]) -> list[Any]:
        with self._transaction(commit=False) as c:
            c.execute(self.views_sql[statement], params)
            return list(c.fetchall())

    def account(self, account_uuid: str) -> AccountView | None:
        with self._transaction(commit=False) as c:
            c.execute(self.views_sql["SELECT_ACCOUNT"], {"account_uuid": account_uuid})
            account = c.fetchone()
            if account is None:
                return None
            c.execute(self.views_sql["SELECT_BALANCES"], {"account_uuid": account_uuid})
            balances = [BalanceRow(**dict(_mapping(row))) for row in c.fetchall()]
        return AccountView(account["account_id"] or "", account["last_activity_at"], balances)

    def history(self, account_uuid: str, limit: int, before_version: int | None) -> list[HistoryRow]:
        before = before_version if before_version is not None else 2**62
        rows = self._rows("SELECT_HISTORY", {"account_uuid": account_uuid, "before": before, "limit": limit})
        return [HistoryRow(**dict(_mapping(row))) for row in rows]

    def daily(self, currency: str | None, from_day: str | None, to_day: str | None) -> list[DailyRow]:
        params = {"currency": currency, "from_day": from_day, "to_day": to_day}
        by_reason: dict[tuple[str, str], dict[str, int]] = {}
        for row in self._rows("SELECT_DAILY_GRANTS", params):
            by_reason.setdefault((row["day"], row["currency"]), {})[row["reason"]] = row["granted_minor"]
        return [
            DailyRow(
                **dict(_mapping(row)),
                granted_by_reason=dict(sorted(by_reason.get((row["day"], row["currency"]), {}).items())),
            )
            for row in self._rows("SELECT_DAILY", params)
        ]

    def liability(self) -> list[LiabilityRow]:
        return [LiabilityRow(**dict(_mapping(row))) for row in self._rows("SELECT_LIABILITY", {})]

    def balances_snapshot(self, application_name: str) -> tuple[int | None, list[tuple[Any, ...]]]:
        """The views' position and every balance row, read by ONE statement so
        both come from the same snapshot on either database."""
        with self._transaction(commit=False) as c:
            c.execute(self.views_sql.balances_snapshot, {"application_name": application_name})
            rows = c.fetchall()
        position = rows[0]["position"] if rows else None
        columns = ("account_id", "currency", "balance_minor", "granted_minor", "applied_minor")
        return position, [
            (*(row[column] for column in columns), row["calling_credits_minor"])
            for row in rows
            if row["currency"] is not None
        ]

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        tables: dict[str, list[tuple[object, ...]]] = {}
        with self._transaction(commit=False) as c:
            for table, columns in schema.TABLES.items():
                c.execute(f"SELECT {', '.join(columns)} FROM {table}")
                tables[table] = sorted(
                    (tuple(row[column] for column in columns) for row in c.fetchall()), key=_sort_key
                )
        return tables


def _sort_key(row: tuple[object, ...]) -> tuple[tuple[bool, str], ...]:
    # None sorts first; every value compares as text so mixed columns sort.
    return tuple((value is not None, str(value)) for value in row)


def _mapping(row: Any) -> Iterator[tuple[str, Any]]:
    """(column, value) pairs from a sqlite3.Row or a psycopg dict row."""
    keys = row.keys()
    return ((key, row[key]) for key in keys)
