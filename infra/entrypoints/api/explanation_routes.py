"""GET /v1/accounts/{account_id}/promotional-credits/explanation: why an
account shows the credits it shows, for support."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from application.explanation import Explainer
from infra.entrypoints.api.models import ExplanationResponse
from infra.entrypoints.api.routes import _problems


def explanation_router(explainer: Callable[[], Explainer], authorized: Any) -> APIRouter:
    # Its own router, without the accounts router's strict id check: an id
    # that differs from a valid one only by whitespace gets an explanation
    # that names the account it probably meant, not a bare 422.
    router = APIRouter(
        prefix="/v1/accounts/{account_id:any_text}", tags=["accounts"], dependencies=[authorized]
    )

    @router.get("/promotional-credits/explanation", response_model=ExplanationResponse, responses=_problems())
    def explanation(account_id: str) -> dict[str, Any]:
        """Whether the dashboard shows credits and why, every grant, where the
        credits went, from the ledger itself. An unknown account is a 200 that
        says so, with any known ids differing only in case or whitespace."""
        return explainer().explain(account_id).to_json()

    return router
