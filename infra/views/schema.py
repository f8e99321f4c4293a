"""The view tables and the statements that maintain them, for both databases.

Written once with ``:name`` parameters; the PostgreSQL store rewrites them to
psycopg's style. Timestamps are stored as the RFC 3339 text the API serves, so
both databases hold byte-identical rows for the same history.
"""

from __future__ import annotations

import re

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
    ),
    "view_daily_grants": ("day", "currency", "reason", "granted_minor"),
}

CREATE = [
    "CREATE TABLE IF NOT EXISTS view_accounts ("
    "account_uuid TEXT PRIMARY KEY, account_id TEXT, last_activity_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_balances ("
    "account_uuid TEXT NOT NULL, currency TEXT NOT NULL, balance_minor BIGINT NOT NULL, "
    "granted_minor BIGINT NOT NULL, applied_minor BIGINT NOT NULL, "
    "calling_credits_minor BIGINT NOT NULL, last_activity_at TEXT NOT NULL, "
    "PRIMARY KEY (account_uuid, currency))",
    "CREATE TABLE IF NOT EXISTS view_history ("
    "account_uuid TEXT NOT NULL, version BIGINT NOT NULL, notification_id BIGINT NOT NULL, "
    "event_id TEXT NOT NULL, type TEXT NOT NULL, business_key TEXT NOT NULL, currency TEXT NOT NULL, "
    "amount_minor BIGINT NOT NULL, balance_minor BIGINT NOT NULL, occurred_at TEXT NOT NULL, "
    "invoice_total_minor BIGINT, amount_due_minor BIGINT, price_minor BIGINT, reason TEXT, note TEXT, "
    "PRIMARY KEY (account_uuid, version))",
    "CREATE TABLE IF NOT EXISTS view_daily ("
    "day TEXT NOT NULL, currency TEXT NOT NULL, granted_minor BIGINT NOT NULL, "
    "applied_minor BIGINT NOT NULL, calling_credits_minor BIGINT NOT NULL, "
    "invoices_decided BIGINT NOT NULL, invoices_touched BIGINT NOT NULL, PRIMARY KEY (day, currency))",
    "CREATE TABLE IF NOT EXISTS view_daily_grants ("
    "day TEXT NOT NULL, currency TEXT NOT NULL, reason TEXT NOT NULL, granted_minor BIGINT NOT NULL, "
    "PRIMARY KEY (day, currency, reason))",
]

UPSERT_ACCOUNT = (
    "INSERT INTO view_accounts (account_uuid, account_id, last_activity_at) "
    "VALUES (:account_uuid, :account_id, :occurred_at) "
    "ON CONFLICT (account_uuid) DO UPDATE SET last_activity_at = excluded.last_activity_at, "
    "account_id = COALESCE(view_accounts.account_id, excluded.account_id)"
)
UPSERT_BALANCE = (
    "INSERT INTO view_balances VALUES (:account_uuid, :currency, :balance_minor, :granted_minor, "
    ":applied_minor, :calling_credits_minor, :occurred_at) "
    "ON CONFLICT (account_uuid, currency) DO UPDATE SET balance_minor = excluded.balance_minor, "
    "granted_minor = view_balances.granted_minor + excluded.granted_minor, "
    "applied_minor = view_balances.applied_minor + excluded.applied_minor, "
    "calling_credits_minor = view_balances.calling_credits_minor + excluded.calling_credits_minor, "
    "last_activity_at = excluded.last_activity_at"
)
UPDATE_BALANCE = (
    "UPDATE view_balances SET balance_minor = :balance_minor, "
    "granted_minor = granted_minor + :granted_minor, applied_minor = applied_minor + :applied_minor, "
    "calling_credits_minor = calling_credits_minor + :calling_credits_minor, "
    "last_activity_at = :occurred_at WHERE account_uuid = :account_uuid AND currency = :currency"
)
INSERT_HISTORY = (
    "INSERT INTO view_history VALUES (" + ", ".join(f":{c}" for c in TABLES["view_history"]) + ")"
)
UPSERT_DAILY = (
    "INSERT INTO view_daily VALUES (:day, :currency, :granted_minor, :applied_minor, "
    ":calling_credits_minor, :invoices_decided, :invoices_touched) "
    "ON CONFLICT (day, currency) DO UPDATE SET "
    "granted_minor = view_daily.granted_minor + excluded.granted_minor, "
    "applied_minor = view_daily.applied_minor + excluded.applied_minor, "
    "calling_credits_minor = view_daily.calling_credits_minor + excluded.calling_credits_minor, "
    "invoices_decided = view_daily.invoices_decided + excluded.invoices_decided, "
    "invoices_touched = view_daily.invoices_touched + excluded.invoices_touched"
)
UPSERT_DAILY_GRANT = (
    "INSERT INTO view_daily_grants VALUES (:day, :currency, :granted_reason, :granted_minor) "
    "ON CONFLICT (day, currency, reason) DO UPDATE SET "
    "granted_minor = view_daily_grants.granted_minor + excluded.granted_minor"
)

SELECT_ACCOUNT = "SELECT account_id, last_activity_at FROM view_accounts WHERE account_uuid = :account_uuid"
SELECT_BALANCES = (
    "SELECT currency, balance_minor, granted_minor, applied_minor, calling_credits_minor, last_activity_at "
    "FROM view_balances WHERE account_uuid = :account_uuid ORDER BY currency"
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
SELECT_LIABILITY = (
    "SELECT currency, CAST(SUM(balance_minor) AS BIGINT) AS liability_minor, "
    "CAST(SUM(CASE WHEN balance_minor > 0 THEN 1 ELSE 0 END) AS BIGINT) AS accounts_with_balance "
    "FROM view_balances GROUP BY currency ORDER BY currency"
)

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def pyformat(statement: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``."""
    return _NAMED.sub(r"%(\1)s", statement)
