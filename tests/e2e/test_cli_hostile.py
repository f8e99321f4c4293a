"""Hostile and extreme input at the command line: exit 2, one line, nothing changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli_ledger import (
    PROMOCREDITS,
    Run,
    base_env,
    granting,
    one_error_line,
    one_json_object,
    run_cli,
)


@pytest.fixture
def cli(store_url: str, tmp_path: Path) -> Run:
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": store_url}
    return lambda *args: run_cli(tmp_path, env, *args)


def test_an_amount_with_thousands_of_leading_zeros_exits_2_and_records_nothing(cli: Run) -> None:
    # given a ledger with one account
    one_json_object(cli(*granting("acct-alice", "1.00", "USD", "g-1", "promotion", "--json")))
    # when an amount padded with 10,000 zeros is granted
    line = one_error_line(cli(*granting("acct-alice", "0" * 10_000 + "5", "USD", "g-2", "promotion")), 2)
    # then it is refused as too long, in a short line, and the balance is unchanged
    assert "too long" in line
    assert len(line) < 300
    assert one_json_object(cli("balance", "acct-alice", "--json"))["balances"] == [
        {"currency": "USD", "balance_minor": 100}
    ]


def test_a_note_that_is_not_valid_unicode_exits_2_and_records_nothing(store_url: str, tmp_path: Path) -> None:
    # given a note whose bytes are not UTF-8: Python hands it over as lone surrogates
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": store_url}
    args = [PROMOCREDITS, *granting("acct-bob", "1.00", "USD", "g-1", "promotion", "--note")]
    result = subprocess.run(
        [*(a.encode() for a in args), b"bad \xff note"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # then it is refused as invalid text, and the account has nothing
    assert "lone surrogate" in one_error_line(result, 2)
    escape = granting("acct-bob", "1.00", "USD", "g-1", "promotion", "--note", "a\x1bb")
    assert "U+001B" in one_error_line(run_cli(tmp_path, env, *escape), 2)
    balance = run_cli(tmp_path, env, "balance", "acct-bob", "--json")
    if balance.returncode == 0:
        assert one_json_object(balance)["balances"] == []
    else:  # no write ever reached the SQLite ledger, so there is none
        assert "no ledger" in one_error_line(balance, 1)


def test_a_grant_past_the_balance_bound_exits_2_and_records_nothing(cli: Run) -> None:
    # given an account at the bound of 10^15 minor units
    one_json_object(cli(*granting("acct-whale", "10000000000000.00", "USD", "g-1", "promotion", "--json")))
    # when one more cent is granted
    line = one_error_line(cli(*granting("acct-whale", "0.01", "USD", "g-2", "promotion")), 2)
    # then it is refused and the balance stays at the bound
    assert "limit" in line
    assert one_json_object(cli("balance", "acct-whale", "--json"))["balances"] == [
        {"currency": "USD", "balance_minor": 10**15}
    ]


@pytest.mark.parametrize("account_id", ["a/../b", "a/./b", "team/.."])
def test_account_ids_with_dot_segments_exit_2(cli: Run, account_id: str) -> None:
    assert "path segment" in one_error_line(cli(*granting(account_id, "1.00", "USD", "g-1", "promotion")), 2)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://ledger:hunter2secret@db.example/ledger",
        "postgresql://ledger:hunter2secret@127.0.0.1:1/",
        "postgresql://ledger:hunter2secret@127.0.0.1:1/ledger",
    ],
)
def test_a_password_in_a_database_url_never_reaches_the_output(tmp_path: Path, url: str) -> None:
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": url}
    for args in (("balance", "acct-x"), ("apply-invoice", "acct-x", "inv-1", "1", "--currency", "USD")):
        result = run_cli(tmp_path, env, *args)
        assert result.returncode in (1, 2)
        assert "hunter2secret" not in result.stdout + result.stderr
        assert result.stderr.startswith("error: ")


@pytest.mark.parametrize(
    "args",
    [
        ("balance", "acct-x"),
        ("history", "acct-x", "--json"),
        ("audit", "balance", "acct-x", "--as-of", "2026-01-01T00:00:00Z"),
        ("audit", "statement", "acct-x", "--from", "2026-01-01", "--to", "2026-02-01"),
        ("audit", "verify"),
        ("projections", "status"),
    ],
)
def test_read_commands_on_a_missing_sqlite_ledger_say_so_and_create_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # given a mistyped ledger path
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": "sqlite:///var/ledgre.db"}
    # when a command that only reads runs
    line = one_error_line(run_cli(tmp_path, env, *args), 1)
    # then it names the path it did not find, and creates nothing
    assert "no ledger at var/ledgre.db" in line
    assert not (tmp_path / "var" / "ledgre.db").exists()


def test_a_write_still_creates_a_missing_sqlite_ledger(tmp_path: Path) -> None:
    env = base_env() | {"PROMOCREDITS_DATABASE_URL": "sqlite:///var/new/ledger.db"}
    one_json_object(
        run_cli(tmp_path, env, *granting("acct-new", "1.00", "USD", "g-1", "promotion", "--json"))
    )
    assert (tmp_path / "var" / "new" / "ledger.db").is_file()
    assert one_json_object(run_cli(tmp_path, env, "balance", "acct-new", "--json"))["visible"] is True
