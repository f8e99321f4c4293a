"""The console's session: a signed cookie that never holds the bearer token.

The cookie carries a per-session CSRF token and, once signed in, a keyed
fingerprint of the bearer token the operator typed. The role is looked up
again on every request from the configured tokens, so removing a token ends
its sessions at once. The signing key is derived from every configured token:
replicas with the same tokens accept each other's sessions, and nobody who
lacks any one of the tokens can forge a session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from infra.entrypoints.api.auth import role_of

COOKIE = "promocredits_console"
PATH = "/console"
# A working day; signing in again after it is cheap.
MAX_AGE_SECONDS = 8 * 3600
# A cookie larger than any this service issues is not read at all.
_MAX_COOKIE_CHARS = 512


@dataclass(frozen=True)
class Session:
    csrf: str
    # The keyed fingerprint of the token signed in with; None before sign-in.
    fingerprint: str | None = None
    # Whether the browser holds this session already, or it must be sent.
    stored: bool = True


class Sessions:
    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)
        material = "\n".join(sorted(self._tokens)).encode()
        self._key = hmac.new(b"promocredits-console-session", material, hashlib.sha256).digest()
        self._signer = URLSafeTimedSerializer(self._key, salt="console-session")
        # Fingerprint to role, computed once: the tokens do not change while serving.
        self._roles = [(self._fingerprint(token), role) for token, role in self._tokens.items()]

    def _fingerprint(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def read(self, request: Request) -> Session:
        """The request's session, or a new anonymous one (not yet stored)
        when the cookie is missing, expired, forged or malformed."""
        cookie = request.cookies.get(COOKIE, "")
        if cookie and len(cookie) <= _MAX_COOKIE_CHARS:
            try:
                data = self._signer.loads(cookie, max_age=MAX_AGE_SECONDS)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("c"), str):
                fingerprint = data.get("f")
                return Session(data["c"], fingerprint if isinstance(fingerprint, str) else None)
        return Session(secrets.token_urlsafe(32), None, stored=False)

    def role(self, session: Session) -> str | None:
        """The role of the token the session signed in with, if still configured."""
        if session.fingerprint is None:
            return None
        found = None
        for fingerprint, role in self._roles:
            if hmac.compare_digest(fingerprint, session.fingerprint):
                found = role
        return found

    def sign_in(self, token: str) -> Session | None:
        """A new session for a valid token (with a new CSRF token), else None."""
        if role_of(token, self._tokens) is None:
            return None
        return Session(secrets.token_urlsafe(32), self._fingerprint(token), stored=False)

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return session.stored and given is not None and hmac.compare_digest(session.csrf, given)

    def store(self, response: Response, session: Session) -> None:
        value = self._signer.dumps({"c": session.csrf, "f": session.fingerprint})
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE_SECONDS,
            path=PATH,
            secure=True,
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path=PATH, secure=True, httponly=True, samesite="strict")
