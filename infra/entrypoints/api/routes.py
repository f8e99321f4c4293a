"""The /v1 routes: balances and history from the views, writes through the ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from starlette.convertors import Convertor, register_url_convertor

from application.money import check_known_currency
from application.results import GrantResult, InvoiceLookup, PurchaseResult, VoidResult
from domain.credit_account import CreditAccount
from domain.rules import check_currency, check_key
from infra.entrypoints.api.models import (
    BalanceResponse,
    DailyResponse,
    GrantRequest,
    GrantResponse,
    HistoryResponse,
    LiabilityResponse,
    Problem,
    PurchaseRequest,
    PurchaseResponse,
    VoidRequest,
    VoidResponse,
)
from projections.cursor import history_page
from projections.ledger_views import history_entry_from_row
from projections.ports import ViewStore


class _AnyText(Convertor[str]):
    """Any text, "/" and newlines included. Starlette's ":path" stops at a
    newline, and an id holding one must reach the id check and get its 422,
    not a 404 that suggests the route does not exist."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("any_text", _AnyText())


def _uuid(account_id: str) -> str:
    return str(CreditAccount.id_for(account_id))


def _checked_account_id(account_id: str) -> str:
    # Every route takes the same ids as the ledger and the CLI: a GET must
    # not answer for an id that no write could ever have recorded.
    check_key("account_id", account_id)
    return account_id


_PROBLEM_DESCRIPTIONS = {
    400: "The body could not be read as JSON text (it is not UTF-8, say)",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    413: "The request body is too large",
    414: "The path and query are too long",
    404: "No such resource",
    422: "Invalid request",
    431: "The request headers are too large",
    503: "A database is unavailable; retry later",
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers every /v1 route may give, plus
    ``statuses``; all problem+json (see infra.entrypoints.api.openapi)."""
    every = sorted({401, 403, 414, 422, 431, 503, *statuses})
    return {status: {"model": Problem, "description": _PROBLEM_DESCRIPTIONS[status]} for status in every}


def _write(what: str) -> dict[str, Any]:
    """Route options of an idempotent write: 201 when recorded, 200 on replay."""
    return {
        "status_code": 201,
        "responses": {
            200: {"description": f"Identical replay of an earlier {what}"},
            **_problems(400, 413),
            409: {"model": Problem, "description": f"The {what} id was recorded with different content"},
        },
    }


def _answer(result: GrantResult | PurchaseResult | VoidResult, response: Response) -> dict[str, Any]:
    response.status_code = 201 if result.is_new else 200
    return result.to_json()


class AccountWriter(Protocol):
    """The ledger's writes the API offers, and the one read that must come
    from the ledger itself rather than the views (an invoice's decision)."""

    def grant(
        self, account_id: str, grant_id: str, currency: str, amount_minor: int, reason: str, note: str = ""
    ) -> GrantResult: ...

    def buy_calling_credits(
        self, account_id: str, purchase_id: str, currency: str, price_minor: int
    ) -> PurchaseResult: ...

    def void_invoice(self, account_id: str, invoice_id: str) -> VoidResult: ...

    def invoice(self, invoice_id: str) -> InvoiceLookup | None: ...


def accounts_router(
    views: Callable[[], ViewStore], writer: Callable[[], AccountWriter], authorized: Any
) -> APIRouter:
    # Not a plain "{account_id}", so that account ids containing "/" (allowed
    # by the ledger) route too.
    router = APIRouter(
        prefix="/v1/accounts/{account_id:any_text}",
        tags=["accounts"],
        dependencies=[authorized, Depends(_checked_account_id)],
    )
    # Requests run on a thread pool and write concurrently: the ledger hands
    # each unit of work its own copy of an account, and the store's
    # optimistic concurrency orders writers of one account, in this process
    # or any other.

    @router.get("/promotional-credits", response_model=BalanceResponse, responses=_problems())
    def balance(account_id: str) -> dict[str, Any]:
        """The account's balances as the dashboard shows them (from the views)."""
        view = views().account(_uuid(account_id))
        if view is None:
            return {"account_id": account_id, "visible": False, "balances": [], "last_activity_at": None}
        return {
            "account_id": account_id,
            "visible": view.visible,
            "balances": [asdict(b) for b in view.balances],
            "last_activity_at": view.last_activity_at,
        }

    @router.get("/promotional-credits/history", response_model=HistoryResponse, responses=_problems())
    def history(
        account_id: str,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> dict[str, Any]:
        """Usage history, newest first; pages stay stable while entries arrive."""
        page, next_cursor = history_page(views(), _uuid(account_id), limit, cursor)
        return {"entries": [history_entry_from_row(row) for row in page], "next_cursor": next_cursor}

    @router.post("/promotional-credits/grants", response_model=GrantResponse, **_write("grant"))
    def grant(account_id: str, body: GrantRequest, response: Response) -> dict[str, Any]:
        """Grant credits; the answer carries the ledger's balance (read-your-writes)."""
        result = writer().grant(
            account_id, body.grant_id, body.currency, body.amount_minor, body.reason, body.note
        )
        return _answer(result, response)

    void_options = _write("void")
    void_options["responses"][409] = {
        "model": Problem,
        "description": "The invoice was decided or voided for another account",
    }

    @router.post("/promotional-credits/voids", response_model=VoidResponse, **void_options)
    def void_invoice(account_id: str, body: VoidRequest, response: Response) -> dict[str, Any]:
        """Record that an invoice was voided: the credits it used come back (once)."""
        return _answer(writer().void_invoice(account_id, body.invoice_id), response)

    @router.post("/calling-credit-purchases", response_model=PurchaseResponse, **_write("purchase"))
    def buy_calling_credits(account_id: str, body: PurchaseRequest, response: Response) -> dict[str, Any]:
        """Buy calling credits with promotional credits first, the rest due."""
        result = writer().buy_calling_credits(account_id, body.purchase_id, body.currency, body.price_minor)
        return _answer(result, response)

    return router


def analytics_router(views: Callable[[], ViewStore], authorized: Any) -> APIRouter:
    router = APIRouter(
        prefix="/v1/analytics",
        tags=["analytics"],
        dependencies=[authorized],
        responses=_problems(),
    )

    @router.get("/daily", response_model=DailyResponse)
    def daily(
        currency: Annotated[str | None, Query(description="ISO 4217 code", examples=["USD"])] = None,
        from_day: Annotated[date | None, Query(alias="from", description="First UTC day, YYYY-MM-DD")] = None,
        to_day: Annotated[date | None, Query(alias="to", description="Last UTC day, YYYY-MM-DD")] = None,
    ) -> dict[str, Any]:
        """Per day and currency: granted by reason, applied, calling credits, invoices."""
        if from_day and to_day and from_day > to_day:
            raise HTTPException(422, f"from ({from_day}) is after to ({to_day})")
        if currency is not None:
            # As strict as a grant: "usd" or "ZZZ" would only ever match nothing.
            check_currency(currency)
            check_known_currency(currency)
        rows = views().daily(
            currency,
            from_day.isoformat() if from_day else None,
            to_day.isoformat() if to_day else None,
        )
        return {"days": [asdict(row) for row in rows]}

    @router.get("/liability", response_model=LiabilityResponse)
    def liability() -> dict[str, Any]:
        """Outstanding promotional credits (the sum of balances) per currency."""
        return {"liability": [asdict(row) for row in views().liability()]}

    return router
