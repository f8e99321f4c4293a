"""The verifier's findings about voided invoices: what a restore may give back."""

from __future__ import annotations

import pytest

from application.audit.restores import RestoreCheck, Restored, RestoreProblem
from application.audit.rows import RESTORED
from application.audit.verify import (
    DECISION_RULE,
    RESTORE_ABOVE_APPLIED,
    RESTORED_TWICE,
    TOTALS_MISMATCH,
    Finding,
    ViewBalance,
    ViewsSnapshot,
)
from tests.unit.test_audit_verify_findings import ALICE_ID, BOB_ID, Record, report_of


def restore(
    record: Record, originator: str, invoice_id: str, amount: int, after: int, currency: str = "USD"
) -> int:
    data = {
        "invoice_id": invoice_id,
        "currency": currency,
        "credits_restored_minor": amount,
        "balance_after_minor": after,
    }
    return record.add(originator, RESTORED, data)


def alice_voids_an_invoice(restored: int = 200) -> Record:
    """Alice's invoice inv-1 applied 200 of her 500; its void gives back ``restored``."""
    record = Record()
    record.open(ALICE_ID)  # 1
    record.grant(ALICE_ID, 500, 500)  # 2
    record.invoice(ALICE_ID, "inv-1", 200, 200, 300)  # 3
    restore(record, ALICE_ID, "inv-1", restored, 300 + restored)  # 4
    return record


def test_a_record_with_voids_is_clean_and_restores_count_in_the_totals() -> None:
    # given a void that gave back all its invoice used, and a void before its invoice
    record = alice_voids_an_invoice()
    restore(record, ALICE_ID, "inv-2", 0, 0, currency="XXX")  # 5
    record.invoice(ALICE_ID, "inv-2", 300, 0, 500)  # 6: voided, so it uses nothing
    record.invoice(ALICE_ID, "inv-3", 100, 100, 400)  # 7
    # then nothing is found, and the views are compared with restores too
    views = ViewsSnapshot(7, [ViewBalance("acct-alice", "USD", 400, 500, 300, 0, 200)])
    report = report_of(record.rows, views)
    assert report.findings == []


def test_an_invoice_restored_twice_is_named_at_the_second_restore() -> None:
    record = alice_voids_an_invoice()
    restore(record, ALICE_ID, "inv-1", 200, 700)  # 5
    assert report_of(record.rows).findings == [
        Finding(RESTORED_TWICE, 5, "acct-alice", "invoice 'inv-1' was already restored at position 4", "USD"),
    ]


def test_a_restore_above_what_the_invoice_applied_is_named() -> None:
    record = alice_voids_an_invoice(restored=250)
    assert report_of(record.rows).findings == [
        Finding(
            RESTORE_ABOVE_APPLIED,
            4,
            "acct-alice",
            "invoice 'inv-1' restores 250, but its decision applied 200",
            "USD",
        ),
    ]


@pytest.mark.parametrize("invoice_id", ["inv-unknown", "inv-bobs"])
def test_a_restore_of_an_invoice_this_account_never_paid_with_credits_is_above_what_was_applied(
    invoice_id: str,
) -> None:
    # given bob's invoice inv-bobs, and alice restoring credits for an invoice she never had
    record = Record()
    record.open(BOB_ID)  # 1
    record.grant(BOB_ID, 100, 100)  # 2
    record.invoice(BOB_ID, "inv-bobs", 100, 100, 0)  # 3
    record.open(ALICE_ID)  # 4
    restore(record, ALICE_ID, invoice_id, 100, 100)  # 5
    assert report_of(record.rows).findings == [
        Finding(
            RESTORE_ABOVE_APPLIED,
            5,
            "acct-alice",
            f"invoice {invoice_id!r} restores 100, but its decision applied 0",
            "USD",
        ),
    ]


def test_a_voided_invoice_that_used_credits_breaks_the_decision_rule() -> None:
    record = Record()
    record.open(ALICE_ID)  # 1
    record.grant(ALICE_ID, 500, 500)  # 2
    restore(record, ALICE_ID, "inv-2", 0, 0, currency="XXX")  # 3
    record.invoice(ALICE_ID, "inv-2", 300, 300, 200)  # 4
    assert report_of(record.rows).findings == [
        Finding(
            DECISION_RULE,
            4,
            "acct-alice",
            "a charge of 300 against a balance of 0 takes 0 of credits and leaves 300 due; "
            "recorded 300 taken and 0 due",
            "USD",
        ),
    ]


def test_restores_are_checked_the_same_once_spilled_to_disk() -> None:
    # given a chunk so small that every decision and restore goes to the scratch file
    check = RestoreCheck(chunk=1)
    check.applied("inv-1", "acct-alice", 3, 200)
    check.restored(Restored(4, "acct-alice", "USD", "inv-1", 200))
    check.restored(Restored(5, "acct-alice", "USD", "inv-1", 200))
    check.restored(Restored(6, "acct-alice", "USD", "inv-9", 10**30))
    try:
        # then the second restore and the one of nothing applied are named
        assert check.problems() == [
            RestoreProblem(Restored(5, "acct-alice", "USD", "inv-1", 200), first_position=4),
            RestoreProblem(Restored(6, "acct-alice", "USD", "inv-9", 10**30), applied=0),
        ]
    finally:
        check.close()


def test_a_wrong_recorded_restore_breaks_the_totals_too() -> None:
    record = alice_voids_an_invoice()
    restore(record, ALICE_ID, "inv-2", 0, 100, currency="XXX")  # 5: recorded 100 of nothing
    kinds = [f.kind for f in report_of(record.rows).findings]
    assert TOTALS_MISMATCH in kinds
