"""Processes started together on a fresh database race to create its tables."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import IntegrityError, InternalError, OperationalError, ProgrammingError

T = TypeVar("T")

ATTEMPTS = 20


def creating_tables(build: Callable[[], T]) -> T:
    """Build a recorder (which creates its tables), again if another process
    was creating them at the same moment.

    On PostgreSQL, CREATE ... IF NOT EXISTS is not atomic and the loser fails
    on a catalog unique index; SQLite answers "database is locked" to a
    writer that would deadlock; a migration row may be taken by the winner.
    By the next attempt the winner has finished. Any other failure (a server
    that is down) is raised at once.
    """
    for attempt in range(ATTEMPTS):
        try:
            return build()
        except (
            IntegrityError,
            InternalError,
            OperationalError,
            ProgrammingError,
            sqlite3.OperationalError,
        ) as error:
            # SQLite's own error escapes eventsourcing when a new connection's
            # "PRAGMA journal_mode=WAL" meets another process's write lock.
            if isinstance(error, OperationalError | sqlite3.OperationalError) and "locked" not in str(error):
                raise
            # A type or index the winner created between our check and our
            # CREATE ("relation ... already exists"); any other programming
            # error is a bug, raised at once.
            if isinstance(error, ProgrammingError) and "already exists" not in str(error):
                raise
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(min(0.01 * 2**attempt, 0.25))
    raise AssertionError("unreachable: the last attempt re-raises")
