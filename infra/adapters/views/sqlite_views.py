"""Views in an SQLite file, tracked by eventsourcing's SQLite tracking recorder."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from infra.adapters.views import schema
from infra.adapters.views.store import ViewStatements, ViewStoreMixin

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
# Keys per "IN (...)" list: far below SQLite's limit on bound parameters.
_IN_CHUNK = 500


class SQLiteViewRecorder(ViewStoreMixin, SQLiteTrackingRecorder):
    # SQLite integers stop at 2^63; TEXT affinity keeps decimal text as given.
    money_type = "TEXT"

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # SQLite speaks ":name" already; its tracking table is always "tracking".
        self.views_sql = ViewStatements(lambda statement: statement, "tracking")

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *schema.create_statements(self.money_type)]

    def _write_rows(self, c: Any, statement: str, rows: Sequence[dict[str, Any]]) -> None:
        # Bound by position: sqlite3 looks each named parameter up by a name
        # it makes anew for every row, which cost a third of a batch's inserts.
        positional, values = _positional(self.views_sql[statement])
        c.executemany(positional, map(values, rows))

    def _select_in(self, c: Any, table: str, column: str, keys: Sequence[Any]) -> list[Any]:
        # By position too, in chunks far below SQLite's limit on parameters.
        rows: list[Any] = []
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            c.execute(f"SELECT * FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk)
            rows.extend(c.fetchall())
        return rows


@cache
def _positional(statement: str) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """``statement`` with "?" for each ":name", and what reads a row's
    values in that order."""
    names = _NAMED.findall(statement)
    getter = itemgetter(*names)
    values: Callable[[dict[str, Any]], tuple[Any, ...]] = (
        getter if len(names) > 1 else lambda row: (getter(row),)
    )
    return _NAMED.sub("?", statement), values
