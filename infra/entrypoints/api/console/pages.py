"""The support console's pages: sign-in, look-up, account, explanation,
invoice, grant.

Every page reads and writes through the same ports as the /v1 routes (the
views for balances and history, the ledger's grant and its store-wide invoice
look-up, the explanation), and enforces the same roles: any role reads, only
an operator grants.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from application.entries import INVOICE, RESTORE, LedgerEntry
from application.explanation import Explainer
from application.money import to_minor, with_currency
from application.results import InvoiceLookup
from domain.credit_account import NO_CURRENCY, CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError
from domain.rules import GRANT_REASONS, check_currency, check_key
from infra.entrypoints.api.auth import READ_ACCOUNTS, WRITE_ACCOUNTS
from infra.entrypoints.api.console.forms import ConsoleError, form_fields, page_size, query, required
from infra.entrypoints.api.console.session import Session, Sessions
from infra.entrypoints.api.routes import AccountWriter
from projections.changes import entry_from_row
from projections.cursor import InvalidCursorError, history_page
from projections.ports import ViewStore

log = logging.getLogger("promocredits.api")

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Pages show balances to signed-in staff: never cached, framed or referred.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
HISTORY_PAGE = 10
LARGEST_HISTORY_PAGE = 100


@dataclass(frozen=True)
class ConsolePorts:
    tokens: dict[str, str]
    views: Callable[[], ViewStore]
    writer: Callable[[], AccountWriter]
    explainer: Callable[[], Explainer]


@dataclass(frozen=True)
class Visit:
    """One request's session and role (None: not signed in)."""

    request: Request
    session: Session
    role: str | None


def money(minor: int | None, currency: str) -> str:
    return "" if minor is None else with_currency(minor, currency)


