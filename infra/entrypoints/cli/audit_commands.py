"""`promocredits audit ...`: past balances, statements, full verification, exports."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from application.audit.export import verify_export
from application.audit.statement import Statement, balance_as_of, balances_json, statement
from application.audit.verify import Anchor, Report
from application.entries import rfc3339
from domain.errors import InvalidCommandError
from infra.adapters.store.raw_log import raw_log
from infra.entrypoints.cli.audit_runs import export_store, verify_store
from infra.entrypoints.cli.context import container, existing_ledger
from infra.entrypoints.cli.output import (
    EXIT_INVALID,
    JsonFlag,
    emit,
    emit_json,
    fail,
    money,
    optional_money,
    progress,
    table,
    user_errors,
)

EXIT_FINDINGS = 4

app = typer.Typer(
    help="Audit the record: past balances, statements, verification, exports.", no_args_is_help=True
)


def parse_instant(text: str, option: str) -> datetime:
    """RFC 3339 / ISO 8601; a date or a time without offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidCommandError(
            f"{option} {text!r} is not a timestamp such as 2026-01-31T23:59:59Z or 2026-01-31"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _render_findings(report: Report, title: str) -> None:
    if report.clean:
        stdout_line = (
            f"{title}: clean. {report.events_checked} events of {report.accounts_checked} "
            f"account(s) checked; chain head {report.chain_head.hex()}@{report.chain_head_position}"
        )
        if title == "Verification":
            stdout_line += " (keep it elsewhere; `audit verify --expect-head` checks it later)"
        typer.echo(stdout_line)
        return
    table(
        f"{title}: {report.findings_total} finding(s) in {report.events_checked} events of "
        f"{report.accounts_checked} accounts",
        ["position", "account", "currency", "kind", "what differs"],
        [[f.position, f.account_id or "", f.currency or "", f.kind, f.detail] for f in report.findings],
    )
    if report.findings_total > len(report.findings):
        typer.echo(f"... and {report.findings_total - len(report.findings)} more")


@app.command("balance")
def balance(
    account_id: str,
    as_of: Annotated[str, typer.Option("--as-of", help="Instant, e.g. 2026-01-31T23:59:59Z.")],
    as_json: JsonFlag = False,
) -> None:
    """Balances as they stood at an instant, from the event log alone."""
    with user_errors():
        moment = parse_instant(as_of, "--as-of")
        balances = balance_as_of(existing_ledger(), account_id, moment)
    payload = {"account_id": account_id, "as_of": rfc3339(moment), "balances": balances_json(balances)}
    emit(
        as_json,
        payload,
        lambda: table(
            f"Account {account_id} as of {rfc3339(moment)}",
            ["currency", "balance"],
            [[c, money(b, c)] for c, b in balances.items()],
        ),
    )


class StatementFormat(StrEnum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"


_CSV_COLUMNS = [
    "record",
    "occurred_at",
    "type",
    "key",
    "currency",
    "change_minor",
    "invoice_total_minor",
    "amount_due_minor",
    "balance_minor",
    "event_id",
]


def _write_csv(result: Statement) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(_CSV_COLUMNS)
    for currency, minor in result.opening.items():
        start = rfc3339(result.start) if result.start else ""
        out.writerow(["opening_balance", start, "", "", currency, "", "", "", minor, ""])
    for line in result.lines:
        e = line.entry
        out.writerow(
            [
                "line",
                rfc3339(e.occurred_at),
                e.kind,
                e.key,
                e.currency,
                line.change_minor,
                "" if e.invoice_total_minor is None else e.invoice_total_minor,
                "" if e.amount_due_minor is None else e.amount_due_minor,
                line.running_balance_minor,
                e.event_id,
            ]
        )
    for currency, minor in result.closing.items():
        end = rfc3339(result.end) if result.end else ""
        out.writerow(["closing_balance", end, "", "", currency, "", "", "", minor, ""])


def _write_jsonl(result: Statement) -> None:
    whole = result.to_json()
    emit_json(
        {
            "record": "opening",
            "account_id": result.account_id,
            "from": whole["from"],
            "balances": whole["opening_balances"],
        }
    )
    for line in whole["lines"]:
        emit_json({"record": "line", **line})
    emit_json(
        {
            "record": "closing",
            "account_id": result.account_id,
            "to": whole["to"],
            "balances": whole["closing_balances"],
        }
    )


def _render_statement(result: Statement) -> None:
    period = f"{rfc3339(result.start) if result.start else 'the beginning'} to " + (
        rfc3339(result.end) if result.end else "now"
    )
    table(
        f"Statement of {result.account_id}, {period}: opening balances",
        ["currency", "balance"],
        [[c, money(b, c)] for c, b in result.opening.items()],
    )
    table(
        "Lines",
        ["when", "type", "key", "change", "invoice total", "due", "balance"],
        [
            [
                rfc3339(line.entry.occurred_at),
                line.entry.kind,
                line.entry.key,
                money(line.change_minor, line.entry.currency),
                optional_money(line.entry.invoice_total_minor, line.entry.currency),
                optional_money(line.entry.amount_due_minor, line.entry.currency),
                money(line.running_balance_minor, line.entry.currency),
            ]
            for line in result.lines
        ],
    )
    table("Closing balances", ["currency", "balance"], [[c, money(b, c)] for c, b in result.closing.items()])


@app.command("statement")
def statement_command(
    account_id: str,
    start: Annotated[
        str | None, typer.Option("--from", help="Period start (exclusive); default: the beginning.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Period end (inclusive); default: now.")] = None,
    output_format: Annotated[StatementFormat, typer.Option("--format")] = StatementFormat.table,
    as_json: JsonFlag = False,
) -> None:
    """Every ledger line of a period with its running balance, and the opening and closing balances."""
    with user_errors():
        start_at = parse_instant(start, "--from") if start else None
        end_at = parse_instant(end, "--to") if end else None
        if start_at and end_at and end_at < start_at:
            raise InvalidCommandError("--to must not be before --from")
        result = statement(existing_ledger(), account_id, start_at, end_at)
    if as_json:
        emit_json(result.to_json())
    elif output_format is StatementFormat.csv:
        _write_csv(result)
    elif output_format is StatementFormat.jsonl:
        _write_jsonl(result)
    else:
        _render_statement(result)


def _finish(report: Report, as_json: bool, title: str, extra: dict[str, Any] | None = None) -> None:
    payload = report.to_json() | (extra or {})
    emit(as_json, payload, lambda: _render_findings(report, title))
    if not report.clean:
        raise typer.Exit(EXIT_FINDINGS)


def parse_anchor(text: str) -> Anchor:
    digest, _, position = text.partition("@")
    try:
        anchor = Anchor(int(position), bytes.fromhex(digest))
    except ValueError:
        anchor = None
    if anchor is None or len(anchor.chain_hash) != 32 or anchor.position < 1:
        raise InvalidCommandError(
            f"--expect-head {text!r} is not HEX@POSITION, as printed by an earlier verify "
            "(chain_head@chain_head_position)"
        )
    return anchor


@app.command("verify")
def verify(
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="HEX@POSITION recorded by an earlier verify: prove the history up to there is unchanged.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Replay the whole record and check every invariant and the tamper-evidence chain.

    Exit 0 when clean, 4 when anything is found. Record the printed chain head
    and position somewhere else; --expect-head then also catches a rewritten
    or cut tail, which no chain stored beside the events can show alone."""
    with user_errors():
        anchor = parse_anchor(expect_head) if expect_head is not None else None
        log = raw_log(container().settings.database_url)
        views = container().audit_views
        with progress("Verifying", enabled=not as_json) as advance:
            head = log.head()
            advance(0, head)
            report = verify_store(log, views, lambda done: advance(done, head), anchor)
    _finish(report, as_json, "Verification")


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write.")],
    as_json: JsonFlag = False,
) -> None:
    """Write the whole raw record as JSONL ending with a digest line; print the digest.

    Keep the printed digest apart from the file: `audit verify-export --digest`
    then proves the file was not cut or rewritten. Exit 4 if the store has findings."""
    with user_errors():
        log = raw_log(container().settings.database_url)
        with progress("Exporting", enabled=not as_json) as advance:
            head = log.head()
            advance(0, head)
            report = export_store(log, out, lambda done: advance(done, head))
    extra = {"out": str(out), "digest": report.chain_head.hex()}
    if not as_json:
        typer.echo(f"exported to {out}; digest {report.chain_head.hex()}")
    _finish(report, as_json, "Export", extra)


@app.command("verify-export")
def verify_export_command(
    file: Annotated[Path, typer.Argument(help="An export written by `audit export`.")],
    digest: Annotated[
        str | None, typer.Option("--digest", help="The digest printed when it was exported.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check an export offline: chain, every invariant, and (with --digest) that nothing was cut."""
    expected: bytes | None = None
    if digest is not None:
        try:
            expected = bytes.fromhex(digest)
        except ValueError:
            expected = None
        if expected is None or len(expected) != 32:
            fail(f"--digest {digest!r} is not 64 hexadecimal digits", EXIT_INVALID)
    try:
        source = file.open("rb")
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}", EXIT_INVALID)
    with source:
        report = verify_export(source, expected)
    _finish(report, as_json, f"Export {file}")
