"""SQLite event recorder that extends the tamper-evidence chain on every insert
and claims each newly decided invoice id for its account, store-wide."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from application.tamper_chain import GENESIS, links
from infra.adapters.store.tables import SQLITE_CHAIN as CHAIN_TABLE
from infra.adapters.store.tables import SQLITE_CLAIMS as CLAIMS_TABLE

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
        ]

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
        version = "AND originator_version = 1 " if first_only else ""
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), _IN_CHUNK):
                chunk = [originator_id.hex for originator_id in originator_ids[start : start + _IN_CHUNK]]
                c.execute(
                    f"SELECT * FROM {self.events_table_name} WHERE originator_id IN "
                    f"({','.join('?' * len(chunk))}) {version}ORDER BY originator_id, originator_version",
                    chunk,
                )
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
        return ids
