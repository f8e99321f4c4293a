"""Commands that write and read the ledger: grant, apply-invoice, buy-calling-credits,
balance, history."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from application.entries import rfc3339
from application.money import to_minor
from domain.rules import GRANT_REASONS
from infra.entrypoints.cli.context import existing_ledger, ledger
from infra.entrypoints.cli.output import JsonFlag, emit, money, optional_money, stdout, table, user_errors

app = typer.Typer()

Currency = Annotated[str, typer.Option("--currency", help="ISO 4217 code, e.g. USD.")]


# Built from the domain's reasons, so that a new one reaches the command line by itself.
Reason = StrEnum("Reason", [(reason, reason) for reason in GRANT_REASONS])  # type: ignore[misc]


@app.command()
def grant(
    account_id: str,
    amount: Annotated[str, typer.Argument(help='Decimal amount, e.g. "25.00".')],
    currency: Currency,
    grant_id: Annotated[str, typer.Option("--grant-id", help="Idempotency key of this grant.")],
    reason: Annotated[Reason, typer.Option("--reason")],
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Grant promotional credits to an account."""
    with user_errors():
        amount_minor = to_minor(amount, currency)
        result = ledger().grant(account_id, grant_id, currency, amount_minor, reason.value, note)
    emit(
        as_json,
        result.to_json(),
        lambda: table(
            f"Grant {result.grant_id}" + ("" if result.is_new else " (already recorded)"),
            ["account", "granted", "balance"],
            [[account_id, money(result.amount_minor, currency), money(result.balance_minor, currency)]],
        ),
    )


@app.command("apply-invoice")
def apply_invoice(
    account_id: str,
    invoice_id: str,
    total: Annotated[str, typer.Argument(help='Invoice total, e.g. "40.00"; zero is valid.')],
    currency: Currency,
    as_json: JsonFlag = False,
) -> None:
    """Apply available credits to an invoice and show what is still due."""
    with user_errors():
        total_minor = to_minor(total, currency, allow_zero=True)
        result = ledger().apply_invoice(account_id, invoice_id, currency, total_minor)
    emit(
        as_json,
        result.to_json(),
        lambda: table(
            f"Invoice {invoice_id}" + ("" if result.is_new else " (already decided)"),
            ["account", "total", "credits applied", "amount due", "balance"],
            [
                [
                    account_id,
                    money(result.invoice_total_minor, currency),
                    money(result.credits_applied_minor, currency),
                    money(result.amount_due_minor, currency),
                    money(result.balance_minor, currency),
                ]
            ],
        ),
    )


@app.command("buy-calling-credits")
def buy_calling_credits(
    account_id: str,
    price: Annotated[str, typer.Argument(help='Price of the calling credits, e.g. "10.00".')],
    currency: Currency,
    purchase_id: Annotated[str, typer.Option("--purchase-id", help="Idempotency key of this purchase.")],
    as_json: JsonFlag = False,
) -> None:
    """Buy calling credits, paying with promotional credits first."""
    with user_errors():
        result = ledger().buy_calling_credits(account_id, purchase_id, currency, to_minor(price, currency))
    emit(
        as_json,
        result.to_json(),
        lambda: table(
            f"Calling-credit purchase {purchase_id}" + ("" if result.is_new else " (already recorded)"),
            ["account", "price", "credits used", "amount due", "balance"],
            [
                [
                    account_id,
                    money(result.price_minor, currency),
                    money(result.credits_used_minor, currency),
                    money(result.amount_due_minor, currency),
                    money(result.balance_minor, currency),
                ]
            ],
        ),
    )


@app.command()
def balance(account_id: str, as_json: JsonFlag = False) -> None:
    """Show an account's promotional-credit balances."""
    with user_errors():
        result = existing_ledger().balance(account_id)

    def render() -> None:
        if not result.visible:
            # What the dashboard shows then: nothing to spend.
            stdout.print(f"{account_id} has no promotional credits.", markup=False)
            return
        table(
            f"Account {account_id}",
            ["currency", "balance"],
            [[b.currency, money(b.balance_minor, b.currency)] for b in result.balances],
        )

    emit(as_json, result.to_json(), render)


@app.command()
def history(account_id: str, as_json: JsonFlag = False) -> None:
    """Show every ledger entry of an account, oldest first."""
    with user_errors():
        entries = existing_ledger().entries(account_id)
    emit(
        as_json,
        {"account_id": account_id, "entries": [e.history_json() for e in entries]},
        lambda: table(
            f"History of {account_id}",
            ["when", "type", "key", "amount", "invoice total", "due", "balance"],
            [
                [
                    rfc3339(e.occurred_at),
                    e.kind,
                    e.key,
                    money(e.amount_minor, e.currency),
                    optional_money(e.invoice_total_minor, e.currency),
                    optional_money(e.amount_due_minor, e.currency),
                    money(e.balance_after_minor, e.currency),
                ]
                for e in entries
            ],
        ),
    )
