"""GET /v1/accounts/{id}/promotional-credits/explanation against a real
server, on SQLite and on PostgreSQL: close matches come from the views."""

from __future__ import annotations

from pathlib import Path

import httpx

from infra.adapters.views.account_ids import ViewsAccountIds
from infra.settings import Settings
from infra.wiring.container import Container
from tests.integration.test_api import OPERATOR, READER, Api, api
from tests.views_support import views_url_for

__all__ = ["api"]

PATH = "/v1/accounts/{}/promotional-credits/explanation"


def test_a_known_account_is_explained_from_the_ledger(api: Api) -> None:
    # given 30.00 USD granted and 12.00 of it applied to an invoice
    assert api.grant("acct-Alice", "grant-001", 3000, "compensation").status_code == 201
    assert api.buy("acct-Alice", "buy-001", 1200).status_code == 201
    # when support asks for the explanation (before the views catch up)
    answer = api.get(PATH.format("acct-Alice"))
    # then it is read from the ledger itself: visible, with the grant and the purchase
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["known"] is True and body["visible"] is True
    assert body["balances"] == [
        {
            "currency": "USD",
            "balance_minor": 1800,
            "balance": "18.00 USD",
            "granted_minor": 3000,
            "used_minor": 1200,
            "restored_minor": 0,
        }
    ]
    assert [(g["grant_id"], g["amount_minor"], g["reason"]) for g in body["grants"]] == [
        ("grant-001", 3000, "compensation")
    ]
    assert [(u["purchase_id"], u["amount_minor"]) for u in body["usage"]] == [("buy-001", 1200)]
    assert body["sentences"][0].startswith("The dashboard shows promotional credits for 'acct-Alice'")
    assert body["close_matches"] == []


def test_a_voided_invoice_is_a_restore_fact_as_the_openapi_describes(api: Api) -> None:
    # given 30.00 USD granted, an invoice of 12.00 that used it, then voided
    assert api.grant("acct-Vera", "grant-001", 3000, "compensation").status_code == 201
    api.container.ledger.apply_invoice("acct-Vera", "inv-2026-001", "USD", 1200)
    voided = api.post("/v1/accounts/acct-Vera/promotional-credits/voids", {"invoice_id": "inv-2026-001"})
    assert voided.status_code == 201, voided.text
    # and a void of an invoice not generated yet
    early = api.post("/v1/accounts/acct-Vera/promotional-credits/voids", {"invoice_id": "inv-2026-002"})
    assert early.status_code == 201, early.text
    # when explained
    body = api.get(PATH.format("acct-Vera")).json()
    # then both voids are restores, with their sentences, and none is an other entry
    assert [
        (r["invoice_id"], r["currency"], r["credits_restored_minor"], r["before_invoice"])
        for r in body["restores"]
    ] == [("inv-2026-001", "USD", 1200, False), ("inv-2026-002", "XXX", 0, True)]
    assert any(
        s.endswith(
            "invoice inv-2026-001 was voided and its 12.00 USD of credits were given back; "
            "the balance became 30.00 USD."
        )
        for s in body["sentences"]
    )
    assert any("invoice inv-2026-002 was voided before it was issued" in s for s in body["sentences"])
    assert [(b["currency"], b["restored_minor"], b["balance_minor"]) for b in body["balances"]] == [
        ("USD", 1200, 3000)
    ]
    # and the OpenAPI names exactly the fields a restore has
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    restore_fields = set(schemas["ExplainedRestore"]["properties"])
    assert restore_fields == set(body["restores"][0])
    assert set(schemas["ExplainedBalance"]["properties"]) == set(body["balances"][0])
    assert "restores" in schemas["ExplanationResponse"]["properties"]


def test_an_unknown_account_is_a_200_naming_the_ids_that_differ_in_case(api: Api) -> None:
    # given credits granted to "acct-Alice" and the views caught up
    assert api.grant("acct-Alice", "grant-001", 3000).status_code == 201
    api.project()
    # when support asks about "ACCT-alice", and about " acct-Alice " with spaces
    typed = api.get(PATH.format("ACCT-alice")).json()
    spaced = api.get(PATH.format("%20acct-Alice%20")).json()
    # then each is unknown and hidden, and names the account it probably meant
    for body in (typed, spaced):
        assert body["known"] is False and body["visible"] is False
        assert body["close_matches"] == ["acct-Alice"]
        assert body["grants"] == body["usage"] == []
    assert spaced["account_id"] == " acct-Alice "
    # and an id nothing resembles has none
    assert api.get(PATH.format("acct-nobody")).json()["close_matches"] == []


def test_the_explanation_needs_a_token_and_is_read_only(api: Api) -> None:
    # no token, or an unknown one: 401 with a challenge
    for token in (None, "tok-guess"):
        answer = api.get(PATH.format("acct-alice"), token=token)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
    # every role reads it
    for token in (READER, OPERATOR, "tok-auditor"):
        assert api.get(PATH.format("acct-alice"), token=token).status_code == 200
    # a reader may not write to it (403); an operator finds nothing to write (405)
    url = api.base + PATH.format("acct-alice")
    assert httpx.post(url, headers={"Authorization": f"Bearer {READER}"}, json={}).status_code == 403
    assert httpx.post(url, headers={"Authorization": f"Bearer {OPERATOR}"}, json={}).status_code == 405


def test_an_invalid_account_id_is_422_with_a_clear_detail(api: Api) -> None:
    for given, detail in [
        ("bad!", "account_id must be 1-128 characters"),
        ("a" * 129, "account_id must be 1-128 characters"),
        ("%00acct", "account_id must be 1-128 characters"),
        ("x" * 300, "account_id must be at most 256 characters"),
    ]:
        answer = api.get(PATH.format(given))
        assert answer.status_code == 422, (given, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert detail in answer.json()["detail"]


def test_close_matches_are_found_through_the_index_not_a_scan(store_url: str, tmp_path: Path) -> None:
    # given the views of either database
    settings = Settings(database_url=store_url, views_database_url=views_url_for(store_url, str(tmp_path)))
    container = Container(settings)
    try:
        recorder = container.views.recorder
        statement = ViewsAccountIds(recorder)._statement
        params = {"folded": "acct-alice", "limit": 10}
        # when the database plans the close-match look-up
        with recorder._transaction(commit=False) as c:
            if store_url.startswith("sqlite"):
                c.execute("EXPLAIN QUERY PLAN " + statement, params)
            else:
                # (a tiny table is cheaper to scan: the test asks whether the index can serve it)
                c.execute("SET LOCAL enable_seqscan = off")
                c.execute("EXPLAIN " + statement, params)
            plan = " ".join(str(value) for row in c.fetchall() for value in dict(row).values())
        # then it uses the index on the folded id
        assert "view_accounts_folded_id" in plan, plan
    finally:
        container.close()
