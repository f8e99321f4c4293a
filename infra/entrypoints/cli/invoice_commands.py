"""Commands about one invoice: void-invoice, and invoice, which shows its
recorded decision."""

from __future__ import annotations

import typer

from infra.entrypoints.cli.context import existing_ledger, ledger
from infra.entrypoints.cli.output import (
    EXIT_FAILURE,
    JsonFlag,
    emit,
    fail,
    money,
    optional_money,
    table,
    user_errors,
)

app = typer.Typer()


@app.command("void-invoice")
def void_invoice(account_id: str, invoice_id: str, as_json: JsonFlag = False) -> None:
    """Record that an invoice was voided: the credits it used come back."""
    with user_errors():
        result = ledger().void_invoice(account_id, invoice_id)
    currency = result.currency
    emit(
        as_json,
        result.to_json(),
        lambda: table(
            f"Void of invoice {invoice_id}" + ("" if result.is_new else " (already recorded)"),
            ["account", "credits restored", "balance"],
            [
                [
                    account_id,
                    money(result.credits_restored_minor, currency),
                    money(result.balance_minor, currency),
                ]
            ],
        ),
    )


@app.command()
def invoice(invoice_id: str, as_json: JsonFlag = False) -> None:
    """Show the decision recorded for an invoice, and its void if any."""
    with user_errors():
        found = existing_ledger().invoice(invoice_id)
    if found is None:
        fail(f"no decision is recorded for invoice {invoice_id!r}", EXIT_FAILURE)
    currency = found.currency
    emit(
        as_json,
        found.to_json(),
        lambda: table(
            f"Invoice {invoice_id} of {found.account_id}, decided at {found.decided_at}",
            ["total", "credits applied", "amount due", "balance after", "voided", "credits restored"],
            [
                [
                    money(found.invoice_total_minor, currency),
                    money(found.credits_applied_minor, currency),
                    money(found.amount_due_minor, currency),
                    money(found.balance_after_minor, currency),
                    "yes" if found.voided else "no",
                    optional_money(found.credits_restored_minor, currency),
                ]
            ],
        ),
    )
