"""The verifier's invariants on hand-written rows: each broken rule is one finding,
naming the account, the position and what differs."""

from __future__ import annotations

from typing import Any

import orjson

from application.audit.rows import APPLIED, GRANTED, OPENED, RawRow
from application.audit.verify import (
    BALANCE_MISMATCH,
    DECISION_RULE,
    NEGATIVE_BALANCE,
    TOTALS_MISMATCH,
    VERSION_GAP,
    VIEW_MISMATCH,
    Finding,
    Verifier,
    ViewBalance,
    ViewsSnapshot,
)
from application.tamper_chain import GENESIS, link

ALICE = "6f0c1f6e-5a3b-5c59-9f0e-2f7d1b6e9a01"


def chained(events: list[tuple[int, str, dict[str, Any]]]) -> list[RawRow]:
    """Rows as the recorder would store them, chain included."""
    rows: list[RawRow] = []
    previous = GENESIS
    for position, (version, topic, data) in enumerate(events, start=1):
        state = orjson.dumps(data)
        previous = link(previous, position, ALICE, version, topic, state)
        rows.append((position, ALICE, version, topic, state, previous))
    return rows


def opened() -> tuple[int, str, dict[str, Any]]:
    return 1, OPENED, {"account_id": "acct-alice"}


def grant(version: int, amount: int, after: int) -> tuple[int, str, dict[str, Any]]:
    return (
        version,
        GRANTED,
        {
            "grant_id": f"g-{version}",
            "currency": "USD",
            "amount_minor": amount,
            "reason": "promotion",
            "note": "",
            "balance_after_minor": after,
        },
    )


def invoice(version: int, total: int, applied: int, after: int) -> tuple[int, str, dict[str, Any]]:
    return (
        version,
        APPLIED,
        {
            "invoice_id": f"inv-{version}",
            "currency": "USD",
            "invoice_total_minor": total,
            "credits_applied_minor": applied,
            "amount_due_minor": total - applied,
            "balance_after_minor": after,
        },
    )


def findings(rows: list[RawRow], views: ViewsSnapshot | None = None) -> list[Finding]:
    verifier = Verifier(views)
    verifier.feed_all(rows)
    return verifier.finish().findings


def test_a_consistent_history_is_clean() -> None:
    assert findings(chained([opened(), grant(2, 500, 500), invoice(3, 800, 500, 0)])) == []


def test_a_recorded_balance_that_differs_from_the_replay_is_one_finding_plus_the_totals() -> None:
    # given a grant whose recorded balance-after is wrong (chain written over it)
    rows = chained([opened(), grant(2, 500, 600), invoice(3, 100, 100, 500)])
    kinds = [(f.kind, f.position, f.account_id) for f in findings(rows)]
    # then that event is named, and the account's totals no longer add up
    assert kinds == [(BALANCE_MISMATCH, 2, "acct-alice"), (TOTALS_MISMATCH, 3, "acct-alice")]


def test_applying_more_than_the_balance_is_a_broken_rule_and_a_negative_balance() -> None:
    rows = chained([opened(), grant(2, 100, 100), invoice(3, 300, 300, -200)])
    assert [f.kind for f in findings(rows)] == [DECISION_RULE, NEGATIVE_BALANCE]


def test_a_version_gap_is_named() -> None:
    rows = chained([opened(), grant(3, 100, 100)])
    [finding] = findings(rows)
    assert (finding.kind, finding.position, "version 3 follows version 1" in finding.detail) == (
        VERSION_GAP,
        2,
        True,
    )


def test_views_are_compared_with_the_replay_at_their_own_position() -> None:
    rows = chained([opened(), grant(2, 500, 500), invoice(3, 200, 200, 300)])
    # given views that reflect the record up to position 2 (the grant) exactly
    caught_up = ViewsSnapshot(2, [ViewBalance("acct-alice", "USD", 500, 500, 0, 0)])
    # then they agree, although the record has moved on since
    assert findings(rows, caught_up) == []
    # and views that hold a wrong total are named
    wrong = ViewsSnapshot(3, [ViewBalance("acct-alice", "USD", 300, 500, 100, 0)])
    [finding] = findings(rows, wrong)
    assert (finding.kind, finding.account_id, finding.currency) == (VIEW_MISMATCH, "acct-alice", "USD")
