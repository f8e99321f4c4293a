"""The view tables and the statements that maintain them, for both databases.

Written once with ``:name`` parameters; the PostgreSQL store rewrites them to
psycopg's style. Timestamps are stored as the RFC 3339 text the API serves, so
both databases hold byte-identical rows for the same history.

Money columns hold whole numbers of any size: cumulative totals and sums over
accounts pass 2^63 long before any single balance does. PostgreSQL stores them
as NUMERIC; SQLite, whose integers stop at 2^63 and whose SUM turns to float
past it, as decimal TEXT. Either way the projector does the arithmetic in
Python and the store reads the values back as ``int``, so no total is ever
rounded or overflows.
"""

from __future__ import annotations

import re

# Raise when a table's shape changes: a views database holding another
# version is emptied and rebuilt from the event log when it is opened.
# Version 1 (no version row) kept money in BIGINT columns summed by SQL;
# version 2 had no restored_minor columns (credits given back by voids).
SCHEMA_VERSION = 3

TABLES: dict[str, tuple[str, ...]] = {
    "view_accounts": ("account_uuid", "account_id", "last_activity_at"),
    "view_balances": (
        "account_uuid",
        "currency",
        "balance_minor",
        "granted_minor",
        "applied_minor",
        "calling_credits_minor",
        "last_activity_at",
        "restored_minor",
    ),
    "view_history": (
        "account_uuid",
        "version",
        "notification_id",
        "event_id",
        "type",
        "business_key",
        "currency",
        "amount_minor",
        "balance_minor",
        "occurred_at",
        "invoice_total_minor",
        "amount_due_minor",
        "price_minor",
        "reason",
        "note",
    ),
    "view_daily": (
        "day",
        "currency",
        "granted_minor",
        "applied_minor",
        "calling_credits_minor",
        "invoices_decided",
        "invoices_touched",
        "restored_minor",
    ),
    "view_daily_grants": ("day", "currency", "reason", "granted_minor"),
    "view_liability": ("currency", "liability_minor", "accounts_with_balance"),
}

# Columns stored as MONEY (see above); they are written as decimal text and
# read back as int.
MONEY: dict[str, frozenset[str]] = {
    "view_balances": frozenset(
        {"balance_minor", "granted_minor", "applied_minor", "calling_credits_minor", "restored_minor"}
    ),
    "view_history": frozenset(
        {"amount_minor", "balance_minor", "invoice_total_minor", "amount_due_minor", "price_minor"}
    ),
    "view_daily": frozenset({"granted_minor", "applied_minor", "calling_credits_minor", "restored_minor"}),
    "view_daily_grants": frozenset({"granted_minor"}),
    "view_liability": frozenset({"liability_minor"}),
}

# Tables that describe the projector rather than the ledger: never part of
# a row-for-row comparison of views.
QUARANTINE_TABLE = "view_quarantine"
STATUS_TABLE = "view_projector_status"
SCHEMA_TABLE = "view_schema"

