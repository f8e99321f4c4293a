"""The projection's pure parts: what an event changes, and history cursors."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Tracking

from application.entries import ledger_entry, rfc3339
from domain.credit_account import CreditAccount
from projections.changes import AccountSeen, BalanceMoved, DailyMoved, HistoryRow
from projections.cursor import InvalidCursorError, decode_cursor, encode_cursor
from projections.ledger_views import LedgerViewsProjection, changes_for, history_entry_from_row


def alice_events() -> list[object]:
    account = CreditAccount.open("acct-alice")
    account.grant("grant-001", "USD", 2500, "refund", "late delivery")
    account.apply_to_invoice("inv-2026-001", "USD", 4000)
    account.apply_to_invoice("inv-2026-002", "USD", 700)  # nothing left: zero-credit decision
    account.buy_calling_credits("purchase-001", "USD", 300)
    return list(account.collect_events())


def test_an_opened_account_is_remembered_by_its_business_id() -> None:
    opened = alice_events()[0]
    assert changes_for(opened, 1) == [
        AccountSeen(str(CreditAccount.id_for("acct-alice")), "acct-alice", _at(opened))
    ]


def test_a_grant_moves_balance_history_and_the_day_by_reason() -> None:
    grant = alice_events()[1]
    seen, balance, history, daily = changes_for(grant, 2)
    assert isinstance(seen, AccountSeen) and seen.account_id is None
    assert balance == BalanceMoved(
        seen.account_uuid, "USD", 2500, 2500, 0, 0, _at(grant), opens_currency=True
    )
    assert isinstance(history, HistoryRow)
    assert (history.type, history.business_key, history.notification_id, history.reason) == (
        "grant",
        "grant-001",
        2,
        "refund",
    )
    assert daily == DailyMoved(_at(grant)[:10], "USD", granted_minor=2500, granted_reason="refund")


def test_invoices_count_as_decided_and_as_touched_only_when_credits_applied() -> None:
    events = alice_events()
    covered, uncovered = changes_for(events[2], 3)[3], changes_for(events[3], 4)[3]
    assert (covered.applied_minor, covered.invoices_decided, covered.invoices_touched) == (2500, 1, 1)
    assert (uncovered.applied_minor, uncovered.invoices_decided, uncovered.invoices_touched) == (0, 1, 0)
    # an invoice never opens a currency balance: only grants do, as in the ledger
    assert changes_for(events[2], 3)[1].opens_currency is False


def test_history_rows_render_exactly_as_the_ledgers_history() -> None:
    for position, event in enumerate(alice_events()[1:], start=2):
        row = changes_for(event, position)[2]
        assert isinstance(row, HistoryRow)
        entry = ledger_entry(event)
        assert entry is not None
        assert history_entry_from_row(row) == entry.history_json()


def test_the_projection_hands_each_event_with_its_tracking_to_the_view() -> None:
    # given a view that records what it is asked to apply (a fake at the port)
    class RecordingView:
        def __init__(self) -> None:
            self.applied: list[tuple[list[object], Tracking, dict[str, object]]] = []

        def apply(self, changes: list[object], tracking: Tracking, **options: object) -> None:
            self.applied.append((list(changes), tracking, options))

    view = RecordingView()
    projection = LedgerViewsProjection(view=view)
    events = alice_events()
    # when one event and then a batch are processed
    projection.process_event(events[0], Tracking("Ledger", 1))
    projection.process_batch([(e, Tracking("Ledger", n)) for n, e in enumerate(events[1:], start=2)], after=1)
    # then the batch is applied once, tracked at its last event, checked against its start
    assert [(t.notification_id, o) for _, t, o in view.applied] == [
        (1, {}),
        (5, {"after": 1, "check_after": True}),
    ]
    assert len(view.applied[1][0]) == 4 * 4


@pytest.mark.parametrize("version", [1, 7, 10**12])
def test_a_cursor_round_trips(version: int) -> None:
    assert decode_cursor(encode_cursor(version)) == version


@pytest.mark.parametrize("cursor", ["", "garbage!", "aDE6", encode_cursor(3) + "x", "eDE6Mw"])
def test_a_cursor_not_issued_here_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


def _at(event: object) -> str:
    assert isinstance(event, CreditAccount.Event)
    return rfc3339(event.timestamp)
