"""Every error as application/problem+json (RFC 9457) with a clear detail.

A problem echoes parts of the request (field names, values in messages), so
what it echoes is bounded: a hostile body must not buy a large answer, and
text that is not valid Unicode must not break the rendering of the refusal.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Send

from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError
from projections.cursor import InvalidCursorError

log = logging.getLogger("promocredits.api")

PROBLEM_JSON = "application/problem+json"

# Enough to fix a request by hand; a body of thousands of bad keys gets the
# first few and a count, never an answer the size of its question.
MAX_LISTED_ERRORS = 20
MAX_ECHOED_CHARS = 200
MAX_DETAIL_CHARS = 2000

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    414: "URI too long",
    422: "Invalid request",
    431: "Request header fields too large",
    500: "Internal server error",
    503: "Service unavailable",
}


def clip(text: str, limit: int = MAX_ECHOED_CHARS) -> str:
    """At most ``limit`` characters of valid UTF-8: lone surrogates (which
    JSON can carry but UTF-8 cannot) are shown escaped, not raised on."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _body(status: int, detail: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": clip(detail, MAX_DETAIL_CHARS),
        **extra,
    }


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(
        _body(status, detail, extra), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def send_problem(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """The same problem, sent straight to the ASGI server: for the refusals
    made before the application runs, which must never read the request."""
    payload = json.dumps(_body(status, detail, {}), ensure_ascii=False).encode()
    extra_headers = (headers or {}).items()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra_headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def _where(location: tuple[Any, ...] | list[Any]) -> str:
    return clip(".".join(str(part) for part in location if part != "body") or "body")


def _invalid_request_problem(error: RequestValidationError) -> JSONResponse:
    found = error.errors()
    listed = [{"field": _where(e["loc"]), "message": clip(str(e["msg"]))} for e in found[:MAX_LISTED_ERRORS]]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed)
    if len(found) > len(listed):
        detail += f"; and {len(found) - len(listed)} more errors"
    return problem(422, detail, errors=listed, errors_total=len(found))


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return _invalid_request_problem(error)

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
        log.warning("database unavailable: %s", clip(str(error), MAX_DETAIL_CHARS))
        return problem(503, "a database is unavailable; retry later")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem(500, f"unexpected error: {type(error).__name__}")
