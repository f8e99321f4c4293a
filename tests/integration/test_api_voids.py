"""Voids and per-invoice lookups over HTTP, against a real uvicorn server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.integration.test_api import ALICE, AUDITOR, OPERATOR, READER, Api, api, assert_problem

__all__ = ["api"]

BOB = "acct-bob"


def void(api: Api, account: str, invoice_id: str, token: str | None = OPERATOR):  # type: ignore[no-untyped-def]
    return api.post(f"/v1/accounts/{account}/promotional-credits/voids", {"invoice_id": invoice_id}, token)


def lookup(api: Api, invoice_id: str, token: str | None = READER):  # type: ignore[no-untyped-def]
    return api.get(f"/v1/invoices/{invoice_id}/promotional-credits", token)


def test_a_void_is_created_then_replayed_and_gives_back_what_the_invoice_used(api: Api) -> None:
    # given alice's invoice used 25.00 of her credits
    api.grant(ALICE, "grant-001", 2500)
    api.container.ledger.apply_invoice(ALICE, "inv-2026-001", "USD", 4000)
    # when the invoice is voided over HTTP
    created = void(api, ALICE, "inv-2026-001")
    # then the void is created and the ledger's balance comes back with it
    assert created.status_code == 201, created.text
    assert created.json() == {
        "account_id": ALICE,
        "invoice_id": "inv-2026-001",
        "currency": "USD",
        "credits_restored_minor": 2500,
        "balance_minor": 2500,
    }
    # and the same void again is an identical replay
    again = void(api, ALICE, "inv-2026-001")
    assert (again.status_code, again.json()) == (200, created.json())
    # and the views show the restore in the history and the balance totals
    api.project()
    history = api.get(f"/v1/accounts/{ALICE}/promotional-credits/history").json()["entries"]
    assert [e["type"] for e in history] == ["restore", "invoice", "grant"]
    balances = api.get(f"/v1/accounts/{ALICE}/promotional-credits").json()["balances"]
    assert (balances[0]["balance_minor"], balances[0]["restored_minor"]) == (2500, 2500)
    days = api.get("/v1/analytics/daily", AUDITOR).json()["days"]
    assert sum(d["restored_minor"] for d in days) == 2500
    liability = api.get("/v1/analytics/liability", AUDITOR).json()["liability"]
    assert liability == [{"currency": "USD", "liability_minor": 2500, "accounts_with_balance": 1}]


def test_a_void_for_another_account_is_409_and_a_bad_one_422_and_only_operators_void(api: Api) -> None:
    api.container.ledger.apply_invoice(ALICE, "inv-2026-002", "USD", 100)
    assert_problem(void(api, BOB, "inv-2026-002"), 409, "another account")
    assert_problem(void(api, BOB, "not an id"), 422, "invoice_id")
    assert void(api, BOB, "inv-2026-003", token=READER).status_code == 403
    assert void(api, BOB, "inv-2026-003", token=None).status_code == 401
    # and none of them recorded anything
    assert api.container.ledger.account(BOB) is None


def test_the_invoice_lookup_answers_the_recorded_decision_and_its_void(api: Api) -> None:
    # given a decided invoice
    api.grant(ALICE, "grant-001", 1000)
    api.container.ledger.apply_invoice(ALICE, "inv-2026-004", "USD", 2500)
    decided_at = api.container.ledger.history(ALICE)[-1]["occurred_at"]
    # when it is looked up, before and after its void (no projection needed)
    before = lookup(api, "inv-2026-004")
    void(api, ALICE, "inv-2026-004")
    after = lookup(api, "inv-2026-004", token=AUDITOR)
    # then it answers the ledger's decision, and the void once there is one
    assert before.status_code == 200, before.text
    assert before.json() == {
        "invoice_id": "inv-2026-004",
        "account_id": ALICE,
        "currency": "USD",
        "invoice_total_minor": 2500,
        "credits_applied_minor": 1000,
        "amount_due_minor": 1500,
        "balance_after_minor": 0,
        "decided_at": decided_at,
        "voided": False,
        "credits_restored_minor": None,
    }
    assert after.json() == {**before.json(), "voided": True, "credits_restored_minor": 1000}


@pytest.mark.parametrize("invoice_id", ["inv-never-seen", "inv-voided-early"])
def test_an_invoice_with_no_decision_is_404(api: Api, invoice_id: str) -> None:
    # (a void before its invoice is recorded, but is no decision)
    void(api, BOB, "inv-voided-early")
    assert_problem(lookup(api, invoice_id), 404, f"no decision is recorded for invoice {invoice_id!r}")


def test_the_invoice_lookup_refuses_bad_ids_and_strangers(api: Api) -> None:
    assert_problem(lookup(api, "not%20an%20id"), 422, "invoice_id")
    assert_problem(lookup(api, "a" * 129), 422, "invoice_id")
    assert lookup(api, "inv-2026-001", token=None).status_code == 401
    assert lookup(api, "inv-2026-001", token="tok-unknown").status_code == 401
    # every role reads invoices, as it reads accounts; no role may write there
    assert api.post("/v1/invoices/inv-2026-001/promotional-credits", {}, token=READER).status_code in (
        403,
        405,
    )


def test_the_lookup_and_the_void_are_named_as_responses_in_the_openapi(api: Api) -> None:
    # when the OpenAPI document is read
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    # then the lookup's answer is InvoiceResponse and the void's VoidResponse, as the routes name them
    assert {"InvoiceResponse", "VoidResponse", "GrantResponse", "PurchaseResponse"} <= set(schemas)
    assert "InvoiceLookup" not in schemas