# "{money}" is the dialect's exact-integer column type.
_CREATE_VIEWS = [
    "CREATE TABLE IF NOT EXISTS view_accounts ("
    "account_uuid TEXT PRIMARY KEY, account_id TEXT, last_activity_at TEXT NOT NULL)",
    # Support looks an account id up ignoring case (a mistyped id is a common
    # cause of "my credits are not showing"): an index, never a scan.
    "CREATE INDEX IF NOT EXISTS view_accounts_folded_id ON view_accounts (lower(account_id))",
    "CREATE TABLE IF NOT EXISTS view_balances ("
    "account_uuid TEXT NOT NULL, currency TEXT NOT NULL, balance_minor {money} NOT NULL, "
    "granted_minor {money} NOT NULL, applied_minor {money} NOT NULL, "
    "calling_credits_minor {money} NOT NULL, last_activity_at TEXT NOT NULL, "
    "restored_minor {money} NOT NULL, PRIMARY KEY (account_uuid, currency))",
    "CREATE TABLE IF NOT EXISTS view_history ("
    "account_uuid TEXT NOT NULL, version BIGINT NOT NULL, notification_id BIGINT NOT NULL, "
    "event_id TEXT NOT NULL, type TEXT NOT NULL, business_key TEXT NOT NULL, currency TEXT NOT NULL, "
    "amount_minor {money} NOT NULL, balance_minor {money} NOT NULL, occurred_at TEXT NOT NULL, "
    "invoice_total_minor {money}, amount_due_minor {money}, price_minor {money}, reason TEXT, note TEXT, "
    "PRIMARY KEY (account_uuid, version))",
    "CREATE TABLE IF NOT EXISTS view_daily ("
    "day TEXT NOT NULL, currency TEXT NOT NULL, granted_minor {money} NOT NULL, "
    "applied_minor {money} NOT NULL, calling_credits_minor {money} NOT NULL, "
    "invoices_decided BIGINT NOT NULL, invoices_touched BIGINT NOT NULL, "
    "restored_minor {money} NOT NULL, PRIMARY KEY (day, currency))",
    "CREATE TABLE IF NOT EXISTS view_daily_grants ("
    "day TEXT NOT NULL, currency TEXT NOT NULL, reason TEXT NOT NULL, granted_minor {money} NOT NULL, "
    "PRIMARY KEY (day, currency, reason))",
    # The sum of the balances per currency, kept by the projector as balances
    # move, so reading it costs one row per currency.
    "CREATE TABLE IF NOT EXISTS view_liability ("
    "currency TEXT PRIMARY KEY, liability_minor {money} NOT NULL, accounts_with_balance BIGINT NOT NULL)",
    # Events the projector could not turn into view rows, set aside so the
    # views go on; kept until a rebuild projects them or sets them aside again.
    f"CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} ("
    "application_name TEXT NOT NULL, notification_id BIGINT NOT NULL, error TEXT NOT NULL, "
    "quarantined_at TEXT NOT NULL, PRIMARY KEY (application_name, notification_id))",
    # The projector's pulse, for readiness: when it last looked for events
    # (epoch milliseconds), and since when it fails to reach a database.
    f"CREATE TABLE IF NOT EXISTS {STATUS_TABLE} ("
    "application_name TEXT PRIMARY KEY, checked_at_ms BIGINT NOT NULL, "
    "failing_since_ms BIGINT, last_error TEXT)",
]

CREATE_SCHEMA_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (name TEXT PRIMARY KEY, version BIGINT NOT NULL)"
)


def create_statements(money_type: str) -> list[str]:
    return [CREATE_SCHEMA_TABLE, *(statement.format(money=money_type) for statement in _CREATE_VIEWS)]


def drop_statements() -> list[str]:
    return [f"DROP TABLE IF EXISTS {table}" for table in (*TABLES, QUARANTINE_TABLE, STATUS_TABLE)]


SELECT_SCHEMA_VERSION = f"SELECT version FROM {SCHEMA_TABLE} WHERE name = 'views'"
# Written first in the migration's transaction: the write takes the lock, so
# two processes opening an old database migrate it once, one after the other.
CLAIM_SCHEMA_ROW = (
    f"INSERT INTO {SCHEMA_TABLE} (name, version) VALUES ('views', 0) ON CONFLICT (name) DO UPDATE "
    f"SET version = {SCHEMA_TABLE}.version"
)
SET_SCHEMA_VERSION = f"UPDATE {SCHEMA_TABLE} SET version = :version WHERE name = 'views'"

