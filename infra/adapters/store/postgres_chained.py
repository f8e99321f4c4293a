"""PostgreSQL event recorder that extends the tamper-evidence chain on every insert
and claims each newly decided invoice id for its account, store-wide."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from application.tamper_chain import GENESIS, links
from infra.adapters.store.tables import CHAIN_SUFFIX, CLAIMS_SUFFIX


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_table_name = events_table_name + CHAIN_SUFFIX
        chain = Identifier(self.datastore.schema), Identifier(self.chain_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (notification_id bigint PRIMARY KEY, hash bytea NOT NULL)"
            ).format(*chain)
        )
        self._select_head = SQL(
            "SELECT hash FROM {0}.{1} WHERE notification_id < %s ORDER BY notification_id DESC LIMIT 1"
        ).format(*chain)
        self._insert_links = SQL(
            "INSERT INTO {0}.{1} SELECT * FROM unnest(%s::bigint[], %s::bytea[])"
        ).format(*chain)
        claims = Identifier(self.datastore.schema), Identifier(events_table_name + CLAIMS_SUFFIX)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (invoice_id text PRIMARY KEY, account_id text NOT NULL)"
            ).format(*claims)
        )
        self._insert_claims = SQL("INSERT INTO {0}.{1} SELECT * FROM unnest(%s::text[], %s::text[])").format(
            *claims
        )
        events = Identifier(self.datastore.schema), Identifier(events_table_name)
        streams = "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
        self._select_streams = SQL(
            streams + "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(*events)
        self._select_first_events = SQL(
            streams + "WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(*events)
        self._select_owners = SQL(
            "SELECT invoice_id, account_id FROM {0}.{1} WHERE invoice_id = ANY(%s)"
        ).format(*claims)

    def events_of(
        self, originator_ids: Sequence[UUID], *, first_only: bool = False
    ) -> dict[UUID, list[StoredEvent]]:
        streams: dict[UUID, list[StoredEvent]] = defaultdict(list)
        if not originator_ids:
            return {}
        select = self._select_first_events if first_only else self._select_streams
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(select, (list(originator_ids),), prepare=True)
            for row in curs.fetchall():
                originator_id = row["originator_id"]
                streams[originator_id].append(
                    StoredEvent(
                        originator_id=originator_id,
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    )
                )
        return dict(streams)

    def invoice_owners(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        if not invoice_ids:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_owners, (list(invoice_ids),))
            return {row["invoice_id"]: row["account_id"] for row in curs.fetchall()}

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Still inside the insert transaction, which holds the events table's
        # EXCLUSIVE lock: no other writer can extend the chain meanwhile.
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if not ids:
            return ids
        # The sequence hands out ids in the order the rows were inserted.
        ids = sorted(ids)
        curs.execute(self._select_head, (ids[0],), prepare=True)
        row = curs.fetchone()
        previous = bytes(row["hash"]) if row else GENESIS
        hashes = links(previous, ids, stored_events)
        # One statement per table, arrays in and out: far cheaper than a row
        # at a time for a batch of thousands of events.
        curs.execute(self._insert_links, (ids, hashes), prepare=True)
        # A second claim of an invoice id violates the primary key, so the
        # whole transaction fails like any other write race.
        claims = kwargs.get("invoice_claims", ())
        if claims:
            invoice_ids, account_ids = zip(*claims, strict=True)
            curs.execute(self._insert_claims, (list(invoice_ids), list(account_ids)), prepare=True)
        return ids
