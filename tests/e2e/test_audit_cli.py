"""An auditor with only the CLI: past balances, statements, verification, exports."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

BIN = Path(sys.executable).parent / "promocredits"


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PROMOCREDITS_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    return run


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """A set-up step that must succeed: a refused grant would leave the
    checks after it testing an empty or different ledger."""
    assert result.returncode == 0, (result.args, result.stderr)
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.stderr == "", result.stderr
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_an_auditor_gets_balances_statements_and_a_clean_verification(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given a grant and two invoices recorded through the CLI
    ok(cli("grant", "acct-alice", "25.00", "--currency", "USD", "--grant-id", "g-1", "--reason", "promotion"))
    ok(cli("apply-invoice", "acct-alice", "inv-2026-001", "10.00", "--currency", "USD"))
    history = as_json(ok(cli("history", "acct-alice", "--json")))["entries"]
    first_at = history[0]["occurred_at"]  # type: ignore[index]
    ok(cli("apply-invoice", "acct-alice", "inv-2026-002", "40.00", "--currency", "USD"))

    # when the auditor asks for the balance as of the grant
    past = as_json(ok(cli("audit", "balance", "acct-alice", "--as-of", first_at, "--json")))
    # then it is the balance right after the grant
    assert past == {
        "account_id": "acct-alice",
        "as_of": first_at,
        "balances": [{"currency": "USD", "balance_minor": 2500}],
    }

    # when the auditor asks for a statement as CSV
    rows = list(
        csv.DictReader(io.StringIO(ok(cli("audit", "statement", "acct-alice", "--format", "csv")).stdout))
    )
    # then it opens at zero, shows each line's running balance and closes at zero
    assert [(r["record"], r["key"], r["balance_minor"]) for r in rows] == [
        ("opening_balance", "", "0"),
        ("line", "g-1", "2500"),
        ("line", "inv-2026-001", "1500"),
        ("line", "inv-2026-002", "0"),
        ("closing_balance", "", "0"),
    ]
    jsonl = [
        orjson.loads(line)
        for line in ok(cli("audit", "statement", "acct-alice", "--format", "jsonl")).stdout.splitlines()
    ]
    assert [r["record"] for r in jsonl] == ["opening", "line", "line", "line", "closing"]

    # when the auditor verifies the untouched store
    verified = cli("audit", "verify", "--json")
    # then it is clean, exit 0
    assert verified.returncode == 0
    report = as_json(verified)
    assert (report["events_checked"], report["accounts_checked"], report["findings"]) == (4, 1, [])


def test_a_tampered_store_fails_verification_with_a_located_finding(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given a grant and an invoice
    ok(cli("grant", "acct-bob", "5.00", "--currency", "USD", "--grant-id", "g-1", "--reason", "goodwill"))
    ok(cli("apply-invoice", "acct-bob", "inv-2026-001", "3.00", "--currency", "USD"))
    # when someone raises the grant in the database directly
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE stored_events SET state = replace(state, '500', '90000') WHERE rowid = 2")
    result = cli("audit", "verify", "--json")
    # then verification exits 4 and names the account and the position
    assert result.returncode == 4
    findings = as_json(result)["findings"]
    assert {"kind": "chain_mismatch", "position": 2, "account_id": "acct-bob"}.items() <= findings[0].items()  # type: ignore[index]
    # and the readable form says the same on stdout
    readable = cli("audit", "verify")
    assert readable.returncode == 4 and "chain_mismatch" in readable.stdout


def test_export_and_offline_check_catch_a_cut_tail(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok(cli("grant", "acct-carol", "5.00", "--currency", "EUR", "--grant-id", "g-1", "--reason", "refund"))
    ok(cli("apply-invoice", "acct-carol", "inv-2026-001", "1.00", "--currency", "EUR"))
    # when the store is exported and its digest kept
    exported = as_json(ok(cli("audit", "export", "--out", "ledger.jsonl", "--json")))
    digest = str(exported["digest"])
    # then the export checks out offline, with and without the digest
    assert cli("audit", "verify-export", "ledger.jsonl").returncode == 0
    assert cli("audit", "verify-export", "ledger.jsonl", "--digest", digest).returncode == 0
    # when its last event and digest line are cut and a digest line forged
    lines = (tmp_path / "ledger.jsonl").read_bytes().splitlines(keepends=True)[:-2]
    forged = orjson.dumps({"digest": orjson.loads(lines[-1])["hash"], "rows": len(lines)})
    (tmp_path / "cut.jsonl").write_bytes(b"".join(lines) + forged + b"\n")
    # then the digest recorded earlier catches it
    caught = cli("audit", "verify-export", "cut.jsonl", "--digest", digest, "--json")
    assert caught.returncode == 4
    assert [f["kind"] for f in as_json(caught)["findings"]] == ["export_truncated"]  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "balance", "acct-alice", "--as-of", "last tuesday"],
        ["audit", "statement", "acct-alice", "--from", "2026-13-01"],
        ["audit", "statement", "acct-alice", "--from", "2026-02-01", "--to", "2026-01-01"],
        ["audit", "verify-export", "missing.jsonl"],
        ["audit", "verify-export", "missing.jsonl", "--digest", "not-hex"],
    ],
)
def test_invalid_input_is_one_line_and_exit_2(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_a_head_recorded_by_one_verification_anchors_the_next(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given a verification whose chain head the auditor wrote down
    ok(cli("grant", "acct-alice", "25.00", "--currency", "USD", "--grant-id", "g-1", "--reason", "promotion"))
    ok(cli("apply-invoice", "acct-alice", "inv-2026-001", "10.00", "--currency", "USD"))
    first = as_json(ok(cli("audit", "verify", "--json")))
    head = f"{first['chain_head']}@{first['chain_head_position']}"
    # then it holds while the store is untouched
    assert cli("audit", "verify", "--expect-head", head).returncode == 0
    # when the last event and its chain link are removed together
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("DELETE FROM stored_events WHERE rowid = (SELECT MAX(rowid) FROM stored_events)")
        db.execute(
            "DELETE FROM event_chain WHERE notification_id = (SELECT MAX(notification_id) FROM event_chain)"
        )
    # then only the anchored verification finds it, and a malformed anchor is invalid input
    assert cli("audit", "verify").returncode == 0
    anchored = cli("audit", "verify", "--expect-head", head, "--json")
    assert anchored.returncode == 4
    assert [f["kind"] for f in orjson.loads(anchored.stdout)["findings"]] == ["anchor_mismatch"]
    malformed = cli("audit", "verify", "--expect-head", "not-a-head")
    assert malformed.returncode == 2 and "Traceback" not in malformed.stderr
