"""GET /v1/invoices/{invoice_id}/promotional-credits: an invoice's recorded
decision and its void, read from the ledger itself (never from the views), so
billing can ask what was decided right after it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException

from infra.entrypoints.api.models import InvoiceResponse
from infra.entrypoints.api.routes import AccountWriter, _problems


def invoices_router(ledger: Callable[[], AccountWriter], authorized: Any) -> APIRouter:
    # "any_text", as for accounts: an id holding "/" is refused by the id
    # check with a 422, not routed to a 404.
    router = APIRouter(
        prefix="/v1/invoices/{invoice_id:any_text}", tags=["invoices"], dependencies=[authorized]
    )

    @router.get("/promotional-credits", response_model=InvoiceResponse, responses=_problems(404))
    def invoice(invoice_id: str) -> dict[str, Any]:
        """The invoice's decision (credits applied, amount due) and whether it was voided.

        404 while no decision is recorded: an unknown invoice, or one voided
        before it was generated."""
        found = ledger().invoice(invoice_id)  # the ledger checks the id: 422
        if found is None:
            raise HTTPException(404, f"no decision is recorded for invoice {invoice_id!r}")
        return found.to_json()

    return router
