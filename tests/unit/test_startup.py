"""Processes started together race to create the store's tables."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError

from application.startup import creating_tables


def failing_then_built(*errors: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def build() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "recorder"

    return calls, build


def test_a_relation_another_process_just_created_is_built_again() -> None:
    # given a CREATE that loses the race (PostgreSQL: the type already exists)
    calls, build = failing_then_built(ProgrammingError('relation "stored_event_uuid" already exists'))
    # when the recorder is built, then the second attempt succeeds
    assert creating_tables(build) == "recorder"  # type: ignore[arg-type]
    assert len(calls) == 2


@pytest.mark.parametrize(
    "error",
    [ProgrammingError('syntax error at or near "TABEL"'), OperationalError("connection refused")],
)
def test_any_other_failure_is_raised_at_once(error: Exception) -> None:
    calls, build = failing_then_built(error)
    with pytest.raises(type(error)):
        creating_tables(build)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_sqlite_locked_while_another_process_creates_the_store_is_built_again() -> None:
    # given a new connection's PRAGMA that meets another process's write lock
    import sqlite3

    calls, build = failing_then_built(sqlite3.OperationalError("database is locked"))
    # when the recorder is built, then the second attempt succeeds
    assert creating_tables(build) == "recorder"  # type: ignore[arg-type]
    assert len(calls) == 2
