"""The support console refuses hostile input with a page that says why, and
never echoes it unescaped; against a real server on the SQLite store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from infra.wiring.container import Container
from tests.views_support import TOKENS, running_api

COOKIE = "promocredits_console"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Console:
    """A signed-in operator's session, with the cookie sent by hand: a cookie
    jar would hold back a Secure cookie on http://127.0.0.1."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""
        page = self.get("/console/sign-in")
        self.csrf = self.csrf_of(page)
        signed_in = self.post("/console/sign-in", f"csrf={self.csrf}&token=tok-operator")
        assert signed_in.status_code == 303, signed_in.text
        self.csrf = self.csrf_of(self.get("/console"))

    def keep(self, answer: httpx.Response) -> httpx.Response:
        found = re.search(rf"{COOKIE}=([^;]+)", answer.headers.get("set-cookie", ""))
        if found:
            self.cookie = found.group(1)
        return answer

    def get(self, path: str) -> httpx.Response:
        return self.keep(httpx.get(self.base + path, headers={"Cookie": f"{COOKIE}={self.cookie}"}))

    def post(self, path: str, body: bytes | str, headers: dict[str, str] = FORM) -> httpx.Response:
        sent = {**headers, "Cookie": f"{COOKIE}={self.cookie}"}
        return self.keep(httpx.post(self.base + path, content=body, headers=sent))

    @staticmethod
    def csrf_of(page: httpx.Response) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    def grant(self, **fields: str) -> httpx.Response:
        form = {"csrf": self.csrf, "account_id": "acct-h", "grant_id": "g-1", "amount": "1.00"}
        form |= {"currency": "USD", "reason": "goodwill", **fields}
        return self.post("/console/grant", httpx.QueryParams(form).__str__())


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp: Path = tmp_path_factory.mktemp("console-hostile")
    settings = Settings(
        database_url=f"sqlite:///{tmp}/ledger.db",
        views_database_url=f"sqlite:///{tmp}/views.db",
        api_tokens=TOKENS,
    )
    container = Container(settings)
    with running_api(container) as base:
        yield Console(base)
    container.close()


def refused(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert message in answer.text
    assert "Traceback" not in answer.text


def test_a_form_that_is_not_utf8_is_a_400_page(console: Console) -> None:
    refused(console.post("/console/grant", b"csrf=\xff\xfe&amount=1"), 400, "not UTF-8 text")
    # a lone surrogate, percent-encoded, is no UTF-8 either
    refused(console.post("/console/grant", f"csrf={console.csrf}&note=%ED%A0%80"), 400, "not UTF-8 text")


def test_a_form_with_too_many_fields_is_a_400_page(console: Console) -> None:
    body = "&".join(f"f{n}=x" for n in range(50))
    refused(console.post("/console/grant", body), 400, "too many fields")


def test_a_body_that_is_not_a_form_is_a_415_page(console: Console) -> None:
    answer = console.post("/console/grant", b'{"amount": 1}', {"Content-Type": "application/json"})
    refused(answer, 415, "application/x-www-form-urlencoded")


def test_a_body_over_the_api_limit_is_refused_before_it_is_read(console: Console) -> None:
    answer = console.post("/console/grant", b"note=" + b"x" * (70 * 1024))
    assert answer.status_code == 413


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"note": "tab\there"}, 422, "note must not contain control characters"),
        ({"note": "n" * 1001}, 422, "note must be at most 1000 characters"),
        ({"amount": "1e3"}, 422, "is not a decimal number such as 25.00"),
        ({"amount": "-5"}, 422, "must not be negative"),
        ({"currency": "usd"}, 422, "currency must be an ISO 4217 code"),
        ({"currency": "ZZZ"}, 422, "unknown currency"),
        ({"reason": "bribe"}, 422, "reason must be one of"),
        ({"grant_id": "<b>"}, 422, "grant_id must be 1-128 characters"),
        ({"account_id": "acct\x00"}, 422, "account_id must be 1-128 characters"),
        ({"amount": ""}, 422, "the amount is required"),
    ],
)
def test_invalid_grants_are_a_page_and_record_nothing(
    console: Console, fields: dict[str, str], status: int, message: str
) -> None:
    refused(console.grant(**fields), status, message.replace("<", "&lt;").replace(">", "&gt;"))
    explained = console.get("/console/explanation?account_id=acct-h")
    assert "unknown account" in explained.text


def test_what_an_operator_typed_is_escaped_on_every_page(console: Console) -> None:
    # given a grant whose note is markup
    answer = console.grant(account_id="acct-xss", grant_id="g-xss", note="<script>alert(1)</script>")
    assert answer.status_code == 201, answer.text
    # when its explanation is shown, then the note is text, not markup
    page = console.get("/console/explanation?account_id=acct-xss")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>" not in page.text
    # and the pages forbid scripts and framing whatever slips through
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_hostile_look_ups_are_a_page(console: Console) -> None:
    refused(console.get("/console/account?account_id=%ED%A0%80"), 422, "account_id must be 1-128 characters")
    refused(console.get("/console/invoice?invoice_id=inv%0A1"), 422, "invoice_id must be")
    refused(console.get("/console/invoice?invoice_id=%3Cb%3E"), 422, "invoice_id must be")
    refused(console.get("/console/invoice?invoice_id=%20"), 422, "enter an invoice id")
    refused(console.get("/console/invoice?invoice_id=%ED%A0%80"), 422, "invoice_id must be")


def test_an_invoice_the_ledger_never_decided_is_a_404_page(console: Console) -> None:
    # given a void of an invoice not generated yet: recorded, but no decision
    voided = httpx.post(
        f"{console.base}/v1/accounts/acct-early/promotional-credits/voids",
        json={"invoice_id": "inv-early"},
        headers={"Authorization": "Bearer tok-operator"},
    )
    assert voided.status_code == 201, voided.text
    # then neither it nor an unknown invoice has a decision to show
    for invoice_id in ("inv-early", "inv-nowhere"):
        refused(console.get(f"/console/invoice?invoice_id={invoice_id}"), 404, "holds no decision on invoice")
    refused(console.get("/console/explanation?account_id=" + "x" * 300), 422, "at most 256 characters")


def test_a_forged_or_foreign_cookie_is_no_session(console: Console) -> None:
    for cookie in ("forged", console.cookie[:-3] + "abc", "x" * 5000):
        answer = httpx.get(f"{console.base}/console", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in"
