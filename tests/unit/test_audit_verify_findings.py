"""Every finding the verifier can make, compared whole: its kind, position,
account, currency and the sentence an auditor reads. A finding that names the
wrong position or says the wrong thing is as useless as none."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from application.audit import verify as verify_module
from application.audit.invoice_index import InvoiceIndex
from application.audit.rows import APPLIED, GRANTED, OPENED, PURCHASED, RawRow
from application.audit.verify import (
    ANCHOR_MISMATCH,
    BALANCE_MISMATCH,
    CHAIN_MISMATCH,
    DECISION_RULE,
    DUPLICATE_INVOICE,
    MISSING_EVENT,
    NEGATIVE_BALANCE,
    TOTALS_MISMATCH,
    UNCHAINED_EVENT,
    UNDECODABLE,
    UNKNOWN_TOPIC,
    VIEW_MISMATCH,
    Anchor,
    Finding,
    Report,
    Verifier,
    ViewBalance,
    ViewsSnapshot,
)
from application.tamper_chain import GENESIS, link

ALICE_ID = "6f0c1f6e-5a3b-5c59-9f0e-2f7d1b6e9a01"
BOB_ID = "0b0b0b0b-5a3b-5c59-9f0e-2f7d1b6e9a02"
NAMES = {ALICE_ID: "acct-alice", BOB_ID: "acct-bob"}


class Record:
    """Rows as the recorder stores them: positions from 1, versions per
    account, each row chained on the one before."""

    def __init__(self) -> None:
        self.rows: list[RawRow] = []
        self._versions: dict[str, int] = {}
        self._previous = GENESIS

    def add(
        self, originator: str, topic: str, data: dict[str, Any] | bytes, version: int | None = None
    ) -> int:
        position = len(self.rows) + 1
        version = version if version is not None else self._versions.get(originator, 0) + 1
        self._versions[originator] = version
        state = data if isinstance(data, bytes) else orjson.dumps(data)
        self._previous = link(self._previous, position, originator, version, topic, state)
        self.rows.append((position, originator, version, topic, state, self._previous))
        return position

    def open(self, originator: str) -> int:
        return self.add(originator, OPENED, {"account_id": NAMES[originator]})

    def grant(self, originator: str, amount: Any, after: int, currency: str = "USD") -> int:
        data = {"grant_id": "g", "currency": currency, "amount_minor": amount, "balance_after_minor": after}
        return self.add(originator, GRANTED, data)

    def invoice(
        self,
        originator: str,
        invoice_id: str,
        total: int,
        applied: int,
        after: int,
        currency: str = "USD",
        due: int | None = None,
    ) -> int:
        data = {
            "invoice_id": invoice_id,
            "currency": currency,
            "invoice_total_minor": total,
            "credits_applied_minor": applied,
            "amount_due_minor": total - applied if due is None else due,
            "balance_after_minor": after,
        }
        return self.add(originator, APPLIED, data)

    def purchase(
        self,
        originator: str,
        price: int,
        used: int,
        after: int,
        currency: str = "USD",
        due: int | None = None,
    ) -> int:
        data = {
            "purchase_id": "p",
            "currency": currency,
            "price_minor": price,
            "credits_used_minor": used,
            "amount_due_minor": price - used if due is None else due,
            "balance_after_minor": after,
        }
        return self.add(originator, PURCHASED, data)


def report_of(rows: list[RawRow], views: ViewsSnapshot | None = None, anchor: Anchor | None = None) -> Report:
    verifier = Verifier(views, anchor)
    verifier.feed_all(rows)
    return verifier.finish()


def alice_and_bob() -> Record:
    """A clean record: two accounts, two currencies, every kind of event."""
    record = Record()
    record.open(ALICE_ID)  # 1
    record.grant(ALICE_ID, 500, 500)  # 2
    record.open(BOB_ID)  # 3
    record.grant(BOB_ID, 300, 300, currency="EUR")  # 4
    record.invoice(ALICE_ID, "inv-1", 200, 200, 300)  # 5
    record.purchase(BOB_ID, 500, 300, 0, currency="EUR")  # 6
    record.invoice(BOB_ID, "inv-2", 700, 0, 0, currency="JPY")  # 7: a currency never granted
    return record


def test_a_clean_record_reports_its_size_and_chain_head_and_nothing_else() -> None:
    record = alice_and_bob()
    report = report_of(record.rows)
    assert report.findings == []
    assert (report.events_checked, report.accounts_checked, report.findings_total) == (7, 2, 0)
    assert report.clean
    assert report.chain_head == record.rows[-1][5]
    assert report.chain_head_position == 7
    assert report.views_compared_at is None
    # and the JSON form an auditor keeps says the same, with a ready anchor
    head = record.rows[-1][5]
    assert head is not None
    assert report.to_json() == {
        "events_checked": 7,
        "accounts_checked": 2,
        "findings": [],
        "findings_total": 0,
        "chain_head": head.hex(),
        "chain_head_position": 7,
        "chain_anchor": f"{head.hex()}@7",
        "views_compared_at": None,
    }


def test_an_empty_record_is_clean_with_the_genesis_head() -> None:
    report = report_of([])
    assert (report.events_checked, report.accounts_checked, report.chain_head) == (0, 0, GENESIS)
    assert report.chain_head_position == 0


def test_a_finding_in_json_names_every_field() -> None:
    record = alice_and_bob()
    record.add(ALICE_ID, "domain.credit_account:CreditAccount.Frozen", {})
    report = report_of(record.rows)
    assert not report.clean
    assert report.to_json()["findings"] == [
        {
            "kind": UNKNOWN_TOPIC,
            "position": 8,
            "account_id": "acct-alice",
            "detail": "unknown event type 'domain.credit_account:CreditAccount.Frozen'",
            "currency": None,
        }
    ]
    assert report.to_json()["findings_total"] == 1


def test_a_chain_link_whose_event_is_gone_is_one_finding_and_the_chain_goes_on() -> None:
    record = alice_and_bob()
    # given the event at position 5 deleted, its chain link left behind
    position, *_event, stored = record.rows[4]
    record.rows[4] = (position, None, None, None, None, stored)
    report = report_of(record.rows)
    # then that position is named, and the rows after it still chain
    assert report.findings == [
        Finding(MISSING_EVENT, 5, None, "a chain link is stored but its event is gone"),
    ]
    assert report.events_checked == 6
    assert report.chain_head == record.rows[-1][5]


def test_an_event_without_a_chain_link_is_named() -> None:
    record = alice_and_bob()
    # given the chain link of position 2 removed
    record.rows[1] = (*record.rows[1][:5], None)
    report = report_of(record.rows)
    # then position 2 is named, and position 3, whose link was computed over
    # the removed one, no longer chains (bob's name is not known yet there:
    # the chain is checked before his Opened event is read)
    assert report.findings == [
        Finding(
            UNCHAINED_EVENT,
            2,
            "acct-alice",
            "the event has no chain link: it was not written by the ledger, or its link was removed",
        ),
        Finding(
            CHAIN_MISMATCH,
            3,
            f"originator {BOB_ID}",
            "the stored event differs from what was chained at this position "
            "(changed, moved, or a row before it was removed)",
        ),
    ]


def test_an_altered_event_is_one_chain_mismatch_at_its_own_position() -> None:
    record = alice_and_bob()
    # given the grant at position 4 raised in place, chain link untouched
    position, originator, version, topic, state, stored = record.rows[3]
    assert state is not None
    record.rows[3] = (position, originator, version, topic, state.replace(b"300", b"301", 1), stored)
    findings = report_of(record.rows).findings
    # then the altered row is named once (its successors chain on its stored
    # link), and what the change did to the balances is named too
    assert findings[0] == Finding(
        CHAIN_MISMATCH,
        4,
        "acct-bob",
        "the stored event differs from what was chained at this position "
        "(changed, moved, or a row before it was removed)",
    )
    assert [f.kind for f in findings if f.kind == CHAIN_MISMATCH] == [CHAIN_MISMATCH]


def test_a_row_no_recorder_could_write_is_a_chain_mismatch_not_a_crash() -> None:
    record = alice_and_bob()
    position, originator, _version, topic, state, stored = record.rows[1]
    record.rows[1] = (position, originator, -1, topic, state, stored)  # a negative version cannot be hashed
    kinds = [(f.kind, f.position) for f in report_of(record.rows).findings]
    assert (CHAIN_MISMATCH, 2) in kinds


def test_an_unreadable_event_is_named_with_the_reason() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.add(ALICE_ID, GRANTED, b"{not json")
    record.add(ALICE_ID, GRANTED, {"currency": "USD"})  # a field missing
    findings = report_of(record.rows).findings
    assert [(f.kind, f.position, f.account_id) for f in findings] == [
        (UNDECODABLE, 2, "acct-alice"),
        (UNDECODABLE, 3, "acct-alice"),
    ]
    assert findings[0].detail.startswith("the stored event cannot be read: JSONDecodeError(")
    assert findings[1].detail == "the stored event cannot be read: KeyError('amount_minor')"


def test_an_account_whose_opened_event_is_unreadable_is_named_by_its_originator() -> None:
    record = Record()
    record.add(ALICE_ID, OPENED, b"[]")
    record.grant(ALICE_ID, 100, 100)
    record.grant(ALICE_ID, 100, 250)
    findings = report_of(record.rows).findings
    assert [(f.kind, f.position, f.account_id) for f in findings][1:] == [
        (BALANCE_MISMATCH, 3, f"originator {ALICE_ID}"),
        (TOTALS_MISMATCH, 3, f"originator {ALICE_ID}"),
    ]


def test_a_version_gap_names_both_versions() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.add(ALICE_ID, GRANTED, {"currency": "USD", "amount_minor": 5, "balance_after_minor": 5}, version=3)
    record.add(
        ALICE_ID, GRANTED, {"currency": "USD", "amount_minor": 5, "balance_after_minor": 10}, version=4
    )
    assert report_of(record.rows).findings == [
        Finding("version_gap", 2, "acct-alice", "version 3 follows version 1 of this account"),
    ]


@pytest.mark.parametrize("amount", [0, -5])
def test_a_grant_of_nothing_or_less_breaks_the_rules(amount: int) -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 100, 100)
    record.grant(ALICE_ID, amount, 100 + amount)
    assert report_of(record.rows).findings == [
        Finding(
            DECISION_RULE,
            3,
            "acct-alice",
            f"a grant must be a positive whole number of minor units, got {amount!r}",
            "USD",
        ),
    ]


def test_a_fractional_grant_breaks_the_rules() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 2.5, 2)
    findings = report_of(record.rows).findings
    assert findings[0] == Finding(
        DECISION_RULE,
        2,
        "acct-alice",
        "a grant must be a positive whole number of minor units, got 2.5",
        "USD",
    )


def test_an_invoice_that_takes_other_than_the_rule_says_is_named_with_the_arithmetic() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 500, 500)
    # given 500 of credits and an invoice of 800 that recorded only 400 applied
    record.invoice(ALICE_ID, "inv-1", 800, 400, 100)
    assert report_of(record.rows).findings == [
        Finding(
            DECISION_RULE,
            3,
            "acct-alice",
            "a charge of 800 against a balance of 500 takes 500 of credits and leaves 300 due; "
            "recorded 400 taken and 400 due",
            "USD",
        ),
    ]


def test_an_amount_due_that_does_not_add_up_breaks_the_rules() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 500, 500)
    # the credits taken are right, the amount due is not
    record.invoice(ALICE_ID, "inv-1", 800, 500, 0, due=200)
    record.grant(ALICE_ID, 100, 100)
    record.purchase(ALICE_ID, 60, 60, 40, due=1)
    assert [(f.kind, f.position, f.detail) for f in report_of(record.rows).findings] == [
        (
            DECISION_RULE,
            3,
            "a charge of 800 against a balance of 500 takes 500 of credits and leaves 300 due; "
            "recorded 500 taken and 200 due",
        ),
        (
            DECISION_RULE,
            5,
            "a charge of 60 against a balance of 100 takes 60 of credits and leaves 0 due; "
            "recorded 60 taken and 1 due",
        ),
    ]


def test_an_invoice_smaller_than_the_balance_takes_only_its_total() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 500, 500)
    record.invoice(ALICE_ID, "inv-1", 200, 200, 300)
    record.invoice(ALICE_ID, "inv-2", 300, 300, 0)
    record.invoice(ALICE_ID, "inv-3", 300, 0, 0)
    assert report_of(record.rows).findings == []


def test_a_purchase_that_uses_too_many_credits_is_named_with_the_negative_balance() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 100, 100, currency="EUR")
    record.purchase(ALICE_ID, 300, 300, -200, currency="EUR")
    assert report_of(record.rows).findings == [
        Finding(
            DECISION_RULE,
            3,
            "acct-alice",
            "a charge of 300 against a balance of 100 takes 100 of credits and leaves 200 due; "
            "recorded 300 taken and 0 due",
            "EUR",
        ),
        Finding(NEGATIVE_BALANCE, 3, "acct-alice", "balance below zero: replayed -200, recorded -200", "EUR"),
    ]


def test_a_negative_recorded_balance_is_named_even_when_the_replay_is_positive() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 100, -1)
    findings = report_of(record.rows).findings
    assert findings[:2] == [
        Finding(NEGATIVE_BALANCE, 2, "acct-alice", "balance below zero: replayed 100, recorded -1", "USD"),
        Finding(BALANCE_MISMATCH, 2, "acct-alice", "recorded balance after is -1, replay gives 100", "USD"),
    ]


def test_a_wrong_recorded_balance_is_one_finding_and_the_replay_goes_on_from_it() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 500, 600)  # recorded 600, replay gives 500
    record.invoice(ALICE_ID, "inv-1", 100, 100, 500)  # right, counted from the recorded 600
    record.grant(ALICE_ID, 50, 550, currency="EUR")  # wrong in another currency
    assert report_of(record.rows).findings == [
        Finding(BALANCE_MISMATCH, 2, "acct-alice", "recorded balance after is 600, replay gives 500", "USD"),
        Finding(
            TOTALS_MISMATCH,
            3,
            "acct-alice",
            "granted 500 - applied 100 + restored 0 - used 0 = 400, but the last recorded balance is 500",
            "USD",
        ),
        Finding(BALANCE_MISMATCH, 4, "acct-alice", "recorded balance after is 550, replay gives 50", "EUR"),
        Finding(
            TOTALS_MISMATCH,
            4,
            "acct-alice",
            "granted 50 - applied 0 + restored 0 - used 0 = 50, but the last recorded balance is 550",
            "EUR",
        ),
    ]


def test_a_totals_finding_subtracts_calling_credits_too() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 500, 600)  # recorded 600, replay gives 500
    record.purchase(ALICE_ID, 100, 100, 500)
    findings = report_of(record.rows).findings
    assert findings[-1] == Finding(
        TOTALS_MISMATCH,
        3,
        "acct-alice",
        "granted 500 - applied 0 + restored 0 - used 100 = 400, but the last recorded balance is 500",
        "USD",
    )


def test_totals_count_calling_credits_too() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 500, 500)
    record.purchase(ALICE_ID, 100, 100, 400)
    record.invoice(ALICE_ID, "inv-1", 50, 50, 350)
    assert report_of(record.rows).findings == []


def test_an_invoice_decided_twice_is_named_at_the_second_decision() -> None:
    record = alice_and_bob()
    # given inv-1, decided for alice at position 5, decided again for bob
    record.invoice(BOB_ID, "inv-1", 100, 0, 0)
    assert report_of(record.rows).findings == [
        Finding(DUPLICATE_INVOICE, 8, "acct-bob", "invoice 'inv-1' was already decided at position 5", "USD"),
    ]


def test_views_that_agree_are_compared_at_their_position_before_later_rows() -> None:
    record = alice_and_bob()
    # given views reflecting the record up to position 5
    views = ViewsSnapshot(
        5,
        [ViewBalance("acct-alice", "USD", 300, 500, 200, 0), ViewBalance("acct-bob", "EUR", 300, 300, 0, 0)],
    )
    report = report_of(record.rows, views)
    # then they agree: bob's later purchase (position 6) is not held against them
    assert report.findings == []
    assert report.views_compared_at == 5


def test_views_at_the_head_are_compared_at_the_end() -> None:
    record = alice_and_bob()
    views = ViewsSnapshot(
        7,
        [ViewBalance("acct-alice", "USD", 300, 500, 200, 0), ViewBalance("acct-bob", "EUR", 0, 300, 0, 300)],
    )
    report = report_of(record.rows, views)
    assert report.findings == []
    assert report.views_compared_at == 7
    assert report.to_json()["views_compared_at"] == 7


@pytest.mark.parametrize(
    ("changed", "held"),
    [
        (ViewBalance("acct-alice", "USD", 301, 500, 200, 0), (301, 500, 200, 0, 0)),
        (ViewBalance("acct-alice", "USD", 300, 501, 200, 0), (300, 501, 200, 0, 0)),
        (ViewBalance("acct-alice", "USD", 300, 500, 201, 0), (300, 500, 201, 0, 0)),
        (ViewBalance("acct-alice", "USD", 300, 500, 200, 1), (300, 500, 200, 1, 0)),
        (ViewBalance("acct-alice", "USD", 300, 500, 200, 0, 1), (300, 500, 200, 0, 1)),
    ],
)
def test_each_figure_of_a_balance_view_is_compared(changed: ViewBalance, held: tuple[int, ...]) -> None:
    record = alice_and_bob()
    views = ViewsSnapshot(7, [changed, ViewBalance("acct-bob", "EUR", 0, 300, 0, 300)])
    assert report_of(record.rows, views).findings == [
        Finding(
            VIEW_MISMATCH,
            7,
            "acct-alice",
            f"balance view (balance, granted, applied, calling credits, restored) = {held}, "
            "replay gives (300, 500, 200, 0, 0)",
            "USD",
        ),
    ]


def test_views_with_a_row_too_many_or_too_few_are_named() -> None:
    record = alice_and_bob()
    views = ViewsSnapshot(
        7,
        [
            ViewBalance("acct-aaron", "USD", 5, 5, 0, 0),  # never in the record
            ViewBalance("acct-alice", "USD", 300, 500, 200, 0),  # (still compared after it)
        ],  # and bob's EUR line missing
    )
    assert report_of(record.rows, views).findings == [
        Finding(
            VIEW_MISMATCH,
            7,
            "acct-aaron",
            "the balance view holds an account and currency the record never had",
            "USD",
        ),
        Finding(VIEW_MISMATCH, 7, "acct-bob", "the balance view is missing this account and currency", "EUR"),
    ]


@pytest.mark.parametrize(
    "recorded",
    [
        # each a line where only one figure is not zero (the record is
        # inconsistent; the replay goes on from what was recorded)
        pytest.param(lambda r: r.grant(ALICE_ID, 0, 5), id="balance only"),
        pytest.param(lambda r: r.grant(ALICE_ID, 5, 0), id="granted only"),
        pytest.param(lambda r: r.invoice(ALICE_ID, "inv-1", 5, 5, 0), id="applied only"),
        pytest.param(lambda r: r.purchase(ALICE_ID, 5, 5, 0), id="used only"),
    ],
)
def test_a_line_with_any_figure_must_be_in_the_views(recorded: Callable[[Record], int]) -> None:
    record = Record()
    record.open(ALICE_ID)
    recorded(record)
    findings = report_of(record.rows, ViewsSnapshot(2, [])).findings
    assert [(f.kind, f.account_id, f.currency) for f in findings if f.kind == VIEW_MISMATCH] == [
        (VIEW_MISMATCH, "acct-alice", "USD")
    ]


def test_a_line_only_ever_invoiced_needs_no_view_row_and_later_lines_are_still_checked() -> None:
    # given alice invoiced in EUR without credits (nothing held), and granted USD
    record = Record()
    record.open(ALICE_ID)
    record.invoice(ALICE_ID, "inv-1", 700, 0, 0, currency="EUR")
    record.grant(ALICE_ID, 5, 5)
    # when the views hold neither
    findings = report_of(record.rows, ViewsSnapshot(3, [])).findings
    # then only the USD line is missing (EUR, sorted first, is skipped)
    assert [(f.account_id, f.currency) for f in findings] == [("acct-alice", "USD")]


def test_a_grant_of_one_minor_unit_is_within_the_rules() -> None:
    record = Record()
    record.open(ALICE_ID)
    record.grant(ALICE_ID, 1, 1)
    assert report_of(record.rows).findings == []


@pytest.mark.parametrize("missing", [1, 2, 3, 4], ids=["originator", "version", "topic", "state"])
def test_a_row_lacking_any_event_field_is_a_missing_event(missing: int) -> None:
    record = alice_and_bob()
    row = list(record.rows[4])
    row[missing] = None
    record.rows[4] = tuple(row)  # type: ignore[assignment]
    assert report_of(record.rows).findings == [
        Finding(MISSING_EVENT, 5, None, "a chain link is stored but its event is gone"),
    ]


def test_an_anchor_on_a_missing_event_is_checked_against_its_chain_link() -> None:
    record = alice_and_bob()
    position, *_event, stored = record.rows[4]
    assert stored is not None
    record.rows[4] = (position, None, None, None, None, stored)
    # given an anchor recorded at that position, matching its link
    report = report_of(record.rows, anchor=Anchor(5, stored))
    # then the anchor holds: only the missing event is named
    assert [f.kind for f in report.findings] == [MISSING_EVENT]


def test_a_totals_finding_for_a_line_no_event_completed_is_placed_before_the_record() -> None:
    # given a grant whose balance-after is missing: it counts toward the
    # granted total but no event of the line was read to the end
    record = Record()
    record.open(ALICE_ID)
    record.add(ALICE_ID, GRANTED, {"currency": "USD", "amount_minor": 5})
    findings = report_of(record.rows).findings
    assert [(f.kind, f.position) for f in findings] == [(TOTALS_MISMATCH, 0), (UNDECODABLE, 2)]


def test_invoices_decided_twice_across_index_chunks_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an invoice index that spills to disk every two ids (50,000 in
    # production), so duplicates surface as chunks are merged
    monkeypatch.setattr(verify_module, "InvoiceIndex", functools.partial(InvoiceIndex, chunk=2))
    record = Record()
    record.open(ALICE_ID)
    for n in range(5):
        record.invoice(ALICE_ID, f"inv-{n}", 0, 0, 0)
    record.open(BOB_ID)
    record.invoice(BOB_ID, "inv-0", 0, 0, 0)  # 8
    record.invoice(BOB_ID, "inv-9", 0, 0, 0)
    record.invoice(BOB_ID, "inv-3", 0, 0, 0)  # 10
    assert report_of(record.rows).findings == [
        Finding(DUPLICATE_INVOICE, 8, "acct-bob", "invoice 'inv-0' was already decided at position 2", "USD"),
        Finding(
            DUPLICATE_INVOICE, 10, "acct-bob", "invoice 'inv-3' was already decided at position 5", "USD"
        ),
    ]


def test_anchor_that_matches_is_no_finding() -> None:
    record = alice_and_bob()
    head = record.rows[3][5]
    assert head is not None
    assert report_of(record.rows, anchor=Anchor(4, head)).findings == []
    # and an anchor at the very last position holds too
    last = record.rows[-1][5]
    assert last is not None
    assert report_of(record.rows, anchor=Anchor(7, last)).findings == []


def test_an_anchor_that_differs_means_the_history_was_rewritten() -> None:
    record = alice_and_bob()
    assert report_of(record.rows, anchor=Anchor(4, bytes(32))).findings == [
        Finding(
            ANCHOR_MISMATCH,
            4,
            None,
            "the chain hash here differs from the head recorded earlier for this position: "
            "the history up to here was rewritten",
        ),
    ]


def test_an_anchored_position_that_is_gone_is_named_where_the_record_passes_it() -> None:
    record = alice_and_bob()
    head = record.rows[3][5]
    assert head is not None
    del record.rows[3]  # position 4 removed outright, link and all
    findings = report_of(record.rows, anchor=Anchor(4, head)).findings
    assert (
        Finding(ANCHOR_MISMATCH, 5, None, "position 4, where a chain head was recorded earlier, is gone")
        in findings
    )
    assert [f.kind for f in findings].count(ANCHOR_MISMATCH) == 1


def test_a_record_cut_before_its_anchor_is_named_at_its_end() -> None:
    record = alice_and_bob()
    assert report_of(record.rows[:5], anchor=Anchor(7, bytes(32))).findings == [
        Finding(
            ANCHOR_MISMATCH,
            5,
            None,
            "the record ends at position 5, before position 7 where a chain head was recorded earlier: "
            "its tail was removed",
        ),
    ]


def test_findings_come_in_position_order() -> None:
    record = alice_and_bob()
    record.invoice(BOB_ID, "inv-1", 100, 0, 0)  # a duplicate, found at 8
    record.rows[1] = (*record.rows[1][:5], None)  # unchained, at 2
    assert [f.position for f in report_of(record.rows).findings] == [2, 3, 8]


def test_past_the_cap_findings_are_counted_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "MAX_FINDINGS", 3)
    record = Record()
    record.open(ALICE_ID)
    for _ in range(4):
        record.add(ALICE_ID, "domain.credit_account:CreditAccount.Frozen", {})
    report = report_of(record.rows)
    assert [f.position for f in report.findings] == [2, 3, 4]
    assert report.findings_total == 4
    assert report.to_json()["findings_total"] == 4