def history_line(entry: LedgerEntry) -> dict[str, str]:
    line = {
        "kind": entry.kind.replace("_", " "),
        "key": entry.key,
        "amount": money(entry.amount_minor, entry.currency),
        "total": money(
            entry.invoice_total_minor if entry.kind == INVOICE else entry.price_minor, entry.currency
        ),
        "due": money(entry.amount_due_minor, entry.currency),
        "balance": money(entry.balance_after_minor, entry.currency),
        "when": _stamp(entry.occurred_at),
        # Invoices and their voids link to the invoice's page.
        "invoice": entry.key if entry.kind in (INVOICE, RESTORE) else "",
    }
    if entry.kind == RESTORE:
        line["kind"] = "restore (invoice voided)"
        if entry.currency == NO_CURRENCY:
            # Voided before it was issued: no currency, nothing given back, no balance moved.
            line.update(kind="void before the invoice", amount="none", balance="")
    return line


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def console_router(ports: ConsolePorts) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    sessions = Sessions(ports.tokens)

    def render(visit: Visit, template: str, code: int = 200, **context: Any) -> Response:
        response = TEMPLATES.TemplateResponse(
            visit.request,
            template,
            {"csrf": visit.session.csrf, "role": visit.role, **context},
            status_code=code,
        )
        response.headers.update(_PAGE_HEADERS)
        if not visit.session.stored:
            sessions.store(response, visit.session)
        return response

    async def guarded(
        request: Request, roles: frozenset[str] | None, work: Callable[[Visit], Response]
    ) -> Response:
        """Runs ``work`` for a visitor with one of ``roles`` (None: anyone) on
        a worker thread; every refusal and failure becomes a page."""
        session = sessions.read(request)
        visit = Visit(request, session, sessions.role(session))
        if roles is not None and visit.role is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        try:
            if roles is not None and visit.role not in roles:
                raise ConsoleError(403, f"the {visit.role} role may not do this")
            return await run_in_threadpool(work, visit)
        except ConsoleError as error:
            return render(visit, "error.html", error.status, status=error.status, message=error.message)
        except (InvalidCommandError, InvalidCursorError) as error:
            return render(visit, "error.html", 422, status=422, message=str(error))
        except IdempotencyConflictError as error:
            return render(visit, "error.html", 409, status=409, message=str(error))
        except PersistenceError:
            log.warning("console: a database is unavailable", exc_info=True)
            message = "a database is unavailable; retry later"
            return render(visit, "error.html", 503, status=503, message=message)
        except LedgerError as error:
            return render(visit, "error.html", 500, status=500, message=str(error))
        except Exception as error:
            log.exception("console: unexpected error")
            message = f"unexpected error: {type(error).__name__}"
            return render(visit, "error.html", 500, status=500, message=message)

    async def posted(
        request: Request, roles: frozenset[str] | None, work: Callable[[Visit, dict[str, str]], Response]
    ) -> Response:
        """A form POST: the CSRF token must match the session's, before anything is done."""
        try:
            fields = await form_fields(request)
        except ConsoleError as error:
            failure = error

            def refuse(visit: Visit) -> Response:
                raise failure

            return await guarded(request, roles, refuse)

        def checked(visit: Visit) -> Response:
            if not sessions.csrf_ok(visit.session, fields.get("csrf")):
                raise ConsoleError(
                    403, "the form was refused: its security token is missing or stale; reload the page"
                )
            return work(visit, fields)

        return await guarded(request, roles, checked)

    @router.get("")
    async def home(request: Request) -> Response:
        return await guarded(request, READ_ACCOUNTS, lambda visit: render(visit, "home.html"))

    @router.get("/sign-in")
    async def sign_in_form(request: Request) -> Response:
        return await guarded(request, None, lambda visit: render(visit, "sign_in.html"))

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        def enter(visit: Visit, fields: dict[str, str]) -> Response:
            session = sessions.sign_in(fields.get("token", "").strip())
            if session is None:
                return render(visit, "sign_in.html", 401, message="That token is not valid.")
            response = RedirectResponse("/console", status_code=303)
            sessions.store(response, session)
            return response

        return await posted(request, None, enter)

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        def leave(visit: Visit, fields: dict[str, str]) -> Response:
            response = RedirectResponse("/console/sign-in", status_code=303)
            sessions.clear(response)
            return response

        return await posted(request, None, leave)

    @router.get("/account")
    async def account(request: Request) -> Response:
        def show(visit: Visit) -> Response:
            account_id = _account_id(query(request, "account_id"))
            limit = page_size(request, HISTORY_PAGE, LARGEST_HISTORY_PAGE)
            cursor = query(request, "cursor")
            account_uuid = str(CreditAccount.id_for(account_id))
            store = ports.views()
            view = store.account(account_uuid)
            page, next_cursor = history_page(store, account_uuid, limit, cursor)
            return render(
                visit,
                "account.html",
                account_id=account_id,
                known=view is not None,
                visible=bool(view and view.visible),
                balances=[
                    {
                        "currency": b.currency,
                        "balance": money(b.balance_minor, b.currency),
                        "granted": money(b.granted_minor, b.currency),
                        "applied": money(b.applied_minor, b.currency),
                        "calling": money(b.calling_credits_minor, b.currency),
                        "restored": money(b.restored_minor, b.currency),
                    }
                    for b in (view.balances if view else [])
                ],
                history=[history_line(entry_from_row(row)) for row in page],
                limit=limit,
                first_page=cursor is None,
                next_cursor=next_cursor,
                may_grant=visit.role in WRITE_ACCOUNTS,
            )

        return await guarded(request, READ_ACCOUNTS, show)

    @router.get("/explanation")
    async def explanation(request: Request) -> Response:
        def show(visit: Visit) -> Response:
            given = query(request, "account_id")
            if not given:
                raise ConsoleError(422, "enter an account id")
            explained = ports.explainer().explain(given)
            totals = [
                {
                    "currency": b.currency,
                    "granted": money(b.granted_minor, b.currency),
                    "used": money(b.used_minor, b.currency),
                    "restored": money(b.restored_minor, b.currency),
                    "balance": b.balance,
                }
                for b in explained.balances
            ]
            return render(visit, "explanation.html", explained=explained, totals=totals)

        return await guarded(request, READ_ACCOUNTS, show)

    @router.get("/invoice")
    async def invoice(request: Request) -> Response:
        def show(visit: Visit) -> Response:
            invoice_id = (query(request, "invoice_id") or "").strip()
            if not invoice_id:
                raise ConsoleError(422, "enter an invoice id")
            found = ports.writer().invoice(invoice_id)  # the ledger checks the id: 422
            return render(
                visit,
                "invoice.html",
                200 if found else 404,
                invoice_id=invoice_id,
                decision=_decision(found) if found else None,
            )

        return await guarded(request, READ_ACCOUNTS, show)

    @router.get("/grant")
    async def grant_form(request: Request) -> Response:
        def show(visit: Visit) -> Response:
            account_id = _account_id(query(request, "account_id"))
            return render(visit, "grant.html", account_id=account_id, **_grant_defaults())

        return await guarded(request, WRITE_ACCOUNTS, show)

    @router.post("/grant")
    async def grant(request: Request) -> Response:
        def record(visit: Visit, fields: dict[str, str]) -> Response:
            account_id = _account_id(fields.get("account_id"))
            currency = required(fields, "currency", "the currency")
            check_currency(currency)
            amount_minor = to_minor(required(fields, "amount", "the amount"), currency)
            grant_id = required(fields, "grant_id", "the grant id")
            reason, note = fields.get("reason", ""), fields.get("note", "")
            result = ports.writer().grant(account_id, grant_id, currency, amount_minor, reason, note)
            return render(
                visit,
                "granted.html",
                201 if result.is_new else 200,
                account_id=account_id,
                grant_id=result.grant_id,
                new=result.is_new,
                amount=money(result.amount_minor, result.currency),
                balance=money(result.balance_minor, result.currency),
            )

        return await posted(request, WRITE_ACCOUNTS, record)

    return router


def _account_id(given: str | None) -> str:
    account_id = (given or "").strip()
    if not account_id:
        raise ConsoleError(422, "enter an account id")
    check_key("account_id", account_id)
    return account_id


def _grant_defaults() -> dict[str, Any]:
    # A fresh id per form: submitting the same form twice records one grant.
    return {"grant_id": f"grant-{uuid.uuid4().hex[:16]}", "reasons": GRANT_REASONS}


def _decision(found: InvoiceLookup) -> dict[str, Any]:
    """An invoice's recorded decision and its void, in major units for people."""
    currency = found.currency
    return {
        "account_id": found.account_id,
        "total": money(found.invoice_total_minor, currency),
        "applied": money(found.credits_applied_minor, currency),
        "due": money(found.amount_due_minor, currency),
        "balance": money(found.balance_after_minor, currency),
        "when": _stamp(datetime.fromisoformat(found.decided_at)),
        "voided": found.voided,
        "restored": money(found.credits_restored_minor, currency),
    }
