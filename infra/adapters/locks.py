"""Locks that elect one holder per store, from the store's own engine.

No coordination of our own: on PostgreSQL, a session-level advisory lock held
on a connection of the holder's; on SQLite (one host), an exclusive lock on a
file beside the ledger. The engine releases either the moment the holder's
process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from infra.adapters.store.urls import postgres_conninfo, sqlite_path

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("promocredits.leadership")


class Leadership(Protocol):
    """An exclusive right, held by at most one process at a time."""

    def try_acquire(self) -> bool:
        """Take the right if nobody holds it; True while we hold it."""

    def held(self) -> bool:
        """Ask the engine whether we still hold it (False once the
        connection or file that held it is gone)."""

    def release(self) -> None:
        """Give it up, so that a standby takes over at once."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    return int.from_bytes(hashlib.sha256(f"promocredits:{name}".encode()).digest()[:8], "big", signed=True)


class PostgresAdvisoryLock:
    """A session-level advisory lock on a connection of its own.

    TCP keepalives make the server notice a leader whose host vanished, and
    the leader notice a server that did, within seconds rather than hours.
    """

    def __init__(self, conninfo: dict[str, Any], name: str) -> None:
        self._conninfo = conninfo
        self._key = lock_key(name)
        self._connection: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        import psycopg

        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(
                    **self._conninfo,
                    autocommit=True,
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=2,
                    options="-c statement_timeout=5000",
                )
            row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        except psycopg.Error as error:
            log.warning("cannot reach PostgreSQL for the leadership lock: %s", error)
            self._close()
            return False
        return bool(row and row[0])

    def held(self) -> bool:
        import psycopg

        if self._connection is None or self._connection.closed:
            return False
        try:
            row = self._connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid::bigint = %s AND objid::bigint = %s",
                ((self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF),
            ).fetchone()
        except psycopg.Error:
            self._close()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        # Closing the session releases every advisory lock it holds.
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            # An already broken connection has nothing left to release.
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


class FileLock:
    """An exclusive flock on a file beside the SQLite ledger (one host)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return self.held()
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        # A lock file removed or replaced behind our back could be locked by
        # someone else: we hold the right only while our file is the file.
        if self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_ino == os.stat(self._path).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def leadership_for(database_url: str, name: str) -> Leadership:
    """The lock that elects one active ``name`` among the replicas of a store."""
    if database_url.startswith("sqlite:///"):
        ledger = sqlite_path(database_url)
        return FileLock(ledger.with_name(f"{ledger.name}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"))
    return PostgresAdvisoryLock(postgres_conninfo(database_url), name)
