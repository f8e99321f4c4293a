"""Views in PostgreSQL, tracked by eventsourcing's PostgreSQL tracking recorder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL

from infra.adapters.views import schema
from infra.adapters.views.store import ViewStatements, ViewStoreMixin

_INSERT = re.compile(r"INSERT INTO (\w+) (?:\(([\w, ]+)\) )?VALUES \(([:\w, ]+)\)")
_COLUMN = re.compile(r"(\w+) (TEXT|BIGINT|NUMERIC)\b")


class PostgresViewRecorder(ViewStoreMixin, PostgresTrackingRecorder):
    money_type = "NUMERIC"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(
            SQL(statement).format() for statement in schema.create_statements(self.money_type)
        )
        table = f'"{self.datastore.schema}"."{self.tracking_table_name}"'
        self.views_sql = ViewStatements(schema.pyformat, table)

    def _select_in(self, c: Any, table: str, column: str, keys: Sequence[Any]) -> list[Any]:
        # One array parameter: one statement whatever the number of keys,
        # the same text every time (so the server prepares it once), where
        # chunks of hundreds of parameters each cost a round trip and a plan.
        if not keys:
            return []
        c.execute(f"SELECT * FROM {table} WHERE {column} = ANY(%s)", (list(keys),))
        return list(c.fetchall())

    def _write_rows(self, c: Any, statement: str, rows: Sequence[dict[str, Any]]) -> None:
        # All rows in one statement, as one JSON document: a statement per row
        # (even pipelined) spent most of a batch's time waiting on the
        # server, and arrays cost as much again to build in Python.
        c.execute(_from_json(statement), (orjson.dumps(rows).decode(),))


@cache
def _from_json(name: str) -> str:
    """Statement ``name`` of the schema reading its rows from a JSON array
    of objects (keys: the statement's parameters) instead of VALUES."""
    statement: str = getattr(schema, name)
    insert = _INSERT.search(statement)
    assert insert is not None, f"{name} is not an INSERT ... VALUES"
    table, listed, values = insert.groups()
    columns = [c.strip() for c in listed.split(",")] if listed else list(schema.TABLES[table])
    params = tuple(p.strip().removeprefix(":") for p in values.split(","))
    created = next(s for s in schema.create_statements("NUMERIC") if f" {table} (" in s)
    types = dict(_COLUMN.findall(created))
    record = ", ".join(f"{p} {types[c]}" for p, c in zip(params, columns, strict=True))
    from_json = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(params)} "
        f"FROM json_to_recordset(%s::json) AS u({record})"
    )
    return statement[: insert.start()] + from_json + statement[insert.end() :]
