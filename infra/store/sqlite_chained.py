"""SQLite event recorder that extends the tamper-evidence chain on every insert."""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from application.tamper_chain import GENESIS, link

CHAIN_TABLE = "event_chain"


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} "
            "(notification_id INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Insert first: that takes SQLite's writer lock, so the chain head read
        # below cannot be moved by another writer before this commits.
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not ids:
            return ids
        c.execute(
            f"SELECT hash FROM {CHAIN_TABLE} WHERE notification_id < ? "
            "ORDER BY notification_id DESC LIMIT 1",
            (ids[0],),
        )
        row = c.fetchone()
        previous = bytes(row[0]) if row else GENESIS
        links = []
        for notification_id, event in zip(ids, stored_events, strict=True):
            previous = link(
                previous,
                notification_id,
                event.originator_id,
                event.originator_version,
                event.topic,
                event.state,
            )
            links.append((notification_id, previous))
        c.executemany(f"INSERT INTO {CHAIN_TABLE} VALUES (?, ?)", links)
        return ids
