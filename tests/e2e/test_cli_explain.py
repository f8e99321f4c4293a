"""`promocredits explain` as a process, on each event store."""

from __future__ import annotations

from tests.e2e.test_cli_ledger import Run, cli, granting, one_error_line, one_json_object

__all__ = ["cli"]


def test_explain_names_the_grant_and_the_invoice_that_used_it(cli: Run) -> None:
    # given 25.00 USD granted and a 40.00 invoice that used all of it
    one_json_object(cli(*granting("acct-alice", "25.00", "USD", "grant-1", "compensation", "--json")))
    invoice = ("apply-invoice", "acct-alice", "inv-2026-001", "40.00", "--currency", "USD", "--json")
    one_json_object(cli(*invoice))
    # when support asks for the explanation as JSON
    explained = one_json_object(cli("explain", "acct-alice", "--json"))
    # then the facts say hidden, why, and where the credits went
    assert explained["known"] is True and explained["visible"] is False
    assert [g["grant_id"] for g in explained["grants"]] == ["grant-1"]
    assert [(u["invoice_id"], u["amount_minor"], u["amount"]) for u in explained["usage"]] == [
        ("inv-2026-001", 2500, "25.00 USD")
    ]
    # and as text, the same in sentences and tables
    shown = cli("explain", "acct-alice")
    assert shown.returncode == 0, shown.stderr
    assert "(visible: false) because every balance is zero" in shown.stdout
    assert "invoice inv-2026-001 (total 40.00 USD) used 25.00 USD of credits" in shown.stdout
    assert "Where the credits went" in shown.stdout


def test_explain_tells_of_a_voided_invoice_and_its_restore(cli: Run) -> None:
    # given 25.00 USD granted, a 40.00 invoice that used it, then voided
    one_json_object(cli(*granting("acct-vera", "25.00", "USD", "grant-1", "compensation", "--json")))
    invoice = ("apply-invoice", "acct-vera", "inv-2026-001", "40.00", "--currency", "USD", "--json")
    one_json_object(cli(*invoice))
    one_json_object(cli("void-invoice", "acct-vera", "inv-2026-001", "--json"))
    # when support asks for the explanation as JSON
    explained = one_json_object(cli("explain", "acct-vera", "--json"))
    # then the restore is a fact of its own
    assert explained["visible"] is True
    assert [(r["invoice_id"], r["currency"], r["credits_restored_minor"]) for r in explained["restores"]] == [
        ("inv-2026-001", "USD", 2500)
    ]
    # and as text, a sentence and a table
    shown = cli("explain", "acct-vera")
    assert shown.returncode == 0, shown.stderr
    assert "invoice inv-2026-001 was voided and its 25.00 USD of credits were given back" in shown.stdout
    assert "Voided invoices: credits given back" in shown.stdout


def test_explain_of_an_unknown_account_exits_0_and_names_the_close_match(cli: Run) -> None:
    # given credits granted to "acct-Bob" and the views caught up
    one_json_object(cli(*granting("acct-Bob", "5.00", "USD", "grant-1", "goodwill", "--json")))
    one_json_object(cli("projections", "run", "--until-caught-up", "--json"))
    # when support asks about "acct-bob"
    explained = one_json_object(cli("explain", "acct-bob", "--json"))
    # then it is unknown, hidden, and names "acct-Bob"
    assert (explained["known"], explained["visible"]) == (False, False)
    assert explained["close_matches"] == ["acct-Bob"]
    shown = cli("explain", "acct-bob")
    assert shown.returncode == 0
    assert "differ only in case or whitespace: 'acct-Bob'" in shown.stdout


def test_explain_of_an_invalid_id_is_one_error_line_and_exit_2(cli: Run) -> None:
    one_json_object(cli(*granting("acct-alice", "1.00", "USD", "grant-1", "goodwill", "--json")))
    line = one_error_line(cli("explain", "acct alice!", "--json"), 2)
    assert "account_id must be 1-128 characters" in line
    assert "'acct alice!'" in line
