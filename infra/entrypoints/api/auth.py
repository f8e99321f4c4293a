"""Bearer tokens mapped to roles; compared in constant time, never logged.

Who may do what is decided here once, by ``roles_for`` from the method and
the path, and applied twice: by ``BearerGate`` in front of the application,
before a byte of the body is read, and by the routes' dependency, which also
documents the scheme in the OpenAPI description.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.entrypoints.api.problems import send_problem
from infra.settings import API_ROLES

# The role names are the settings' (which check the configured tokens), in
# the order the settings list them.
READER, OPERATOR, AUDITOR = API_ROLES

# Who may do what: every role reads accounts and invoices; operators also
# write; auditors also see analytics.
ANY_ROLE = frozenset(API_ROLES)
READ_ACCOUNTS = ANY_ROLE
WRITE_ACCOUNTS = frozenset({OPERATOR})
READ_ANALYTICS = frozenset({AUDITOR})

_ACCOUNTS = "/v1/accounts/"
_ANALYTICS = "/v1/analytics"
_INVOICES = "/v1/invoices/"

_bearer = HTTPBearer(auto_error=False, description="A token from PROMOCREDITS_API_TOKENS")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def roles_for(method: str, path: str) -> frozenset[str] | None:
    """The roles admitted to ``method path``; None for the open routes
    (health, metrics, docs). Anything else under /v1 needs at least a valid
    token, so that an unknown route or method tells a stranger nothing."""
    if path != "/v1" and not path.startswith("/v1/"):
        return None
    if path.startswith(_ACCOUNTS):
        if method == "GET":
            return READ_ACCOUNTS
        if method == "POST":
            return WRITE_ACCOUNTS
    elif path.startswith(_INVOICES) and method == "GET":
        return READ_ACCOUNTS
    elif (path == _ANALYTICS or path.startswith(_ANALYTICS + "/")) and method == "GET":
        return READ_ANALYTICS
    return ANY_ROLE


def role_of(token: str, tokens: Mapping[str, str]) -> str | None:
    """The token's role. Every configured token is compared, each in constant
    time, so the answer's timing tells nothing about which one nearly matched."""
    found = None
    given = token.encode()
    for known, role in tokens.items():
        if hmac.compare_digest(given, known.encode()):
            found = role
    return found


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def refusal(
    scheme: str | None, token: str, roles: frozenset[str], tokens: Mapping[str, str]
) -> Refusal | None:
    """Why a request with this Authorization scheme and token may not go on,
    or None when its role is among ``roles``."""
    if scheme is None or scheme.lower() != "bearer" or not token:
        return Refusal(401, "a bearer token is required", _CHALLENGE)
    role = role_of(token, tokens)
    if role is None:
        return Refusal(401, "the bearer token is not valid", _CHALLENGE)
    if role not in roles:
        return Refusal(403, f"the {role} role may not do this")
    return None


def _authorization(scope: Scope) -> tuple[str | None, str]:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return scheme, token.strip()
    return None, ""


class BearerGate:
    """Refuses /v1 requests without a token of an admitted role from their
    headers alone: ``receive`` is never called, so a refused body is never
    read, however large."""

    def __init__(self, app: ASGIApp, tokens: Mapping[str, str]) -> None:
        self.app = app
        self.tokens = dict(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        roles = roles_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if roles is not None:
            scheme, token = _authorization(scope)
            refused = refusal(scheme, token, roles, self.tokens)
            if refused is not None:
                await send_problem(send, refused.status, refused.detail, refused.headers)
                return
        await self.app(scope, receive, send)


def authorizer(tokens: Mapping[str, str]) -> Any:
    """The dependency every /v1 route carries: the gate's decision again, by
    the same rule, and the bearer scheme in the OpenAPI description."""

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        roles = roles_for(request.scope["method"], request.scope["path"])
        scheme, token = (credentials.scheme, credentials.credentials) if credentials else (None, "")
        refused = refusal(scheme, token, roles or ANY_ROLE, tokens)
        if refused is not None:
            raise HTTPException(refused.status, refused.detail, headers=refused.headers or None)
        return role_of(token, tokens) or ""

    return Depends(check)
