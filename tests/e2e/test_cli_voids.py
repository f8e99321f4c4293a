"""`promocredits void-invoice` and `promocredits invoice`, run as processes, on each event store."""

from __future__ import annotations

import json

from tests.e2e.test_cli_ledger import Run, cli, granting, one_error_line, one_json_object

__all__ = ["cli"]


def test_a_void_gives_back_the_credits_and_the_invoice_shows_it(cli: Run) -> None:
    # given 25.00 USD of which a 10.00 invoice used all 10.00
    one_json_object(cli(*granting("acct-alice", "25.00", "USD", "grant-1", "promotion", "--json")))
    one_json_object(
        cli("apply-invoice", "acct-alice", "inv-2026-001", "10.00", "--currency", "USD", "--json")
    )
    # when the invoice is voided
    voided = one_json_object(cli("void-invoice", "acct-alice", "inv-2026-001", "--json"))
    # then the 10.00 come back
    assert voided == {
        "account_id": "acct-alice",
        "invoice_id": "inv-2026-001",
        "currency": "USD",
        "credits_restored_minor": 1000,
        "balance_minor": 2500,
    }
    # and voiding it again answers the same and changes nothing
    assert one_json_object(cli("void-invoice", "acct-alice", "inv-2026-001", "--json")) == voided
    history = one_json_object(cli("history", "acct-alice", "--json"))["entries"]
    assert [e["type"] for e in history] == ["grant", "invoice", "restore"]
    # and the invoice lookup shows the decision and its void
    found = one_json_object(cli("invoice", "inv-2026-001", "--json"))
    assert found == {
        "invoice_id": "inv-2026-001",
        "account_id": "acct-alice",
        "currency": "USD",
        "invoice_total_minor": 1000,
        "credits_applied_minor": 1000,
        "amount_due_minor": 0,
        "balance_after_minor": 1500,
        "decided_at": history[1]["occurred_at"],
        "voided": True,
        "credits_restored_minor": 1000,
    }


def test_without_json_void_and_invoice_print_readable_tables(cli: Run) -> None:
    cli(*granting("acct-bob", "5.00", "EUR", "grant-1", "goodwill"))
    cli("apply-invoice", "acct-bob", "inv-2026-002", "8.00", "--currency", "EUR")
    early = cli("void-invoice", "acct-bob", "inv-2026-003")
    assert early.returncode == 0, early.stderr
    assert "Void of invoice inv-2026-003" in early.stdout and "0 XXX" in early.stdout
    assert "restore" in cli("history", "acct-bob").stdout
    shown = cli("invoice", "inv-2026-002")
    assert shown.returncode == 0, shown.stderr
    assert "Invoice inv-2026-002 of acct-bob" in shown.stdout
    assert "5.00 EUR" in shown.stdout and "3.00 EUR" in shown.stdout and "no" in shown.stdout


def test_an_invoice_with_no_decision_exits_1_with_one_line(cli: Run) -> None:
    # given a void recorded before its invoice, and an id never seen
    one_json_object(cli("void-invoice", "acct-carol", "inv-2026-004", "--json"))
    # then neither has a decision to show
    for invoice_id in ("inv-2026-004", "inv-never-seen"):
        line = one_error_line(cli("invoice", invoice_id, "--json"), 1)
        assert line == f"error: no decision is recorded for invoice {invoice_id!r}"


def test_invalid_ids_exit_2_and_a_void_for_another_account_exits_3(cli: Run) -> None:
    one_json_object(cli("apply-invoice", "acct-dave", "inv-2026-005", "1.00", "--currency", "USD", "--json"))
    assert "invoice_id" in one_error_line(cli("invoice", "not an id"), 2)
    assert "invoice_id" in one_error_line(cli("void-invoice", "acct-dave", "../x"), 2)
    assert "account_id" in one_error_line(cli("void-invoice", "bad account", "inv-2026-005"), 2)
    assert "another account" in one_error_line(cli("void-invoice", "acct-erin", "inv-2026-005"), 3)
    # and nothing was recorded by any of them
    assert one_json_object(cli("invoice", "inv-2026-005", "--json"))["voided"] is False
    assert one_json_object(cli("history", "acct-erin", "--json"))["entries"] == []


def test_statements_show_restores_and_verification_stays_clean_with_voids(cli: Run) -> None:
    # given a decided invoice voided, and a void before its invoice
    one_json_object(cli(*granting("acct-frank", "25.00", "USD", "grant-1", "refund", "--json")))
    one_json_object(
        cli("apply-invoice", "acct-frank", "inv-2026-006", "10.00", "--currency", "USD", "--json")
    )
    one_json_object(cli("void-invoice", "acct-frank", "inv-2026-006", "--json"))
    one_json_object(cli("void-invoice", "acct-frank", "inv-2026-007", "--json"))
    late = one_json_object(
        cli("apply-invoice", "acct-frank", "inv-2026-007", "5.00", "--currency", "USD", "--json")
    )
    assert (late["credits_applied_minor"], late["amount_due_minor"]) == (0, 500)
    # when the auditor reads the statement and verifies the record
    statement = one_json_object(cli("audit", "statement", "acct-frank", "--json"))
    report = cli("audit", "verify", "--json")
    # then the statement lists each restore as a credit, and the record is clean
    lines = statement["lines"]
    assert [(line["type"], line["change_minor"], line["currency"]) for line in lines] == [
        ("grant", 2500, "USD"),
        ("invoice", -1000, "USD"),
        ("restore", 1000, "USD"),
        ("restore", 0, "XXX"),
        ("invoice", 0, "USD"),
    ]
    assert {b["currency"]: b["balance_minor"] for b in statement["closing_balances"]}["USD"] == 2500
    assert report.returncode == 0, report.stdout + report.stderr
    assert json.loads(report.stdout)["findings_total"] == 0
    # and the readable statement shows the restore of no currency without failing
    readable = cli("audit", "statement", "acct-frank")
    assert readable.returncode == 0, readable.stderr
    assert "0 XXX" in readable.stdout
