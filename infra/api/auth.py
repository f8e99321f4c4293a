"""Bearer tokens mapped to roles; compared in constant time, never logged."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

READER = "reader"
OPERATOR = "operator"
AUDITOR = "auditor"

# Who may do what: every role reads accounts; operators also write; auditors
# also see analytics.
READ_ACCOUNTS = frozenset({READER, OPERATOR, AUDITOR})
WRITE_ACCOUNTS = frozenset({OPERATOR})
READ_ANALYTICS = frozenset({AUDITOR})

_bearer = HTTPBearer(auto_error=False, description="A token from PROMOCREDITS_API_TOKENS")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def role_of(token: str, tokens: Mapping[str, str]) -> str | None:
    """The token's role. Every configured token is compared, each in constant
    time, so the answer's timing tells nothing about which one nearly matched."""
    found = None
    given = token.encode()
    for known, role in tokens.items():
        if hmac.compare_digest(given, known.encode()):
            found = role
    return found


def requirer(tokens: Mapping[str, str]) -> Callable[[frozenset[str]], object]:
    """``require(roles)`` builds the dependency that admits only those roles."""

    def require(roles: frozenset[str]) -> object:
        def check(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> str:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise HTTPException(401, "a bearer token is required", headers=_CHALLENGE)
            role = role_of(credentials.credentials, tokens)
            if role is None:
                raise HTTPException(401, "the bearer token is not valid", headers=_CHALLENGE)
            if role not in roles:
                raise HTTPException(403, f"the {role} role may not do this")
            return role

        return Depends(check)

    return require
