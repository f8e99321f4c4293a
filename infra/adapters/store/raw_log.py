"""Raw readers of the stored record for auditors: events joined to their chain links.

Rows come in notification order, page by page (keyset paging on the
notification id), so memory stays flat however long the history. Chain links
whose event row is gone are merged in at their position: a deleted event must
show up where it was.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from application.audit.rows import RawRow
from domain.errors import LedgerError
from infra.adapters.store.tables import POSTGRES_CHAIN, POSTGRES_EVENTS, SQLITE_EVENTS
from infra.adapters.store.tables import SQLITE_CHAIN as CHAIN_TABLE
from infra.adapters.store.urls import check_ledger_exists, persistence_env, postgres_conninfo

if TYPE_CHECKING:
    import psycopg

PAGE = 5_000


class RawLogError(LedgerError):
    """The store cannot be read as a ledger event store."""


def _hyphenated(hex32: str) -> str:
    # SQLite stores UUIDs as 32 hex digits; the chain hashes their canonical
    # text, and slicing is several times cheaper than building a UUID.
    if len(hex32) == 32:
        return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"
    return hex32


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return b"" if value is None else str(value).encode("utf-8", "surrogateescape")


def _coerced(n: int, originator_id: Any, version: Any, topic: Any, state: Any, stored: Any) -> RawRow:
    """A row whose column types were changed behind the recorder's back
    (SQLite keeps whatever type is written): read it as the bytes it now holds
    so the chain, not a crash, reports it."""
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = -1
    return n, _hyphenated(str(originator_id)), number, str(topic), _as_bytes(state), stored


def _merge(events: Iterator[RawRow], orphans: Iterator[RawRow]) -> Iterator[RawRow]:
    return heapq.merge(events, orphans, key=lambda row: row[0])


def _keyset(fetch: Callable[[int], Sequence[Any]], page: int) -> Iterator[Any]:
    """Every row of a query ordered by its first column, one page at a time:
    each page starts after the last id of the one before, so a page costs the
    same at the end of a long history as at its start."""
    after = 0
    while True:
        rows = fetch(after)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1][0]


class SQLiteRawLog:
    def __init__(self, path: str, page: int = PAGE) -> None:
        self._path = path
        self._page = page

    def _connect(self) -> sqlite3.Connection:
        # Read-only: an audit must never create or change the store.
        if not Path(self._path).is_file():
            raise RawLogError(f"there is no event store at {self._path}")
        return sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)

    def head(self) -> int:
        conn = self._connect()
        try:
            row = conn.execute(
                f"SELECT max(coalesce((SELECT max(rowid) FROM {SQLITE_EVENTS}), 0), "
                f"coalesce((SELECT max(notification_id) FROM {CHAIN_TABLE}), 0))"
            ).fetchone()
        except sqlite3.OperationalError as error:
            raise RawLogError(f"{self._path} is not a ledger event store: {error}") from None
        finally:
            conn.close()
        return int(row[0])

    def rows(self, upto: int) -> Iterator[RawRow]:
        conn = self._connect()
        events = (
            f"SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, c.hash "
            f"FROM {SQLITE_EVENTS} e LEFT JOIN {CHAIN_TABLE} c ON c.notification_id = e.rowid "
            f"WHERE e.rowid > ? AND e.rowid <= ? ORDER BY e.rowid LIMIT ?"
        )
        orphans = (
            f"SELECT c.notification_id, c.hash FROM {CHAIN_TABLE} c "
            f"WHERE c.notification_id > ? AND c.notification_id <= ? AND NOT EXISTS "
            f"(SELECT 1 FROM {SQLITE_EVENTS} e WHERE e.rowid = c.notification_id) "
            f"ORDER BY c.notification_id LIMIT ?"
        )

        def page_of(query: str) -> Callable[[int], list[Any]]:
            return lambda after: conn.execute(query, (after, upto, self._page)).fetchall()

        try:
            yield from _merge(
                (
                    (n, _hyphenated(originator_id), version, topic, state, stored)
                    if type(state) is bytes and type(version) is int and type(topic) is str
                    else _coerced(n, originator_id, version, topic, state, stored)
                    for n, originator_id, version, topic, state, stored in _keyset(
                        page_of(events), self._page
                    )
                ),
                ((n, None, None, None, None, stored) for n, stored in _keyset(page_of(orphans), self._page)),
            )
        finally:
            conn.close()


class PostgresRawLog:
    def __init__(self, conninfo: dict[str, Any], page: int = PAGE) -> None:
        self._conninfo = conninfo
        self._page = page

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg  # only PostgreSQL stores need it

        return psycopg.connect(**self._conninfo, autocommit=True)

    def head(self) -> int:
        from psycopg.errors import UndefinedTable

        with self._connect() as conn:
            try:
                row = conn.execute(
                    f"SELECT greatest((SELECT max(notification_id) FROM {POSTGRES_EVENTS}), "
                    f"(SELECT max(notification_id) FROM {POSTGRES_CHAIN}), 0)"
                ).fetchone()
            except UndefinedTable as error:
                raise RawLogError(f"the database holds no ledger event store: {error}") from None
        return int(row[0]) if row else 0

    def rows(self, upto: int) -> Iterator[RawRow]:
        events = (
            f"SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, "
            f"c.hash FROM {POSTGRES_EVENTS} e LEFT JOIN {POSTGRES_CHAIN} c "
            f"ON c.notification_id = e.notification_id "
            f"WHERE e.notification_id > %s AND e.notification_id <= %s "
            f"ORDER BY e.notification_id LIMIT %s"
        )
        orphans = (
            f"SELECT c.notification_id, c.hash FROM {POSTGRES_CHAIN} c "
            f"WHERE c.notification_id > %s AND c.notification_id <= %s AND NOT EXISTS "
            f"(SELECT 1 FROM {POSTGRES_EVENTS} e WHERE e.notification_id = c.notification_id) "
            f"ORDER BY c.notification_id LIMIT %s"
        )
        # Two connections: the merge interleaves the pages of both queries.
        with self._connect() as event_conn, self._connect() as orphan_conn:

            def page_of(conn: psycopg.Connection[Any], query: str) -> Callable[[int], list[Any]]:
                return lambda after: conn.execute(query, (after, upto, self._page)).fetchall()

            yield from _merge(
                (
                    (
                        n,
                        originator_id,
                        version,
                        topic,
                        bytes(state),
                        None if stored is None else bytes(stored),
                    )
                    for n, originator_id, version, topic, state, stored in _keyset(
                        page_of(event_conn, events), self._page
                    )
                ),
                (
                    (n, None, None, None, None, bytes(stored))
                    for n, stored in _keyset(page_of(orphan_conn, orphans), self._page)
                ),
            )


def raw_log(database_url: str) -> SQLiteRawLog | PostgresRawLog:
    """The raw reader for the event store at this URL, which must exist."""
    check_ledger_exists(database_url)
    env = persistence_env(database_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return SQLiteRawLog(env["SQLITE_DBNAME"])
    return PostgresRawLog(postgres_conninfo(database_url))
