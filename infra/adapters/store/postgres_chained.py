"""PostgreSQL event recorder that extends the tamper-evidence chain on every insert,
claims each newly decided invoice id for its account, store-wide, and keeps
each decision's business key."""

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
from infra.adapters.store.business_keys import KeyRow, key_rows
from infra.adapters.store.tables import CHAIN_SUFFIX, CLAIMS_SUFFIX, KEYS_SUFFIX


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
            "INSERT INTO {0}.{1} SELECT * FROM unnest(%b::bigint[], %b::bytea[])"
        ).format(*chain)
        claims = Identifier(self.datastore.schema), Identifier(events_table_name + CLAIMS_SUFFIX)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (invoice_id text PRIMARY KEY, account_id text NOT NULL)"
            ).format(*claims)
        )
        self._insert_claims = SQL("INSERT INTO {0}.{1} SELECT * FROM unnest(%b::text[], %b::text[])").format(
            *claims
        )
        events = Identifier(self.datastore.schema), Identifier(events_table_name)
        # One array per column rather than one array of the composite type
        # eventsourcing inserts, and every array in binary (%b): psycopg
        # dumps a composite's fields, and any array as text, in Python, byte
        # by byte for bytea. That was the largest cost of saving a batch.
        self._insert_columns = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{2}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(*events, Identifier(self.datastore.originator_id_type))
        streams = "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
        # Each stream from its latest snapshot on: the snapshot first, then
        # the events after it (all of them where there is no snapshot).
        snapshots = (
            Identifier(self.datastore.schema),
            Identifier(events_table_name.removesuffix("_events") + "_snapshots"),
        )
        self._select_streams = SQL(
            "WITH latest AS (SELECT originator_id, max(originator_version) AS v FROM {0}.{1} "
            "WHERE originator_id = ANY(%b) GROUP BY originator_id) "
            "SELECT originator_id, originator_version, topic, state FROM ("
            "SELECT s.originator_id, s.originator_version, s.topic, s.state, 0 AS part FROM {0}.{1} s "
            "JOIN latest l ON s.originator_id = l.originator_id AND s.originator_version = l.v "
            "UNION ALL SELECT e.originator_id, e.originator_version, e.topic, e.state, 1 FROM {2}.{3} e "
            "LEFT JOIN latest l ON e.originator_id = l.originator_id "
            "WHERE e.originator_id = ANY(%b) AND e.originator_version > coalesce(l.v, 0)"
            ") AS streams ORDER BY originator_id, part, originator_version"
        ).format(*snapshots, *events)
        self._select_first_events = SQL(
            streams + "WHERE originator_id = ANY(%b) AND originator_version = 1"
        ).format(*events)
        self._select_owners = SQL(
            "SELECT invoice_id, account_id FROM {0}.{1} WHERE invoice_id = ANY(%b)"
        ).format(*claims)
        keys = Identifier(self.datastore.schema), Identifier(events_table_name + KEYS_SUFFIX)
        events = Identifier(self.datastore.schema), Identifier(events_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (originator_id uuid, business_key text, "
                "originator_version bigint NOT NULL, PRIMARY KEY (originator_id, business_key))"
            ).format(*keys)
        )
        self._insert_keys = SQL(
            "INSERT INTO {0}.{1} SELECT * FROM unnest(%b::uuid[], %b::text[], %b::bigint[])"
        ).format(*keys)
        self._any_key = SQL("SELECT 1 FROM {0}.{1} LIMIT 1").format(*keys)
        self._all_events = SQL("SELECT originator_id, originator_version, topic, state FROM {0}.{1}").format(
            *events
        )
        self._select_by_key = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%b::uuid[], %b::text[]) AS wanted(originator_id, business_key) "
            "JOIN {0}.{1} k USING (originator_id, business_key) "
            "JOIN {2}.{3} e "
            "ON e.originator_id = k.originator_id AND e.originator_version = k.originator_version"
        ).format(*keys, *events)

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        super()._create_table(curs)
        # A store from before business keys were kept: derive them once, in
        # the transaction that creates the table. A second process doing the
        # same at the same moment fails on the primary key and starts over.
        curs.execute(self._any_key)
        if curs.fetchone() is None:
            curs.execute(self._all_events)
            rows = list(
                key_rows(
                    (r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                    for r in curs.fetchall()
                )
            )
            if rows:
                curs.execute(self._insert_keys, [list(column) for column in zip(*rows, strict=True)])

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._insert_columns,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
        )

    def recorded_by_key(self, wanted: Sequence[tuple[UUID, str]]) -> list[StoredEvent]:
        if not wanted:
            return []
        originator_ids, business_keys = zip(*wanted, strict=True)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_by_key, (list(originator_ids), list(business_keys)))
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def events_of(
        self, originator_ids: Sequence[UUID], *, first_only: bool = False
    ) -> dict[UUID, list[StoredEvent]]:
        streams: dict[UUID, list[StoredEvent]] = defaultdict(list)
        if not originator_ids:
            return {}
        select = self._select_first_events if first_only else self._select_streams
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            ids = list(originator_ids)
            curs.execute(select, (ids,) if first_only else (ids, ids), prepare=True)
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
        # Likewise a business key recorded twice in one account.
        keys: Sequence[KeyRow] = kwargs.get("business_keys", ())
        if keys:
            curs.execute(
                self._insert_keys, [list(column) for column in zip(*keys, strict=True)], prepare=True
            )
        return ids
