"""The HTTP API against a real uvicorn server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.entrypoints.workers import parts
from infra.settings import Settings
from infra.wiring.container import Container
from tests.threads import CheckedThread
from tests.views_support import TOKENS, bearer, running_api, views_url_for

READER, OPERATOR, AUDITOR = "tok-reader", "tok-operator", "tok-auditor"
ALICE = "acct-alice"


@dataclass
class Api:
    base: str
    container: Container

    def get(self, path: str, token: str | None = READER, **params: Any) -> httpx.Response:
        headers = bearer(token) if token else {}
        return httpx.get(self.base + path, headers=headers, params=params, timeout=10)

    def post(self, path: str, body: dict[str, Any], token: str | None = OPERATOR) -> httpx.Response:
        headers = bearer(token) if token else {}
        return httpx.post(self.base + path, headers=headers, json=body, timeout=10)

    def grant(
        self, account: str, grant_id: str, amount: int, reason: str = "promotion", **extra: Any
    ) -> httpx.Response:
        body = {"grant_id": grant_id, "amount_minor": amount, "currency": "USD", "reason": reason, **extra}
        return self.post(f"/v1/accounts/{account}/promotional-credits/grants", body)

    def buy(self, account: str, purchase_id: str, price: int, currency: str = "USD") -> httpx.Response:
        body = {"purchase_id": purchase_id, "price_minor": price, "currency": currency}
        return self.post(f"/v1/accounts/{account}/calling-credit-purchases", body)

    def project(self) -> None:
        self.container.views_runner.catch_up()


@pytest.fixture
def api(store_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=store_url, views_database_url=views_url_for(store_url, str(tmp_path)), api_tokens=TOKENS
    )
    container = Container(settings)
    with running_api(container) as base:
        yield Api(base, container)
    container.close()


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert detail_part in body["detail"]


def test_a_grant_is_created_then_replayed_then_refused_when_it_differs(api: Api) -> None:
    # when a grant is posted for the first time
    created = api.grant(ALICE, "grant-001", 2500)
    # then it is created and the answer carries the ledger's new balance
    assert created.status_code == 201
    assert created.json() == {
        "account_id": ALICE,
        "grant_id": "grant-001",
        "currency": "USD",
        "amount_minor": 2500,
        "balance_minor": 2500,
    }
    # when the identical grant is posted again, then the same answer comes back as 200
    replay = api.grant(ALICE, "grant-001", 2500)
    assert replay.status_code == 200
    assert replay.json() == created.json()
    # when the same grant id comes with a different amount, then it is a conflict
    assert_problem(api.grant(ALICE, "grant-001", 9999), 409, "grant-001")
    # and nothing changed
    assert api.container.ledger.balance(ALICE).balances[0].balance_minor == 2500


@pytest.mark.parametrize(
    ("body_change", "detail_part"),
    [
        ({"amount_minor": -5}, "amount_minor"),
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": 12.5}, "amount_minor"),
        ({"amount_minor": "100"}, "amount_minor"),
        ({"currency": "XYZ"}, "XYZ"),
        ({"reason": "bribe"}, "reason"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_an_invalid_grant_is_422_with_a_clear_detail(
    api: Api, body_change: dict[str, Any], detail_part: str
) -> None:
    # given a grant body with one thing wrong
    body = {
        "grant_id": "grant-bad",
        "amount_minor": 100,
        "currency": "USD",
        "reason": "goodwill",
        **body_change,
    }
    # when it is posted, then it is refused as invalid and nothing is recorded
    assert_problem(api.post(f"/v1/accounts/{ALICE}/promotional-credits/grants", body), 422, detail_part)
    assert api.container.ledger.history(ALICE) == []


def test_a_grant_missing_a_field_is_422(api: Api) -> None:
    body = {"grant_id": "grant-002", "currency": "USD", "reason": "goodwill"}
    assert_problem(api.post(f"/v1/accounts/{ALICE}/promotional-credits/grants", body), 422, "amount_minor")


def test_a_calling_credit_purchase_uses_credits_first_and_follows_the_same_status_rules(api: Api) -> None:
    # given 10.00 of credits
    api.grant(ALICE, "grant-003", 1000)
    # when calling credits for 25.00 are bought
    bought = api.buy(ALICE, "purchase-001", 2500)
    # then credits pay 10.00 and 15.00 is due
    assert bought.status_code == 201
    assert bought.json() == {
        "account_id": ALICE,
        "purchase_id": "purchase-001",
        "currency": "USD",
        "price_minor": 2500,
        "credits_used_minor": 1000,
        "amount_due_minor": 1500,
        "balance_minor": 0,
    }
    assert api.buy(ALICE, "purchase-001", 2500).status_code == 200
    assert_problem(api.buy(ALICE, "purchase-001", 2600), 409, "purchase-001")
    assert_problem(api.buy(ALICE, "purchase-002", 0), 422, "price_minor")


def test_the_balance_comes_from_the_views_and_is_hidden_at_zero(api: Api) -> None:
    # given an account never seen, then it shows nothing
    unknown = api.get("/v1/accounts/acct-nobody/promotional-credits")
    assert unknown.status_code == 200
    assert unknown.json() == {
        "account_id": "acct-nobody",
        "visible": False,
        "balances": [],
        "last_activity_at": None,
    }
    # given 30.00 granted, 10.00 applied to an invoice, projected
    api.grant(ALICE, "grant-004", 3000)
    api.container.ledger.apply_invoice(ALICE, "inv-2026-001", "USD", 1000)
    api.project()
    shown = api.get(f"/v1/accounts/{ALICE}/promotional-credits").json()
    assert shown["visible"] is True
    assert shown["balances"] == [
        {
            "currency": "USD",
            "balance_minor": 2000,
            "granted_minor": 3000,
            "applied_minor": 1000,
            "calling_credits_minor": 0,
            "restored_minor": 0,
        }
    ]
    assert shown["last_activity_at"] == api.container.ledger.history(ALICE)[-1]["occurred_at"]
    # when calling credits use up the rest, then the balance is hidden
    api.buy(ALICE, "purchase-003", 5000)
    api.project()
    hidden = api.get(f"/v1/accounts/{ALICE}/promotional-credits").json()
    assert hidden["visible"] is False
    assert hidden["balances"][0]["balance_minor"] == 0
    assert hidden["balances"][0]["calling_credits_minor"] == 2000


def test_an_account_id_with_a_slash_is_served_like_any_other(api: Api) -> None:
    # given a grant to an account whose id contains "/", which the ledger allows
    account = "tenant-7/acct-alice"
    assert api.grant(account, "grant-slash", 700).status_code == 201
    api.project()
    # then its balance and history routes find it
    balance = api.get(f"/v1/accounts/{account}/promotional-credits").json()
    assert (balance["account_id"], balance["balances"][0]["balance_minor"]) == (account, 700)
    history = api.get(f"/v1/accounts/{account}/promotional-credits/history").json()
    assert [e["grant_id"] for e in history["entries"]] == ["grant-slash"]


def test_history_pages_stay_stable_while_writes_continue(api: Api) -> None:
    # given seven ledger entries, projected
    for n in range(7):
        api.grant(ALICE, f"grant-p{n}", 100 + n)
    api.project()
    # when the first page of three is read
    first = api.get(f"/v1/accounts/{ALICE}/promotional-credits/history", limit=3).json()
    # and more entries arrive before the next page is read
    for n in range(7, 10):
        api.grant(ALICE, f"grant-p{n}", 100 + n)
    api.project()
    pages = [first]
    while pages[-1]["next_cursor"]:
        pages.append(
            api.get(
                f"/v1/accounts/{ALICE}/promotional-credits/history", limit=3, cursor=pages[-1]["next_cursor"]
            ).json()
        )
    # then the pages after the cursor continue where the first stopped: no
    # entry repeated, none skipped, newest first
    keys = [entry["grant_id"] for page in pages for entry in page["entries"]]
    assert keys == [f"grant-p{n}" for n in range(6, -1, -1)]
    # and a fresh first page shows the new entries on top, exactly as the ledger
    fresh = api.get(f"/v1/accounts/{ALICE}/promotional-credits/history", limit=100).json()
    assert fresh["entries"] == list(reversed(api.container.ledger.history(ALICE)))
    assert fresh["next_cursor"] is None


def test_a_bad_cursor_or_limit_is_422(api: Api) -> None:
    path = f"/v1/accounts/{ALICE}/promotional-credits/history"
    assert_problem(api.get(path, cursor="not-a-cursor"), 422, "cursor")
    assert_problem(api.get(path, limit=0), 422, "limit")


def test_analytics_per_day_and_liability_per_currency(api: Api) -> None:
    # given grants for two reasons, an invoice with credits, one without, a purchase
    api.grant(ALICE, "grant-a1", 5000, reason="compensation")
    api.grant("acct-bob", "grant-b1", 700, reason="goodwill")
    ledger = api.container.ledger
    ledger.apply_invoice(ALICE, "inv-2026-010", "USD", 1200)
    ledger.apply_invoice("acct-carol", "inv-2026-011", "USD", 900)  # no credits: decided, not touched
    api.buy("acct-bob", "purchase-b1", 200)
    api.project()
    # when an auditor reads today's analytics
    day = ledger.history(ALICE)[0]["occurred_at"][:10]
    daily = api.get("/v1/analytics/daily", token=AUDITOR, currency="USD", **{"from": day, "to": day})
    assert daily.status_code == 200
    assert daily.json() == {
        "days": [
            {
                "day": day,
                "currency": "USD",
                "granted_minor": 5700,
                "granted_by_reason": {"compensation": 5000, "goodwill": 700},
                "applied_minor": 1200,
                "calling_credits_minor": 200,
                "invoices_touched": 1,
                "invoices_decided": 2,
                "restored_minor": 0,
            }
        ]
    }
    # then other currencies and days are filtered out
    assert api.get("/v1/analytics/daily", token=AUDITOR, currency="EUR").json() == {"days": []}
    # and the liability is the sum of balances
    liability = api.get("/v1/analytics/liability", token=AUDITOR).json()
    assert liability == {
        "liability": [{"currency": "USD", "liability_minor": 3800 + 500, "accounts_with_balance": 2}]
    }
    assert_problem(
        api.get("/v1/analytics/daily", token=AUDITOR, **{"from": "2026-02-01", "to": "2026-01-01"}),
        422,
        "after",
    )


ROUTES = [
    ("GET", f"/v1/accounts/{ALICE}/promotional-credits"),
    ("GET", f"/v1/accounts/{ALICE}/promotional-credits/history"),
    ("POST", f"/v1/accounts/{ALICE}/promotional-credits/grants"),
    ("POST", f"/v1/accounts/{ALICE}/calling-credit-purchases"),
    ("GET", "/v1/analytics/daily"),
    ("GET", "/v1/analytics/liability"),
]
# Who may call what: readers read accounts, operators also write, auditors
# also read analytics.
ALLOWED = {
    "reader": {ROUTES[0], ROUTES[1]},
    "operator": {ROUTES[0], ROUTES[1], ROUTES[2], ROUTES[3]},
    "auditor": {ROUTES[0], ROUTES[1], ROUTES[4], ROUTES[5]},
}
BODIES = {
    ROUTES[2][1]: {"grant_id": "grant-roles", "amount_minor": 100, "currency": "USD", "reason": "promotion"},
    ROUTES[3][1]: {"purchase_id": "purchase-roles", "price_minor": 100, "currency": "USD"},
}


# The exact answer of an allowed call on a fresh ledger: reads are 200, a
# first write is 201 (created), never "200 or 201".
ALLOWED_STATUS = {"GET": 200, "POST": 201}


def recorded_notifications(api: Api) -> int:
    return api.container.ledger.recorder.max_notification_id() or 0


def test_the_role_matrix(api: Api) -> None:
    for token, role in TOKENS.items():
        for method, path in ROUTES:
            # given the ledger as it stands before the call
            before = recorded_notifications(api)
            # when this role calls this route
            response = httpx.request(
                method, api.base + path, headers=bearer(token), json=BODIES.get(path), timeout=10
            )
            # then the answer is exactly the one its rights give
            expected = ALLOWED_STATUS[method] if (method, path) in ALLOWED[role] else 403
            assert response.status_code == expected, (role, method, path, response.text)
            if expected == 403:
                assert_problem(response, 403, role)
                # and a refused write recorded nothing
                assert recorded_notifications(api) == before, (role, method, path)
            elif method == "POST":
                # and an allowed write was recorded (the same notification
                # count is what proves the refused ones recorded nothing)
                assert recorded_notifications(api) > before, (role, method, path)
    for method, path in ROUTES:
        # no token, an unknown token, or another scheme: 401 with a challenge
        for headers in ({}, bearer("tok-forged"), {"Authorization": "Basic dXNlcjpwdw=="}):
            before = recorded_notifications(api)
            response = httpx.request(
                method, api.base + path, headers=headers, json=BODIES.get(path), timeout=10
            )
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.headers["content-type"].startswith("application/problem+json")
            # and an unauthenticated write recorded nothing
            assert recorded_notifications(api) == before, (method, path, headers)


def test_refused_writes_leave_no_trace_in_the_ledger(api: Api) -> None:
    # given an empty ledger
    assert recorded_notifications(api) == 0
    # when every write route is called by roles that may not write, and by
    # callers who are not authenticated
    for method, path in ROUTES:
        if method != "POST":
            continue
        for headers, refused in (
            (bearer(READER), 403),
            (bearer(AUDITOR), 403),
            ({}, 401),
            (bearer("tok-forged"), 401),
        ):
            response = httpx.post(api.base + path, headers=headers, json=BODIES[path], timeout=10)
            assert response.status_code == refused, (path, headers, response.text)
    # then nothing at all was recorded: no account opened, no grant, no purchase
    assert recorded_notifications(api) == 0
    assert api.container.ledger.history(ALICE) == []


def test_health_readiness_metrics_and_docs_are_open(api: Api) -> None:
    # given two events recorded and not yet projected
    api.grant(ALICE, "grant-005", 100)
    assert api.get("/healthz", token=None).json() == {"status": "ok"}
    ready = api.get("/readyz", token=None)
    assert ready.status_code == 200
    assert ready.json()["projection_lag_events"] == 2  # Opened + CreditGranted
    # when projected, then the lag is gone, also in the metrics
    api.project()
    assert api.get("/readyz", token=None).json()["projection_lag_events"] == 0
    metrics = api.get("/metrics", token=None)
    assert metrics.status_code == 200
    lines = metrics.text.splitlines()
    assert "promocredits_projection_lag_events 0.0" in lines
    for name in (
        "promocredits_invoices_consumed_total",
        "promocredits_invoices_settled_total",
        "promocredits_relay_lag_events",
        "promocredits_http_requests_total",
        "promocredits_http_request_duration_seconds_bucket",
    ):
        assert any(line.startswith(name) for line in lines), name
    assert 'route="/v1/accounts/{account_id}/promotional-credits/grants",status="201"' in metrics.text
    assert api.get("/docs", token=None).status_code == 200
    assert "/v1/analytics/liability" in api.get("/openapi.json", token=None).json()["paths"]


def test_readyz_is_503_when_the_views_database_is_unreachable(tmp_path: Path) -> None:
    # given views in a database that cannot be opened (its directory is a file)
    (tmp_path / "not-a-directory").write_text("")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/ledger.db",
        views_database_url=f"sqlite:///{tmp_path}/not-a-directory/views.db",
        api_tokens=TOKENS,
    )
    container = Container(settings)
    with running_api(container) as base:
        # when readiness is probed, then it is refused naming the views
        response = httpx.get(f"{base}/readyz", timeout=30)
        # while the process itself is up
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    assert_problem(response, 503, "views")
    container.close()


def test_a_posted_grant_shows_up_in_balance_and_history_while_the_projections_run(api: Api) -> None:
    # given the projections running continuously beside the API
    stop = threading.Event()
    runner = CheckedThread(parts.projector(api.container).run, stop, name="projections")
    runner.start()
    try:
        # when a grant is posted
        assert api.grant(ALICE, "grant-006", 4200).status_code == 201
        posted = time.monotonic()
        # then both the balance and the history show it, with no catch-up
        # asked for (the deadline is generous: a loaded machine is slow, and
        # a projection that never runs still fails)
        while True:
            balance = api.get(f"/v1/accounts/{ALICE}/promotional-credits").json()
            history = api.get(f"/v1/accounts/{ALICE}/promotional-credits/history").json()
            if balance["visible"] and history["entries"]:
                break
            assert time.monotonic() - posted < 30.0, "not in the views within 30 s"
            time.sleep(0.02)
        assert balance["balances"][0]["balance_minor"] == 4200
        assert history["entries"][0]["grant_id"] == "grant-006"
    finally:
        stop.set()
    # (projections that crashed after the views showed the grant must still fail the test)
    runner.finish(timeout=30)


def test_concurrent_api_writes_to_one_account_and_to_others_all_land_exactly_once(api: Api) -> None:
    # given four clients granting at once: three to Alice, each for its own
    # grants, and one to accounts of its own
    def grant_alice(client: int) -> None:
        for n in range(10):
            response = api.grant(ALICE, f"grant-{client}-{n:02d}", 100 + client)
            assert response.status_code == 201, response.text

    def grant_others() -> None:
        for n in range(10):
            response = api.grant(f"acct-other-{n:02d}", "grant-001", 700)
            assert response.status_code == 201, response.text

    clients = [CheckedThread(grant_alice, client, name=f"alice-{client}") for client in range(3)]
    clients.append(CheckedThread(grant_others, name="others"))
    # when they all write through the same API process at the same time
    for client in clients:
        client.start()
    for client in clients:
        client.finish()
    # then every grant is recorded once, and Alice's balance is their exact sum
    ledger = api.container.ledger
    alice = ledger.history(ALICE)
    assert sorted(entry["grant_id"] for entry in alice) == sorted(
        f"grant-{client}-{n:02d}" for client in range(3) for n in range(10)
    )
    assert ledger.balance(ALICE).balances[0].balance_minor == 10 * (100 + 101 + 102)
    assert [ledger.balance(f"acct-other-{n:02d}").balances[0].balance_minor for n in range(10)] == [700] * 10
    # and a replayed grant is still answered from the ledger, not recorded again
    assert api.grant(ALICE, "grant-0-00", 100).status_code == 200
    assert len(ledger.history(ALICE)) == 30
