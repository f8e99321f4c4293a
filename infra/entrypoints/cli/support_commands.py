"""Commands for support: explain why an account shows the credits it shows."""

from __future__ import annotations

from typing import Annotated

import typer

from application.explanation import Explainer, Explanation
from infra.entrypoints.cli.context import container, existing_ledger
from infra.entrypoints.cli.output import JsonFlag, emit, stdout, table, user_errors

app = typer.Typer()


@app.command()
def explain(
    account_id: Annotated[str, typer.Argument(help="The account id as the customer gave it.")],
    as_json: JsonFlag = False,
) -> None:
    """Why the dashboard shows (or hides) an account's promotional credits.

    An unknown account is explained too (exit 0), with any known account ids
    that differ only in case or whitespace.
    """
    with user_errors():
        explained = Explainer(existing_ledger(), container().known_accounts).explain(account_id)
    emit(as_json, explained.to_json(), lambda: _render(explained))


def _render(explained: Explanation) -> None:
    for sentence in explained.sentences:
        stdout.print(sentence, markup=False, soft_wrap=True)
    if explained.grants:
        table(
            "Grants",
            ["when", "grant", "reason", "amount", "balance after"],
            [
                [g["occurred_at"], g["grant_id"], g["reason"], g["amount"], g["balance"]]
                for g in explained.grants
            ],
        )
    used = explained.usage
    if used:
        table(
            "Where the credits went",
            ["when", "entry", "id", "credits", "balance after"],
            [[u["occurred_at"], u["type"], _key(u), u["amount"], u["balance"]] for u in used],
        )
    if explained.restores:
        table(
            "Voided invoices: credits given back",
            ["when", "invoice", "credits restored", "balance after"],
            [[r["occurred_at"], r["invoice_id"], _restored(r), r["balance"]] for r in explained.restores],
        )


def _restored(restore: dict[str, object]) -> object:
    return "voided before it was issued" if restore["before_invoice"] else restore["credits_restored"]


def _key(line: dict[str, object]) -> object:
    # The business key is the one field named after the entry's kind.
    return next((v for k, v in line.items() if k.endswith("_id") and k != "event_id"), "")
