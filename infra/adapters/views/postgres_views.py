"""Views in PostgreSQL, tracked by eventsourcing's PostgreSQL tracking recorder."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL

from infra.adapters.views import schema
from infra.adapters.views.store import ViewStatements, ViewStoreMixin


class PostgresViewRecorder(ViewStoreMixin, PostgresTrackingRecorder):
    money_type = "NUMERIC"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(
            SQL(statement).format() for statement in schema.create_statements(self.money_type)
        )
        table = f'"{self.datastore.schema}"."{self.tracking_table_name}"'
        self.views_sql = ViewStatements(schema.pyformat, table)
