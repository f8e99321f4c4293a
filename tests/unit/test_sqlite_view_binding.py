"""SQLite views bind their rows by position: the same rows as by name."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from infra.adapters.views import schema
from infra.adapters.views.sqlite_views import _positional

ROWS: dict[str, list[dict[str, Any]]] = {
    "UPSERT_ACCOUNT": [
        {"account_uuid": "u1", "account_id": "acct-1", "occurred_at": "2026-01-01T00:00:00Z"},
        {"account_uuid": "u2", "account_id": None, "occurred_at": "2026-01-02T00:00:00Z"},
    ],
    "UPSERT_DAILY_GRANT": [
        {"day": "2026-01-01", "currency": "USD", "reason": "refund", "granted_minor": "12"}
    ],
    "UPSERT_LIABILITY": [{"currency": "EUR", "liability_minor": str(2**70), "accounts_with_balance": 3}],
    "INSERT_HISTORY": [
        {
            "account_uuid": "u1",
            "version": 2,
            "notification_id": 7,
            "event_id": "e",
            "type": "invoice",
            "business_key": "inv-1",
            "currency": "USD",
            "amount_minor": "5",
            "balance_minor": "0",
            "occurred_at": "2026-01-01T00:00:00Z",
            "invoice_total_minor": "9",
            "amount_due_minor": "4",
            "price_minor": None,
            "reason": None,
            "note": None,
        }
    ],
}


def tables(rows_of: dict[str, list[dict[str, Any]]], positional: bool) -> list[list[tuple[Any, ...]]]:
    db = sqlite3.connect(":memory:")
    for statement in schema.create_statements("TEXT"):
        db.execute(statement)
    for name, rows in rows_of.items():
        if positional:
            sql, values = _positional(getattr(schema, name))
            db.executemany(sql, map(values, rows))
        else:
            db.executemany(getattr(schema, name), rows)
    return [sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in schema.TABLES]


@pytest.mark.parametrize("name", sorted(ROWS))
def test_rows_bound_by_position_are_the_rows_bound_by_name(name: str) -> None:
    assert tables({name: ROWS[name]}, positional=True) == tables({name: ROWS[name]}, positional=False)


def test_every_parameter_of_every_statement_is_bound() -> None:
    for name in dir(schema):
        statement = getattr(schema, name)
        if name.isupper() and isinstance(statement, str) and ":" in statement:
            sql, values = _positional(statement)
            named = {key: key for key in schema._NAMED.findall(statement)}
            assert sql.count("?") == len(values(named)), name
