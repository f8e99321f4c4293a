"""What the views accept from stored events, which failures they retry, and
when they are ready: the pure rules, without a database."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import DataError, IntegrityError, OperationalError, ProgrammingError

from projections.changes import AccountSeen, HistoryRow
from projections.ports import SetAside, ViewsHealth
from projections.readiness import ReadinessLimits, StallWatch, unready_reason
from projections.runner import is_outage
from projections.storable import (
    MAX_ERROR_CHARS,
    UnprojectableEventError,
    checked,
    storable_error,
    storable_text,
)

LIMITS = ReadinessLimits(max_lag_events=100, max_stall_ms=30_000)
NOW = 1_800_000_000_000


def history_row(**values: object) -> HistoryRow:
    row: dict[str, object] = {
        "account_uuid": "0b9f6c1e-0000-5000-8000-000000000001",
        "version": 2,
        "notification_id": 7,
        "event_id": "evt-7",
        "type": "grant",
        "business_key": "grant-1",
        "currency": "USD",
        "amount_minor": 100,
        "balance_minor": 100,
        "occurred_at": "2026-12-01T00:00:00Z",
        "reason": "promotion",
        "note": "",
    }
    row.update(values)
    return HistoryRow(**row)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "viewed"),
    [
        ("a\x00b", "a\ufffdb"),
        ("\x00\x00", "\ufffd\ufffd"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("pair \ud83d\ude00 split", "pair \ufffd\ufffd split"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),
    ],
)
def test_text_is_made_storable_deterministically(stored: str, viewed: str) -> None:
    assert storable_text(stored) == viewed
    viewed.encode("utf-8")


def test_storable_text_is_returned_as_it_is() -> None:
    note = "an ordinary note"
    assert storable_text(note) is note


def test_a_view_record_gets_storable_text_in_every_field() -> None:
    row = checked(history_row(note="x\x00y", business_key="grant\x00evil", reason="promo\ud800"))
    assert (row.note, row.business_key, row.reason) == ("x\ufffdy", "grant\ufffdevil", "promo\ufffd")
    assert checked(AccountSeen("uuid", None, "2026-12-01T00:00:00Z")).account_id is None


@pytest.mark.parametrize(
    "values",
    [
        {"amount_minor": 1.5},
        {"amount_minor": True},
        {"balance_minor": "100"},
        {"note": 42},
        {"price_minor": 10.0},
        {"currency": None},
        {"note": 10**5_000},
        {"amount_minor": 10**5_000},
    ],
)
def test_a_value_the_views_cannot_represent_exactly_is_refused(values: dict[str, object]) -> None:
    with pytest.raises(UnprojectableEventError, match=next(iter(values))):
        checked(history_row(**values))


def test_amounts_of_any_size_are_taken_as_they_are() -> None:
    assert checked(history_row(amount_minor=10**40)).amount_minor == 10**40


def test_an_error_is_one_bounded_storable_line() -> None:
    text = storable_error(ValueError("bad\x00value\nsecond line " + "x" * 5_000))
    assert text.startswith("ValueError: bad\ufffdvalue second line")
    assert len(text) == MAX_ERROR_CHARS
    assert "\n" not in text


def test_outages_are_told_from_failures_of_the_data() -> None:
    # database unreachable or not as expected: retried
    assert is_outage(OperationalError("connection refused"))
    assert is_outage(ProgrammingError("relation view_balances does not exist"))
    assert is_outage(ConnectionResetError())
    assert is_outage(TimeoutError())
    # the values written: the same on every attempt
    assert not is_outage(DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    assert not is_outage(IntegrityError("duplicate key"))
    assert not is_outage(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert not is_outage(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    # PostgreSQL reports an index row too large as an operational error; its SQLSTATE says data
    too_large = psycopg.errors.ProgramLimitExceeded()
    try:
        raise OperationalError("index row size exceeds btree maximum") from too_large
    except OperationalError as error:
        assert not is_outage(error)


def health(**values: object) -> ViewsHealth:
    fields: dict[str, object] = {
        "position": 10,
        "quarantined": 0,
        "first_quarantined": None,
        "checked_at_ms": NOW - 500,
        "failing_since_ms": None,
        "last_error": None,
    }
    fields.update(values)
    return ViewsHealth(**fields)  # type: ignore[arg-type]


def test_current_views_are_ready() -> None:
    assert unready_reason(10, health(), NOW, LIMITS, StallWatch()) is None
    assert unready_reason(15, health(), NOW, LIMITS, StallWatch()) is None


def test_each_way_of_falling_behind_has_its_reason() -> None:
    set_aside = health(quarantined=2, first_quarantined=SetAside(4, "ValueError: secret note"))
    reason = unready_reason(10, set_aside, NOW, LIMITS, StallWatch())
    assert reason is not None and "2 event(s)" in reason and "position 4" in reason
    assert "secret" not in reason  # stored data stays out of an unauthenticated answer
    failing = health(failing_since_ms=NOW - 5_000, last_error="OperationalError: refused")
    assert "failing since" in (unready_reason(10, failing, NOW, LIMITS, StallWatch()) or "")
    dead = health(checked_at_ms=NOW - 31_000)
    assert unready_reason(10, dead, NOW, LIMITS, StallWatch()) is None  # idle, nothing waits
    assert "stopped" in (unready_reason(11, dead, NOW, LIMITS, StallWatch()) or "")
    assert "lag 101 events" in (unready_reason(111, health(), NOW, LIMITS, StallWatch()) or "")


def test_views_no_projector_ran_on_count_as_stopped_once_they_stand_still_too_long() -> None:
    never = health(checked_at_ms=None)
    watch = StallWatch()
    assert unready_reason(12, never, NOW, LIMITS, watch) is None
    assert unready_reason(12, never, NOW + 30_000, LIMITS, watch) is None
    assert "stopped" in (unready_reason(12, never, NOW + 30_001, LIMITS, watch) or "")
    # progress resets the clock
    moved = health(checked_at_ms=None, position=11)
    assert unready_reason(12, moved, NOW + 40_000, LIMITS, watch) is None
