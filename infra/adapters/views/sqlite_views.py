"""Views in an SQLite file, tracked by eventsourcing's SQLite tracking recorder."""

from __future__ import annotations

from typing import Any

from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from infra.adapters.views import schema
from infra.adapters.views.store import ViewStatements, ViewStoreMixin


class SQLiteViewRecorder(ViewStoreMixin, SQLiteTrackingRecorder):
    # SQLite integers stop at 2^63; TEXT affinity keeps decimal text as given.
    money_type = "TEXT"

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # SQLite speaks ":name" already; its tracking table is always "tracking".
        self.views_sql = ViewStatements(lambda statement: statement, "tracking")

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *schema.create_statements(self.money_type)]
