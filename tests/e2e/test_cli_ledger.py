"""The real `promocredits` console script, run as a process, on each event store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

PROMOCREDITS = str(Path(sys.executable).with_name("promocredits"))

Run = Callable[..., subprocess.CompletedProcess[str]]


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOCREDITS_")}
    env["COLUMNS"] = "200"
    return env


def run_cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMOCREDITS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def cli(store_url: str, tmp_path: Path) -> Run:
    """Runs promocredits with PROMOCREDITS_DATABASE_URL pointing at a fresh store."""
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": store_url}
    return lambda *args: run_cli(tmp_path, env, *args)


def no_floats(text: str) -> float:
    raise AssertionError(f"a float in machine output: {text}")


def granting(
    account: str, amount: str, currency: str, grant_id: str, reason: str, *extra: str
) -> tuple[str, ...]:
    return (
        "grant",
        account,
        amount,
        "--currency",
        currency,
        "--grant-id",
        grant_id,
        "--reason",
        reason,
        *extra,
    )


def one_json_object(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Exit 0, nothing on stderr, exactly one JSON object on one line, no floats."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    payload = json.loads(lines[0], parse_float=no_floats)
    assert isinstance(payload, dict)
    return payload


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_every_command_prints_exactly_the_specified_json(cli: Run) -> None:
    # given 25.00 USD granted to acct-alice
    grant = one_json_object(
        cli(
            *granting(
                "acct-alice", "25.00", "USD", "grant-1", "promotion", "--note", "spring campaign", "--json"
            )
        )
    )
    assert grant == {
        "account_id": "acct-alice",
        "grant_id": "grant-1",
        "currency": "USD",
        "amount_minor": 2500,
        "balance_minor": 2500,
    }
    # when a 10.00 invoice arrives
    invoice = one_json_object(
        cli("apply-invoice", "acct-alice", "inv-2026-001", "10.00", "--currency", "USD", "--json")
    )
    assert invoice == {
        "account_id": "acct-alice",
        "invoice_id": "inv-2026-001",
        "currency": "USD",
        "invoice_total_minor": 1000,
        "credits_applied_minor": 1000,
        "amount_due_minor": 0,
        "balance_minor": 1500,
    }
    # and calling credits dearer than the rest are bought
    purchase = one_json_object(
        cli(
            "buy-calling-credits", "acct-alice", "20", "--currency", "USD", "--purchase-id", "pur-1", "--json"
        )
    )
    assert purchase == {
        "account_id": "acct-alice",
        "purchase_id": "pur-1",
        "currency": "USD",
        "price_minor": 2000,
        "credits_used_minor": 1500,
        "amount_due_minor": 500,
        "balance_minor": 0,
    }
    # then the balance is zero, so not shown
    balance = one_json_object(cli("balance", "acct-alice", "--json"))
    assert set(balance) == {"account_id", "visible", "balances"}
    assert balance["account_id"] == "acct-alice"
    assert balance["visible"] is False
    assert all(
        set(b) == {"currency", "balance_minor"} and b["balance_minor"] == 0 for b in balance["balances"]
    )
    # and the history lists the three decisions, oldest first
    history = one_json_object(cli("history", "acct-alice", "--json"))
    assert set(history) == {"account_id", "entries"}
    entries = history["entries"]
    assert [e["type"] for e in entries] == ["grant", "invoice", "calling_credit_purchase"]
    common = {"type", "currency", "amount_minor", "balance_minor", "occurred_at"}
    assert common | {"grant_id"} <= set(entries[0])
    assert common | {"invoice_id", "invoice_total_minor", "amount_due_minor"} <= set(entries[1])
    assert common | {"purchase_id"} <= set(entries[2])
    assert [(e["amount_minor"], e["balance_minor"], e["currency"]) for e in entries] == [
        (2500, 2500, "USD"),
        (1000, 1500, "USD"),
        (1500, 0, "USD"),
    ]
    assert (entries[0]["grant_id"], entries[1]["invoice_id"], entries[2]["purchase_id"]) == (
        "grant-1",
        "inv-2026-001",
        "pur-1",
    )
    assert (entries[1]["invoice_total_minor"], entries[1]["amount_due_minor"]) == (1000, 0)
    moments = [datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")) for e in entries]
    assert moments == sorted(moments)
    assert all(m.utcoffset() is not None for m in moments)


def test_balances_are_per_currency_and_visible_while_any_is_positive(cli: Run) -> None:
    one_json_object(cli(*granting("acct-bob", "100", "JPY", "g-jpy", "refund", "--json")))
    one_json_object(cli("grant", "acct-bob", "1.250", "--currency", "KWD", "--grant-id", "g-kwd", "--reason",
                        "goodwill", "--json"))  # fmt: skip
    # an invoice in a currency the account holds no credits in is charged in full
    eur = one_json_object(cli("apply-invoice", "acct-bob", "inv-eur", "5.00", "--currency", "EUR", "--json"))
    assert (eur["credits_applied_minor"], eur["amount_due_minor"]) == (0, 500)
    # a zero-total invoice is valid
    zero = one_json_object(cli("apply-invoice", "acct-bob", "inv-zero", "0", "--currency", "JPY", "--json"))
    assert (zero["invoice_total_minor"], zero["credits_applied_minor"], zero["balance_minor"]) == (0, 0, 100)
    assert one_json_object(cli("balance", "acct-bob", "--json")) == {
        "account_id": "acct-bob",
        "visible": True,
        "balances": [{"currency": "JPY", "balance_minor": 100}, {"currency": "KWD", "balance_minor": 1250}],
    }


def test_an_unknown_account_is_invisible_and_exits_zero(cli: Run) -> None:
    # given a ledger that knows another account only
    one_json_object(cli(*granting("acct-someone", "1.00", "USD", "g-1", "promotion", "--json")))
    assert one_json_object(cli("balance", "acct-nobody", "--json")) == {
        "account_id": "acct-nobody",
        "visible": False,
        "balances": [],
    }
    assert one_json_object(cli("history", "acct-nobody", "--json")) == {
        "account_id": "acct-nobody",
        "entries": [],
    }


def test_without_json_every_command_prints_a_readable_table(cli: Run) -> None:
    outputs = [
        cli(
            "grant",
            "acct-carol",
            "25.00",
            "--currency",
            "USD",
            "--grant-id",
            "grant-1",
            "--reason",
            "goodwill",
        ),
        cli("apply-invoice", "acct-carol", "inv-1", "10.00", "--currency", "USD"),
        cli("buy-calling-credits", "acct-carol", "5.00", "--currency", "USD", "--purchase-id", "pur-1"),
        cli("balance", "acct-carol"),
        cli("history", "acct-carol"),
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert not result.stdout.lstrip().startswith("{")
        assert "acct-carol" in result.stdout
    grant, invoice, purchase, balance, history = (r.stdout for r in outputs)
    assert "25.00 USD" in grant
    assert "10.00 USD" in invoice and "15.00 USD" in invoice
    assert "5.00 USD" in purchase and "10.00 USD" in purchase
    assert "10.00 USD" in balance
    assert history.index("grant-1") < history.index("inv-1") < history.index("pur-1")
    # a repeat says it was already recorded and shows the same numbers
    again = cli(
        "grant", "acct-carol", "25.00", "--currency", "USD", "--grant-id", "grant-1", "--reason", "goodwill"
    )
    assert again.returncode == 0
    assert "already recorded" in again.stdout and "25.00 USD" in again.stdout


def test_repeating_a_command_returns_the_recorded_result(cli: Run) -> None:
    args = (
        "grant",
        "acct-dave",
        "5.00",
        "--currency",
        "EUR",
        "--grant-id",
        "grant-1",
        "--reason",
        "refund",
        "--json",
    )
    first = one_json_object(cli(*args))
    assert one_json_object(cli(*args)) == first
    invoice = ("apply-invoice", "acct-dave", "inv-1", "3.00", "--currency", "EUR", "--json")
    decided = one_json_object(cli(*invoice))
    assert one_json_object(cli(*invoice)) == decided
    assert one_json_object(cli("balance", "acct-dave", "--json"))["balances"] == [
        {"currency": "EUR", "balance_minor": 200}
    ]
    assert len(one_json_object(cli("history", "acct-dave", "--json"))["entries"]) == 2


def test_an_invoice_decided_without_credits_keeps_that_decision_after_a_grant(cli: Run) -> None:
    invoice = ("apply-invoice", "acct-erin", "inv-early", "30.00", "--currency", "USD", "--json")
    first = one_json_object(cli(*invoice))
    assert (first["credits_applied_minor"], first["amount_due_minor"]) == (0, 3000)
    one_json_object(cli(*granting("acct-erin", "50", "USD", "g-1", "promotion", "--json")))
    assert one_json_object(cli(*invoice)) == first


INVALID_INPUTS = [
    ("grant", "acct-x", "1e3", "--currency", "USD", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "0", "--currency", "USD", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "-5", "--currency", "USD", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "25.001", "--currency", "USD", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "1.5", "--currency", "JPY", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "ten", "--currency", "USD", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "10", "--currency", "XYZ", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "10", "--currency", "USD", "--grant-id", "g", "--reason", "bribe"),
    ("grant", "acct-x", "10", "--currency", "USD", "--grant-id", "bad id", "--reason", "promotion"),
    ("grant", "acct x", "10", "--currency", "USD", "--grant-id", "g", "--reason", "promotion"),
    ("grant", "acct-x", "10", "--currency", "USD", "--reason", "promotion"),
    ("grant", "acct-x"),
    ("apply-invoice", "acct-x", "inv-1", "-1", "--currency", "USD"),
    ("apply-invoice", "acct-x", "inv-1", "1.2345", "--currency", "KWD"),
    ("buy-calling-credits", "acct-x", "0", "--currency", "USD", "--purchase-id", "p"),
    ("buy-calling-credits", "acct-x", "5", "--currency", "usd", "--purchase-id", "p"),
    ("balance", "not valid!"),
    ("balance", "acct-x", "--bogus"),
    ("no-such-command",),
]


def test_invalid_input_exits_2_with_one_line_and_leaves_no_trace(cli: Run) -> None:
    # One process per input, a few at a time, and one store check at the end.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda args: cli(*args), INVALID_INPUTS))
    for args, result in zip(INVALID_INPUTS, results, strict=True):
        assert result.returncode == 2, (args, result.stderr)
        one_error_line(result, 2)
    assert one_json_object(cli("balance", "acct-x", "--json"))["balances"] == []
    assert one_json_object(cli("history", "acct-x", "--json"))["entries"] == []


def test_a_conflicting_repeat_exits_3_and_changes_nothing(cli: Run) -> None:
    one_json_object(cli("grant", "acct-frank", "5.00", "--currency", "USD", "--grant-id", "g-1", "--reason",
                        "promotion", "--json"))  # fmt: skip
    line = one_error_line(
        cli("grant", "acct-frank", "6.00", "--currency", "USD", "--grant-id", "g-1", "--reason", "promotion"),
        3,
    )
    assert "g-1" in line
    one_json_object(cli("apply-invoice", "acct-frank", "inv-1", "1.00", "--currency", "USD", "--json"))
    one_error_line(cli("apply-invoice", "acct-frank", "inv-1", "1.00", "--currency", "EUR", "--json"), 3)
    one_json_object(
        cli("buy-calling-credits", "acct-frank", "1", "--currency", "USD", "--purchase-id", "p-1", "--json")
    )
    one_error_line(
        cli("buy-calling-credits", "acct-frank", "2", "--currency", "USD", "--purchase-id", "p-1"), 3
    )
    assert one_json_object(cli("balance", "acct-frank", "--json"))["balances"] == [
        {"currency": "USD", "balance_minor": 300}
    ]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_postgresql_exits_1_with_one_line(tmp_path: Path) -> None:
    env = base_env() | {
        "PROMOCREDITS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port()}/ledger"
    }
    line = one_error_line(
        run_cli(tmp_path, env, "apply-invoice", "acct-x", "inv-1", "1", "--currency", "USD"), 1
    )
    assert "event store" in line or "connect" in line


@pytest.mark.parametrize(
    "url", ["mysql://u:p@localhost/ledger", "sqlite:///", "postgresql://localhost", "ledger.db"]
)
def test_a_bad_database_url_exits_2_with_one_line(tmp_path: Path, url: str) -> None:
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": url}
    one_error_line(run_cli(tmp_path, env, "balance", "acct-x", "--json"), 2)


def test_the_default_store_is_an_embedded_sqlite_file_in_the_working_directory(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, base_env(), "grant", "acct-g", "1.00", "--currency", "USD", "--grant-id", "g-1", "--reason",
        "promotion", "--json",
    )  # fmt: skip
    assert one_json_object(result)["balance_minor"] == 100
    assert (tmp_path / "var" / "ledger.db").is_file()
