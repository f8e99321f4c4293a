"""View-store logic shared by the SQLite and PostgreSQL recorders."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Tracking

from infra.adapters.views import schema
from projections.changes import AccountSeen, BalanceMoved, Change, DailyMoved, HistoryRow
from projections.ports import (
    AccountView,
    BalanceRow,
    DailyRow,
    LiabilityRow,
    SetAside,
    TrackingConflictError,
    ViewsHealth,
)

log = logging.getLogger("promocredits.projections")


class ViewsSchemaError(Exception):
    """The views database was written by a newer release of the service."""


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
        self.select_position = convert(
            f"SELECT notification_id FROM {tracking_table} WHERE application_name = :application_name"
        )
        self.balances_snapshot = convert(
            "SELECT t.position, a.account_id, b.currency, b.balance_minor, b.granted_minor, "
            "b.applied_minor, b.calling_credits_minor, b.restored_minor FROM (SELECT (SELECT notification_id "
            f"FROM {tracking_table} WHERE application_name = :application_name) AS position) t "
            "LEFT JOIN (view_balances b JOIN view_accounts a ON a.account_uuid = b.account_uuid) "
            "ON 1 = 1"
        )
        self.forget_tracking = convert(
            f"DELETE FROM {tracking_table} WHERE application_name = :application_name"
        )
        self.forget_quarantine = convert(
            f"DELETE FROM {schema.QUARANTINE_TABLE} WHERE application_name = :application_name"
        )

    def __getitem__(self, name: str) -> str:
        return self.statements[name]


def _money_text(value: object) -> str | None:
    """A money value as the decimal text both databases store exactly."""
    if value is None:
        return None
    # bool is an int subclass; neither it nor a float is an amount.
    if type(value) is not int:
        raise TypeError(f"an amount must be a whole number of minor units, got {value!r}")
    return str(value)


def _encoded(table: str, params: dict[str, Any]) -> dict[str, Any]:
    # A copy with the few money columns replaced: cheaper than testing
    # every column of every row.
    encoded = params.copy()
    for key in schema.MONEY.get(table, ()):
        if key in encoded:
            encoded[key] = _money_text(encoded[key])
    return encoded


def _decoded(table: str, row: Any) -> dict[str, Any]:
    """A row with its money as int (SQLite gives text, PostgreSQL Decimal)."""
    # dict() takes a sqlite3.Row and a psycopg dict row alike; then only the
    # money columns are looked at, as in _encoded.
    decoded = dict(row)
    for key in schema.MONEY.get(table, ()):
        value = decoded.get(key)
        if value is not None:
            decoded[key] = int(value)
    return decoded


def _one_row_per_account(seen: Iterable[AccountSeen]) -> list[dict[str, Any]]:
    """The account rows a batch writes, one per account: every entry of an
    account marks it seen, so a batch holds many. The merged row is what
    applying them in order leaves: the first account id known, the last
    activity."""
    rows: dict[str, dict[str, Any]] = {}
    for change in seen:
        row = rows.get(change.account_uuid)
        if row is None:
            rows[change.account_uuid] = vars(change).copy()
        else:
            row["occurred_at"] = change.occurred_at
            if row["account_id"] is None:
                row["account_id"] = change.account_id
    return list(rows.values())


# The day's columns every move adds to: all but its key.
_DAILY_SUMS = tuple(c for c in schema.TABLES["view_daily"] if c not in ("day", "currency"))


class ViewStoreMixin:
    """The ViewStore port over a datastore with ``transaction(commit=...)``."""

    views_sql: ViewStatements
    datastore: Any
    # The dialect's exact whole-number column type (see schema).
    money_type: str

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)  # type: ignore[no-any-return]

    # Schema

    def ensure_schema(self, application_name: str) -> None:
        """Bring a views database written by an earlier release to this
        release's schema by emptying it: the projector then rebuilds every view
        from the event log, which is the only source of truth they have."""
        with self._transaction(commit=True) as c:
            c.execute(self.views_sql["CLAIM_SCHEMA_ROW"])
            c.execute(self.views_sql["SELECT_SCHEMA_VERSION"])
            version = int(c.fetchone()["version"])
            if version == schema.SCHEMA_VERSION:
                return
            if version > schema.SCHEMA_VERSION:
                raise ViewsSchemaError(
                    f"the views database has schema version {version}, newer than this release's "
                    f"{schema.SCHEMA_VERSION}: run the newer release, or point "
                    "PROMOCREDITS_VIEWS_DATABASE_URL at another database"
                )
            c.execute(self.views_sql.select_position, {"application_name": application_name})
            if c.fetchone() is not None:
                log.warning(
                    "the views database has an earlier schema; emptying it so the views are rebuilt "
                    "from the event log (schema version %d)",
                    schema.SCHEMA_VERSION,
                )
            for statement in schema.drop_statements():
                c.execute(statement)
            for statement in schema.create_statements(self.money_type):
                c.execute(statement)
            c.execute(self.views_sql.forget_tracking, {"application_name": application_name})
            c.execute(self.views_sql["SET_SCHEMA_VERSION"], {"version": schema.SCHEMA_VERSION})

    # Writes

    def apply(
        self,
        changes: Sequence[Change],
        tracking: Tracking,
        *,
        after: int | None = None,
        check_after: bool = False,
        set_aside: Sequence[SetAside] = (),
    ) -> None:
        with self._transaction(commit=True) as c:
            # The position moves first: it takes the write lock, so a second
            # runner waits here and then finds the position moved. Holding it
            # is also what makes reading totals and writing them back safe.
            if check_after:
                self._move_position(c, tracking, after)
            else:
                # The tracking recorder's own check: strictly after the last.
                self._insert_tracking(c, tracking)  # type: ignore[attr-defined]
            self._write(c, changes)
            self._set_aside(c, tracking.application_name, set_aside)

    def _set_aside(self, c: Any, application_name: str, set_aside: Sequence[SetAside]) -> None:
        if set_aside:
            now = datetime.now(UTC).isoformat()
            c.executemany(
                self.views_sql["INSERT_QUARANTINE"],
                [
                    {
                        "application_name": application_name,
                        "notification_id": item.notification_id,
                        "error": item.error,
                        "quarantined_at": now,
                    }
                    for item in set_aside
                ],
            )

    def _write(self, c: Any, changes: Sequence[Change]) -> None:
        # vars(), not asdict(): the records hold only scalars, and asdict's
        # deep copy would cost more than the writes.
        seen: list[AccountSeen] = []
        balances: list[BalanceMoved] = []
        history: list[dict[str, Any]] = []
        daily: list[DailyMoved] = []
        # One pass: four passes over every change of a batch cost more than
        # some of the writes.
        for change in changes:
            if isinstance(change, HistoryRow):
                history.append(_encoded("view_history", vars(change)))
            elif isinstance(change, AccountSeen):
                seen.append(change)
            elif isinstance(change, BalanceMoved):
                balances.append(change)
            elif isinstance(change, DailyMoved):
                daily.append(change)
        accounts = _one_row_per_account(seen)
        if accounts:
            self._write_rows(c, "UPSERT_ACCOUNT", accounts)
        if balances:
            self._write_balances(c, balances)
        if history:
            self._write_rows(c, "INSERT_HISTORY", history)
        if daily:
            self._write_daily(c, daily)

    def _current(self, c: Any, table: str, column: str, keys: Iterable[Any]) -> list[dict[str, Any]]:
        """Every row of ``table`` whose ``column`` is one of ``keys``."""
        return [_decoded(table, row) for row in self._select_in(c, table, column, sorted(set(keys)))]

    def _select_in(self, c: Any, table: str, column: str, keys: Sequence[Any]) -> list[Any]:
        """The stored rows of ``table`` whose ``column`` is one of ``keys``:
        each database passes many keys its own way."""
        raise NotImplementedError

    def _upsert(self, c: Any, statement: str, table: str, rows: Iterable[dict[str, Any]]) -> None:
        params = [_encoded(table, row) for row in rows]
        if params:
            self._write_rows(c, statement, params)

    def _write_rows(self, c: Any, statement: str, rows: Sequence[dict[str, Any]]) -> None:
        """Every row through ``statement``. Within one call no two rows may
        share a key: a store may send them all in one statement, and one
        upsert cannot touch a row twice."""
        c.executemany(self.views_sql[statement], rows)

    def _write_balances(self, c: Any, moves: Sequence[BalanceMoved]) -> None:
        current = {
            (row["account_uuid"], row["currency"]): row
            for row in self._current(c, "view_balances", "account_uuid", (m.account_uuid for m in moves))
        }
        before = {key: row["balance_minor"] for key, row in current.items()}
        changed: dict[tuple[str, str], dict[str, Any]] = {}
        for move in moves:
            key = (move.account_uuid, move.currency)
            row = current.get(key)
            if row is None:
                if not move.opens_currency:
                    continue  # as the ledger: only a grant opens a currency
                row = current[key] = {
                    "account_uuid": move.account_uuid,
                    "currency": move.currency,
                    "granted_minor": 0,
                    "applied_minor": 0,
                    "calling_credits_minor": 0,
                    "restored_minor": 0,
                }
            row["balance_minor"] = move.balance_minor
            row["granted_minor"] += move.granted_minor
            row["applied_minor"] += move.applied_minor
            row["calling_credits_minor"] += move.calling_credits_minor
            row["restored_minor"] += move.restored_minor
            row["last_activity_at"] = move.occurred_at
            changed[key] = row
        self._upsert(c, "UPSERT_BALANCE", "view_balances", changed.values())
        self._write_liability(c, changed, before)

    def _write_liability(
        self, c: Any, changed: dict[tuple[str, str], dict[str, Any]], before: dict[tuple[str, str], int]
    ) -> None:
        currencies = {currency for _, currency in changed}
        liability = {
            row["currency"]: row for row in self._current(c, "view_liability", "currency", currencies)
        }
        for currency in currencies:
            liability.setdefault(
                currency, {"currency": currency, "liability_minor": 0, "accounts_with_balance": 0}
            )
        for key, row in changed.items():
            old, new = before.get(key, 0), row["balance_minor"]
            totals = liability[key[1]]
            totals["liability_minor"] += new - old
            totals["accounts_with_balance"] += (new > 0) - (old > 0)
        self._upsert(c, "UPSERT_LIABILITY", "view_liability", liability.values())

    def _write_daily(self, c: Any, moves: Sequence[DailyMoved]) -> None:
        days = {m.day for m in moves}
        daily = {(row["day"], row["currency"]): row for row in self._current(c, "view_daily", "day", days)}
        grants = {
            (row["day"], row["currency"], row["reason"]): row
            for row in self._current(c, "view_daily_grants", "day", days)
        }
        changed_days: dict[tuple[str, str], dict[str, Any]] = {}
        changed_grants: dict[tuple[str, str, str], dict[str, Any]] = {}
        for move in moves:
            key = (move.day, move.currency)
            row = daily.get(key)
            if row is None:
                row = daily[key] = {
                    "day": move.day,
                    "currency": move.currency,
                    **dict.fromkeys(_DAILY_SUMS, 0),
                }
            values = vars(move)
            for column in _DAILY_SUMS:
                row[column] += values[column]
            changed_days[key] = row
            if move.granted_reason is not None:
                grant_key = (move.day, move.currency, move.granted_reason)
                grant = grants.setdefault(
                    grant_key,
                    {"day": move.day, "currency": move.currency, "reason": move.granted_reason},
                )
                grant["granted_minor"] = grant.get("granted_minor", 0) + move.granted_minor
                changed_grants[grant_key] = grant
        self._upsert(c, "UPSERT_DAILY", "view_daily", changed_days.values())
        self._upsert(c, "UPSERT_DAILY_GRANT", "view_daily_grants", changed_grants.values())

    def replace_all(
        self,
        application_name: str,
        batches: Iterable[tuple[Sequence[Change], Tracking, Sequence[SetAside]]],
    ) -> None:
        with self._transaction(commit=True) as c:
            self._clear(c, application_name)
            after: int | None = None
            for changes, tracking, set_aside in batches:
                self._move_position(c, tracking, after)
                self._write(c, changes)
                self._set_aside(c, application_name, set_aside)
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
        c.execute(self.views_sql.forget_quarantine, {"application_name": application_name})
        for table in schema.TABLES:
            c.execute(f"DELETE FROM {table}")

    def record_status(self, application_name: str, checked_at_ms: int, error: str | None) -> None:
        statement = "CLEAR_STATUS_FAILURE" if error is None else "UPSERT_STATUS"
        with self._transaction(commit=True) as c:
            c.execute(
                self.views_sql[statement],
                {
                    "application_name": application_name,
                    "checked_at_ms": checked_at_ms,
                    "failing_since_ms": checked_at_ms,
                    "last_error": error,
                },
            )

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
            balances = [BalanceRow(**_decoded("view_balances", row)) for row in c.fetchall()]
        return AccountView(account["account_id"] or "", account["last_activity_at"], balances)

    def history(self, account_uuid: str, limit: int, before_version: int | None) -> list[HistoryRow]:
        before = before_version if before_version is not None else 2**62
        rows = self._rows("SELECT_HISTORY", {"account_uuid": account_uuid, "before": before, "limit": limit})
        return [HistoryRow(**_decoded("view_history", row)) for row in rows]

    def daily(self, currency: str | None, from_day: str | None, to_day: str | None) -> list[DailyRow]:
        params = {"currency": currency, "from_day": from_day, "to_day": to_day}
        by_reason: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for row in self._rows("SELECT_DAILY_GRANTS", params):
            grant = _decoded("view_daily_grants", row)
            by_reason[(grant["day"], grant["currency"])][grant["reason"]] = grant["granted_minor"]
        return [
            DailyRow(
                **_decoded("view_daily", row),
                granted_by_reason=dict(sorted(by_reason.get((row["day"], row["currency"]), {}).items())),
            )
            for row in self._rows("SELECT_DAILY", params)
        ]

    def liability(self) -> list[LiabilityRow]:
        return [LiabilityRow(**_decoded("view_liability", row)) for row in self._rows("SELECT_LIABILITY", {})]

    def health(self, application_name: str) -> ViewsHealth:
        params = {"application_name": application_name}
        with self._transaction(commit=False) as c:
            c.execute(self.views_sql.select_position, params)
            tracked = c.fetchone()
            c.execute(self.views_sql["COUNT_QUARANTINE"], params)
            quarantined = int(c.fetchone()["quarantined"])
            first = None
            if quarantined:
                c.execute(self.views_sql["SELECT_FIRST_QUARANTINED"], params)
                row = c.fetchone()
                first = SetAside(int(row["notification_id"]), row["error"])
            c.execute(self.views_sql["SELECT_STATUS"], params)
            status = c.fetchone()
        return ViewsHealth(
            position=int(tracked["notification_id"]) if tracked else 0,
            quarantined=quarantined,
            first_quarantined=first,
            checked_at_ms=int(status["checked_at_ms"]) if status else None,
            failing_since_ms=status["failing_since_ms"] if status else None,
            last_error=status["last_error"] if status else None,
        )

    def balances_snapshot(self, application_name: str) -> tuple[int | None, list[tuple[Any, ...]]]:
        """The views' position and every balance row, read by ONE statement so
        both come from the same snapshot on either database."""
        with self._transaction(commit=False) as c:
            c.execute(self.views_sql.balances_snapshot, {"application_name": application_name})
            rows = [_decoded("view_balances", row) for row in c.fetchall()]
        position = rows[0]["position"] if rows else None
        columns = ("account_id", "currency", "balance_minor", "granted_minor", "applied_minor")
        return position, [
            (*(row[column] for column in columns), row["calling_credits_minor"], row["restored_minor"])
            for row in rows
            if row["currency"] is not None
        ]

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        tables: dict[str, list[tuple[object, ...]]] = {}
        with self._transaction(commit=False) as c:
            for table, columns in schema.TABLES.items():
                c.execute(f"SELECT {', '.join(columns)} FROM {table}")
                rows = (_decoded(table, row) for row in c.fetchall())
                tables[table] = sorted(
                    (tuple(row[column] for column in columns) for row in rows), key=_sort_key
                )
        return tables


def _sort_key(row: tuple[object, ...]) -> tuple[tuple[bool, str], ...]:
    # None sorts first; every value compares as text so mixed columns sort.
    return tuple((value is not None, str(value)) for value in row)
