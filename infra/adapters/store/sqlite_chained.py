"""SQLite event recorder that extends the tamper-evidence chain on every insert,
claims each newly decided invoice id for its account, store-wide, and keeps
each decision's business key."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from application.tamper_chain import GENESIS, links
from infra.adapters.store.business_keys import KeyRow, key_rows
from infra.adapters.store.tables import SQLITE_CHAIN as CHAIN_TABLE
from infra.adapters.store.tables import SQLITE_CLAIMS as CLAIMS_TABLE
from infra.adapters.store.tables import SQLITE_KEYS as KEYS_TABLE
from infra.adapters.store.tables import SQLITE_SNAPSHOTS

# Keys looked up per statement: two parameters each, far below SQLite's limit.
_KEYS_PER_SELECT = 400

# Ids per "IN (...)" list: well below SQLite's limit on bound parameters.
_IN_CHUNK = 5_000


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} "
            "(notification_id INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} "
            "(invoice_id TEXT PRIMARY KEY, account_id TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (originator_id TEXT, business_key TEXT, "
            "originator_version INTEGER NOT NULL, PRIMARY KEY (originator_id, business_key)) WITHOUT ROWID",
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        # A store from before business keys were kept: derive them once, in
        # the transaction that creates the table, so no writer sees it half
        # filled.
        c.execute(f"SELECT 1 FROM {KEYS_TABLE} LIMIT 1")
        if c.fetchone() is None:
            c.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name}")
            c.executemany(
                f"INSERT INTO {KEYS_TABLE} VALUES (?, ?, ?)",
                ((o.hex, key, v) for o, key, v in key_rows(c.fetchall())),
            )

    def recorded_by_key(self, wanted: Sequence[tuple[UUID, str]]) -> list[StoredEvent]:
        events: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), _KEYS_PER_SELECT):
                part = wanted[start : start + _KEYS_PER_SELECT]
                rows = ",".join(["(?, ?)"] * len(part))
                c.execute(
                    f"WITH wanted(originator_id, business_key) AS (VALUES {rows}) "
                    f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM wanted "
                    f"JOIN {KEYS_TABLE} k USING (originator_id, business_key) "
                    f"JOIN {self.events_table_name} e "
                    "ON e.originator_id = k.originator_id AND e.originator_version = k.originator_version",
                    [value for originator_id, key in part for value in (originator_id.hex, key)],
                )
                events.extend(
                    StoredEvent(
                        originator_id=self.convert_originator_id(row[0]),
                        originator_version=row[1],
                        topic=row[2],
                        state=bytes(row[3]),
                    )
                    for row in c.fetchall()
                )
        return events

    def invoice_owners(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        if not invoice_ids:
            return {}
        marks = ",".join("?" * len(invoice_ids))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT invoice_id, account_id FROM {CLAIMS_TABLE} WHERE invoice_id IN ({marks})",
                list(invoice_ids),
            )
            return {row[0]: row[1] for row in c.fetchall()}

    def events_of(
        self, originator_ids: Sequence[UUID], *, first_only: bool = False
    ) -> dict[UUID, list[StoredEvent]]:
        streams: dict[UUID, list[StoredEvent]] = defaultdict(list)
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), _IN_CHUNK):
                chunk = [originator_id.hex for originator_id in originator_ids[start : start + _IN_CHUNK]]
                marks = ",".join("?" * len(chunk))
                if first_only:
                    c.execute(
                        f"SELECT * FROM {self.events_table_name} "
                        f"WHERE originator_id IN ({marks}) AND originator_version = 1",
                        chunk,
                    )
                else:
                    c.execute(_streams_from_snapshots(self.events_table_name, marks), chunk * 2)
                for row in c.fetchall():
                    streams[UUID(row["originator_id"])].append(
                        StoredEvent(
                            originator_id=UUID(row["originator_id"]),
                            originator_version=row["originator_version"],
                            topic=row["topic"],
                            state=row["state"],
                        )
                    )
        return dict(streams)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Insert first: that takes SQLite's writer lock, so the chain head read
        # below cannot be moved by another writer before this commits.
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not ids:
            return ids
        c.execute(
            f"SELECT hash FROM {CHAIN_TABLE} WHERE notification_id < ? ORDER BY notification_id DESC LIMIT 1",
            (ids[0],),
        )
        row = c.fetchone()
        previous = bytes(row[0]) if row else GENESIS
        hashes = links(previous, ids, stored_events)
        c.executemany(f"INSERT INTO {CHAIN_TABLE} VALUES (?, ?)", zip(ids, hashes, strict=True))
        # A second claim of an invoice id violates the primary key, so the
        # whole transaction fails like any other write race.
        c.executemany(f"INSERT INTO {CLAIMS_TABLE} VALUES (?, ?)", kwargs.get("invoice_claims", ()))
        # Likewise a business key recorded twice in one account.
        keys: Sequence[KeyRow] = kwargs.get("business_keys", ())
        c.executemany(f"INSERT INTO {KEYS_TABLE} VALUES (?, ?, ?)", ((o.hex, k, v) for o, k, v in keys))
        return ids


def _streams_from_snapshots(events_table: str, marks: str) -> str:
    """Each stream from its latest snapshot on: the snapshot first, then the
    events after it (all of them where there is no snapshot)."""
    return (
        f"WITH latest AS (SELECT originator_id, max(originator_version) AS v FROM {SQLITE_SNAPSHOTS} "
        f"WHERE originator_id IN ({marks}) GROUP BY originator_id) "
        "SELECT originator_id, originator_version, topic, state FROM ("
        "SELECT s.originator_id, s.originator_version, s.topic, s.state, 0 AS part "
        f"FROM {SQLITE_SNAPSHOTS} s "
        "JOIN latest l ON s.originator_id = l.originator_id AND s.originator_version = l.v "
        f"UNION ALL SELECT e.originator_id, e.originator_version, e.topic, e.state, 1 FROM {events_table} e "
        "LEFT JOIN latest l ON e.originator_id = l.originator_id "
        f"WHERE e.originator_id IN ({marks}) AND e.originator_version > coalesce(l.v, 0)"
        ") ORDER BY originator_id, part, originator_version"
    )