UPSERT_ACCOUNT = (
    "INSERT INTO view_accounts (account_uuid, account_id, last_activity_at) "
    "VALUES (:account_uuid, :account_id, :occurred_at) "
    "ON CONFLICT (account_uuid) DO UPDATE SET last_activity_at = excluded.last_activity_at, "
    "account_id = COALESCE(view_accounts.account_id, excluded.account_id)"
)
# Totals are computed by the projector (see the module docstring): every
# upsert writes final values, never SQL sums.
UPSERT_BALANCE = (
    "INSERT INTO view_balances VALUES (:account_uuid, :currency, :balance_minor, :granted_minor, "
    ":applied_minor, :calling_credits_minor, :last_activity_at, :restored_minor) "
    "ON CONFLICT (account_uuid, currency) DO UPDATE SET balance_minor = excluded.balance_minor, "
    "granted_minor = excluded.granted_minor, applied_minor = excluded.applied_minor, "
    "calling_credits_minor = excluded.calling_credits_minor, last_activity_at = excluded.last_activity_at, "
    "restored_minor = excluded.restored_minor"
)
INSERT_HISTORY = (
    "INSERT INTO view_history VALUES (" + ", ".join(f":{c}" for c in TABLES["view_history"]) + ")"
)
UPSERT_DAILY = (
    "INSERT INTO view_daily VALUES (:day, :currency, :granted_minor, :applied_minor, "
    ":calling_credits_minor, :invoices_decided, :invoices_touched, :restored_minor) "
    "ON CONFLICT (day, currency) DO UPDATE SET granted_minor = excluded.granted_minor, "
    "applied_minor = excluded.applied_minor, calling_credits_minor = excluded.calling_credits_minor, "
    "invoices_decided = excluded.invoices_decided, invoices_touched = excluded.invoices_touched, "
    "restored_minor = excluded.restored_minor"
)
UPSERT_DAILY_GRANT = (
    "INSERT INTO view_daily_grants VALUES (:day, :currency, :reason, :granted_minor) "
    "ON CONFLICT (day, currency, reason) DO UPDATE SET granted_minor = excluded.granted_minor"
)
UPSERT_LIABILITY = (
    "INSERT INTO view_liability VALUES (:currency, :liability_minor, :accounts_with_balance) "
    "ON CONFLICT (currency) DO UPDATE SET liability_minor = excluded.liability_minor, "
    "accounts_with_balance = excluded.accounts_with_balance"
)
INSERT_QUARANTINE = (
    f"INSERT INTO {QUARANTINE_TABLE} (application_name, notification_id, error, quarantined_at) "
    "VALUES (:application_name, :notification_id, :error, :quarantined_at)"
)
UPSERT_STATUS = (
    f"INSERT INTO {STATUS_TABLE} (application_name, checked_at_ms, failing_since_ms, last_error) "
    "VALUES (:application_name, :checked_at_ms, :failing_since_ms, :last_error) "
    "ON CONFLICT (application_name) DO UPDATE SET checked_at_ms = excluded.checked_at_ms, "
    f"failing_since_ms = COALESCE({STATUS_TABLE}.failing_since_ms, excluded.failing_since_ms), "
    "last_error = excluded.last_error"
)
# A success clears the failure; a failure keeps the moment it began.
CLEAR_STATUS_FAILURE = (
    f"INSERT INTO {STATUS_TABLE} (application_name, checked_at_ms, failing_since_ms, last_error) "
    "VALUES (:application_name, :checked_at_ms, NULL, NULL) "
    "ON CONFLICT (application_name) DO UPDATE SET checked_at_ms = excluded.checked_at_ms, "
    "failing_since_ms = NULL, last_error = NULL"
)

SELECT_ACCOUNT = "SELECT account_id, last_activity_at FROM view_accounts WHERE account_uuid = :account_uuid"
SELECT_BALANCES = (
    "SELECT currency, balance_minor, granted_minor, applied_minor, calling_credits_minor, last_activity_at, "
    "restored_minor FROM view_balances WHERE account_uuid = :account_uuid ORDER BY currency"
)
SELECT_HISTORY = (
    "SELECT * FROM view_history WHERE account_uuid = :account_uuid AND version < :before "
    "ORDER BY version DESC LIMIT :limit"
)
SELECT_DAILY = (
    "SELECT * FROM view_daily WHERE (CAST(:currency AS TEXT) IS NULL OR currency = :currency) "
    "AND (CAST(:from_day AS TEXT) IS NULL OR day >= :from_day) "
    "AND (CAST(:to_day AS TEXT) IS NULL OR day <= :to_day) "
    "ORDER BY day, currency"
)
SELECT_DAILY_GRANTS = (
    "SELECT day, currency, reason, granted_minor FROM view_daily_grants "
    "WHERE (CAST(:currency AS TEXT) IS NULL OR currency = :currency) "
    "AND (CAST(:from_day AS TEXT) IS NULL OR day >= :from_day) "
    "AND (CAST(:to_day AS TEXT) IS NULL OR day <= :to_day)"
)
SELECT_LIABILITY = "SELECT * FROM view_liability ORDER BY currency"
COUNT_QUARANTINE = (
    f"SELECT COUNT(*) AS quarantined FROM {QUARANTINE_TABLE} WHERE application_name = :application_name"
)
SELECT_FIRST_QUARANTINED = (
    f"SELECT notification_id, error FROM {QUARANTINE_TABLE} WHERE application_name = :application_name "
    "ORDER BY notification_id LIMIT 1"
)
SELECT_STATUS = (
    f"SELECT checked_at_ms, failing_since_ms, last_error FROM {STATUS_TABLE} "
    "WHERE application_name = :application_name"
)

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def pyformat(statement: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``."""
    return _NAMED.sub(r"%(\1)s", statement)
