"""Every error as application/problem+json (RFC 9457) with a clear detail."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError
from projections.cursor import InvalidCursorError

log = logging.getLogger("promocredits.api")

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid request",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _where(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": _where(e["loc"]), "message": e["msg"]} for e in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, detail, errors=errors)

    @app.exception_handler(InvalidCommandError)
    async def invalid_command(_: Request, error: InvalidCommandError) -> JSONResponse:
        return problem(422, str(error))

    @app.exception_handler(InvalidCursorError)
    async def invalid_cursor(_: Request, error: InvalidCursorError) -> JSONResponse:
        return problem(422, str(error))

    @app.exception_handler(IdempotencyConflictError)
    async def conflict(_: Request, error: IdempotencyConflictError) -> JSONResponse:
        return problem(409, str(error))

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, error: LedgerError) -> JSONResponse:
        return problem(500, str(error))

    @app.exception_handler(PersistenceError)
    async def store_down(_: Request, error: PersistenceError) -> JSONResponse:
        log.warning("database unavailable: %s", error)
        return problem(503, "a database is unavailable; retry later")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem(500, f"unexpected error: {type(error).__name__}")
