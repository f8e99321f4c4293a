"""The support console in a real browser: headless Chromium against the
service running as its own processes (the API and the projector)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from application.ledger import InvoiceRequest, Ledger
from infra.adapters.store.urls import persistence_env
from tests.api_support import ServedApi
from tests.browser_support import (
    chromium,
    click_and_wait,
    console_service,
    wait_for_history,
    wait_until_replaced,
)
from tests.conftest import fresh_postgres_database
from tests.views_support import TOKENS

pytestmark = pytest.mark.timeout(240)

READER, OPERATOR = "tok-reader", "tok-operator"
# Five entries: one grant, then four invoices that use it up and more.
PAGED = "acct-paged"
# Known only as "acct-Carol": support is asked about "acct-carol".
CAROL = "acct-Carol"
# 30.00 USD granted, an invoice of 40.00 that used it and was voided, and a
# void of an invoice not generated yet.
VERA = "acct-vera"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    """The console over each store, with the same accounts."""
    tmp_path = tmp_path_factory.mktemp("console")
    if request.param == "sqlite":
        store_url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        store_url = fresh_postgres_database(request.getfixturevalue("postgres_server"))
    ledger = Ledger(env=persistence_env(store_url))
    ledger.grant(PAGED, "grant-welcome", "USD", 5000, "promotion", "welcome offer")
    for n, total in enumerate((1200, 1800, 2500, 900), start=1):
        ledger.apply_invoices([InvoiceRequest(PAGED, f"inv-2026-00{n}", "USD", total)])
    ledger.grant(CAROL, "grant-carol", "EUR", 1000, "goodwill")
    ledger.grant(VERA, "grant-vera", "USD", 3000, "compensation")
    ledger.apply_invoices([InvoiceRequest(VERA, "inv-vera-1", "USD", 4000)])
    ledger.void_invoice(VERA, "inv-vera-1")
    ledger.void_invoice(VERA, "inv-vera-early")
    ledger.close()
    with console_service(tmp_path, TOKENS, store_url) as api:
        wait_for_history(api.base, READER, PAGED, 5)
        wait_for_history(api.base, READER, CAROL, 1)
        wait_for_history(api.base, READER, VERA, 4)
        yield api


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def sign_in(browser: WebDriver, base: str, token: str) -> None:
    browser.get(f"{base}/console")
    assert browser.current_url.endswith("/console/sign-in")
    browser.find_element(By.ID, "token").send_keys(token)
    click_and_wait(browser, By.CSS_SELECTOR, "#sign-in button")
    assert browser.find_element(By.ID, "role").text == TOKENS[token]


def text(browser: WebDriver, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def keys_shown(browser: WebDriver) -> list[str]:
    return [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#history tr.entry td.key")]


def post_from_page(browser: WebDriver, path: str, fields: dict[str, str]) -> str:
    """Submit a form built on the page, as an injected script could: the
    browser sends the session cookie (same site). The page's policy lets
    no script fetch, so a form it is. Returns the message shown."""
    script = """
        const [path, fields] = arguments;
        const form = document.createElement("form");
        form.method = "post";
        form.action = path;
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
    """
    page = browser.find_element(By.TAG_NAME, "html")
    browser.execute_script(script, path, fields)
    wait_until_replaced(browser, page)
    return text(browser, "message")


def status_with_session(browser: WebDriver, base: str, path: str, fields: dict[str, str]) -> int:
    """The status of the same POST sent with the browser's session cookie."""
    cookie = browser.get_cookie("promocredits_console")
    assert cookie is not None
    headers = {"Cookie": f"promocredits_console={cookie['value']}"}
    return httpx.post(base + path, data=fields, headers=headers).status_code


def balance_of(base: str, account_id: str) -> Any:
    headers = {"Authorization": f"Bearer {READER}"}
    url = f"{base}/v1/accounts/{account_id}/promotional-credits/explanation"
    return httpx.get(url, headers=headers).json()


def test_an_operator_looks_up_an_account_and_pages_its_history(
    service: ServedApi, browser: WebDriver
) -> None:
    # given an operator signed in
    sign_in(browser, service.base, OPERATOR)
    # when they look the account up
    browser.find_element(By.ID, "account_id").send_keys(PAGED)
    click_and_wait(browser, By.CSS_SELECTOR, "#find-account button")
    # then its balance shows in major units and the dashboard hides it (all used)
    assert text(browser, "account") == PAGED
    assert "hides" in text(browser, "visible")
    balances = text(browser, "balances")
    assert "0.00 USD" in balances and "50.00 USD" in balances
    # when the history is read two entries a page
    browser.get(f"{service.base}/console/account?account_id={PAGED}&limit=2")
    pages = [keys_shown(browser)]
    # (the newest invoice found no credit left; the one before used the last 20.00)
    assert "25.00 USD" in text(browser, "history") and "20.00 USD" in text(browser, "history")
    while browser.find_elements(By.ID, "older"):
        click_and_wait(browser, By.ID, "older")
        pages.append(keys_shown(browser))
    # then every entry shows once, newest first, invoice by invoice
    assert pages == [
        ["inv-2026-004", "inv-2026-003"],
        ["inv-2026-002", "inv-2026-001"],
        ["grant-welcome"],
    ]


def submit_again(browser: WebDriver, grant_id: str, amount: str) -> None:
    """Back to the grant form, and submit it with this grant id and amount."""
    browser.back()
    # The form again, once the browser has it back (not the result page).
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#grant button"))
    for field, value in (("amount", amount), ("grant_id", grant_id)):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    click_and_wait(browser, By.CSS_SELECTOR, "#grant button")


def test_an_operator_grants_from_the_form_and_a_resubmission_changes_nothing(
    service: ServedApi, browser: WebDriver
) -> None:
    # given an operator on an account's page
    sign_in(browser, service.base, OPERATOR)
    browser.get(f"{service.base}/console/account?account_id=acct-grantee")
    # when they grant 12.50 USD from the form
    click_and_wait(browser, By.ID, "grant-link")
    grant_id = browser.find_element(By.ID, "grant_id").get_attribute("value")
    assert grant_id and grant_id.startswith("grant-")
    browser.find_element(By.ID, "amount").send_keys("12.50")
    click_and_wait(browser, By.CSS_SELECTOR, "#grant button")
    # then the grant is recorded with the balance after it
    assert browser.find_element(By.TAG_NAME, "h1").text == "Granted"
    assert f"Grant {grant_id} of 12.50 USD to acct-grantee" in text(browser, "result")
    assert "Balance right after it: 12.50 USD" in text(browser, "result")
    # when the same form is submitted again (back, submit)
    submit_again(browser, grant_id, "12.50")
    # then nothing new is recorded
    assert browser.find_element(By.TAG_NAME, "h1").text == "Already recorded"
    assert "Balance right after it: 12.50 USD" in text(browser, "result")
    assert [g["grant_id"] for g in balance_of(service.base, "acct-grantee")["grants"]] == [grant_id]
    # and the same id with another amount is refused as a conflict, on a page
    submit_again(browser, grant_id, "99.00")
    assert "already recorded with different content" in text(browser, "message")


def test_invalid_grants_are_refused_with_a_clear_page(service: ServedApi, browser: WebDriver) -> None:
    # given an operator on the grant form
    sign_in(browser, service.base, OPERATOR)
    browser.get(f"{service.base}/console/grant?account_id=acct-invalid")
    # when the amount has more decimals than the currency
    browser.find_element(By.ID, "amount").send_keys("1.005")
    click_and_wait(browser, By.CSS_SELECTOR, "#grant button")
    # then the page says why, and nothing is recorded
    assert "more than 2 decimal places for USD" in text(browser, "message")
    assert balance_of(service.base, "acct-invalid")["known"] is False


def test_the_explanation_names_the_account_a_mistyped_id_meant(
    service: ServedApi, browser: WebDriver
) -> None:
    # given a reader signed in
    sign_in(browser, service.base, READER)
    # when they ask why acct-carol (lower case) sees no credits
    browser.find_element(By.ID, "explain_id").send_keys("acct-carol")
    click_and_wait(browser, By.CSS_SELECTOR, "#find-explanation button")
    # then the page says it is unknown and offers the id that differs in case
    assert text(browser, "unknown") == "unknown account"
    assert "unknown to the ledger" in text(browser, "sentences")
    match = browser.find_element(By.CSS_SELECTOR, "a.close-match")
    assert match.text == CAROL
    # and following it shows that account's explanation-worthy balance
    click_and_wait(browser, By.CSS_SELECTOR, "a.close-match")
    assert text(browser, "account") == CAROL
    assert "10.00 EUR" in text(browser, "balances")


def test_a_reader_sees_no_grant_form_and_may_not_post_one(service: ServedApi, browser: WebDriver) -> None:
    # given a reader signed in, on an account's page
    sign_in(browser, service.base, READER)
    browser.get(f"{service.base}/console/account?account_id={PAGED}")
    # then there is no way to the grant form
    assert browser.find_elements(By.ID, "grant-link") == []
    browser.get(f"{service.base}/console/grant?account_id={PAGED}")
    assert browser.find_elements(By.ID, "grant") == []
    assert "the reader role may not do this" in text(browser, "message")
    # when a grant is posted anyway, with the session's own CSRF token
    browser.get(f"{service.base}/console")
    csrf = browser.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")
    fields = {"csrf": csrf, "account_id": PAGED, "grant_id": "grant-by-reader", "amount": "5.00"}
    fields |= {"currency": "USD", "reason": "goodwill"}
    shown = post_from_page(browser, "/console/grant", fields)
    # then it is forbidden and nothing is recorded
    assert "the reader role may not do this" in shown
    assert status_with_session(browser, service.base, "/console/grant", fields) == 403
    assert "grant-by-reader" not in str(balance_of(service.base, PAGED)["grants"])


def test_a_form_post_without_the_csrf_token_is_refused(service: ServedApi, browser: WebDriver) -> None:
    # given an operator signed in
    sign_in(browser, service.base, OPERATOR)
    grant = {"account_id": "acct-csrf", "grant_id": "grant-forged", "amount": "5.00", "currency": "USD"}
    grant["reason"] = "goodwill"
    # when a grant is posted with no CSRF token, and with a wrong one
    for forged in (grant, {**grant, "csrf": "not-the-token"}):
        browser.get(f"{service.base}/console")
        shown = post_from_page(browser, "/console/grant", forged)
        # then it is refused with a page that says why, and nothing is recorded
        assert "security token is missing or stale" in shown
        assert status_with_session(browser, service.base, "/console/grant", forged) == 403
    assert balance_of(service.base, "acct-csrf")["known"] is False


def test_the_session_cookie_is_signed_secure_http_only_and_strict(
    service: ServedApi, browser: WebDriver
) -> None:
    # given an operator signed in over http://127.0.0.1 (Chromium treats it
    # as a secure context, so it keeps a Secure cookie: signing in worked)
    sign_in(browser, service.base, OPERATOR)
    # then the session cookie has every protective flag
    cookie = browser.get_cookie("promocredits_console")
    assert cookie is not None
    assert cookie["secure"] is True
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    # and it holds no token, and scripts on the page cannot read it
    assert OPERATOR not in cookie["value"]
    assert "promocredits_console" not in browser.execute_script("return document.cookie")
    # when the cookie is tampered with, the session is gone
    browser.delete_cookie("promocredits_console")
    forged = {**cookie, "value": cookie["value"][:-2] + ("A" if cookie["value"][-1] != "A" else "B") + "x"}
    browser.add_cookie({k: forged[k] for k in ("name", "value", "path", "secure", "httpOnly", "sameSite")})
    browser.get(f"{service.base}/console")
    assert browser.current_url.endswith("/console/sign-in")


def test_signing_out_ends_the_session(service: ServedApi, browser: WebDriver) -> None:
    # given a reader signed in
    sign_in(browser, service.base, READER)
    # when they sign out
    click_and_wait(browser, By.ID, "sign-out")
    # then they are back at the sign-in form and the console asks them to sign in again
    assert browser.current_url.endswith("/console/sign-in")
    browser.get(f"{service.base}/console/account?account_id={PAGED}")
    assert browser.current_url.endswith("/console/sign-in")


def test_a_wrong_token_does_not_sign_in(service: ServedApi, browser: WebDriver) -> None:
    browser.get(f"{service.base}/console/sign-in")
    browser.find_element(By.ID, "token").send_keys("tok-guess")
    click_and_wait(browser, By.CSS_SELECTOR, "#sign-in button")
    assert text(browser, "message") == "That token is not valid."
    assert browser.find_elements(By.ID, "role") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("account_id=%00acct", "account_id must be 1-128 characters"),
        ("account_id=" + "a" * 5000, "account_id must be 1-128 characters"),
        ("account_id=acct-x&limit=99999999999999999999", "limit must be a whole number from 1 to 100"),
        ("account_id=acct-x&cursor=forged", "is not a cursor this service issued"),
        ("account_id=acct-x&account_id=acct-y", "account_id was given more than once"),
        ("", "enter an account id"),
    ],
)
def test_hostile_look_ups_get_a_page_with_a_clear_message(
    service: ServedApi, browser: WebDriver, query: str, message: str
) -> None:
    sign_in(browser, service.base, READER)
    browser.get(f"{service.base}/console/account?{query}")
    assert message in text(browser, "message")
    assert "Traceback" not in browser.page_source


def test_an_invoice_is_looked_up_by_its_id_alone(service: ServedApi, browser: WebDriver) -> None:
    # given a reader signed in
    sign_in(browser, service.base, READER)
    # when they look up an invoice by its id, which found only part of its total in credits
    browser.find_element(By.ID, "invoice_id").send_keys("inv-2026-003")
    click_and_wait(browser, By.CSS_SELECTOR, "#find-invoice button")
    # then its decision shows: total, credits applied, what was due, the balance after
    assert text(browser, "invoice") == "inv-2026-003"
    decision = text(browser, "decision")
    assert "25.00 USD" in decision and "20.00 USD" in decision and "5.00 USD" in decision
    assert "0.00 USD" in decision and " UTC" in decision
    assert text(browser, "voided") == "not voided"
    # and the account it was decided for is a link to its page
    click_and_wait(browser, By.ID, "account-link")
    assert text(browser, "account") == PAGED
    # and an invoice the ledger never decided says so
    browser.get(f"{service.base}/console/invoice?invoice_id=inv-elsewhere")
    assert "holds no decision on invoice inv-elsewhere" in text(browser, "message")


def test_a_voided_invoice_shows_as_voided_with_its_restore(service: ServedApi, browser: WebDriver) -> None:
    # given a reader signed in
    sign_in(browser, service.base, READER)
    # when they look up the invoice that was voided
    browser.find_element(By.ID, "invoice_id").send_keys("inv-vera-1")
    click_and_wait(browser, By.CSS_SELECTOR, "#find-invoice button")
    # then its decision shows, and that it was voided and gave its 30.00 back
    assert "40.00 USD" in text(browser, "decision") and VERA in text(browser, "decision")
    assert text(browser, "voided") == "voided: 30.00 USD of credits given back"
    assert "the 30.00 USD of credits it used were given back" in text(browser, "restore")
    # and the account's history shows the restore, and the void before its invoice
    click_and_wait(browser, By.ID, "account-link")
    history = text(browser, "history")
    assert "restore (invoice voided) inv-vera-1 30.00 USD" in history
    assert "void before the invoice inv-vera-early none" in history
    assert "XXX" not in history
    assert "30.00 USD" in text(browser, "balances") and "shows" in text(browser, "visible")
    # and the invoice voided before it was issued has no decision to show
    browser.get(f"{service.base}/console/invoice?invoice_id=inv-vera-early")
    assert "holds no decision on invoice inv-vera-early" in text(browser, "message")


def test_the_explanation_tells_of_a_voided_invoice(service: ServedApi, browser: WebDriver) -> None:
    # given a reader signed in
    sign_in(browser, service.base, READER)
    # when they ask for the explanation of the account with voids
    browser.find_element(By.ID, "explain_id").send_keys(VERA)
    click_and_wait(browser, By.CSS_SELECTOR, "#find-explanation button")
    # then the void and the early void each have their sentence
    sentences = text(browser, "sentences")
    assert (
        "invoice inv-vera-1 was voided and its 30.00 USD of credits were given back; "
        "the balance became 30.00 USD." in sentences
    )
    assert "invoice inv-vera-early was voided before it was issued, so it will use no credits" in sentences
    # and the restores are listed, each linking to its invoice
    restores = text(browser, "restores")
    assert "inv-vera-1" in restores and "voided before it was issued" in restores
    # and the totals count what the void gave back: 30.00 - 30.00 + 30.00 = 30.00
    assert "USD 30.00 USD - 30.00 USD + 30.00 USD = 30.00 USD" in text(browser, "totals")
    click_and_wait(browser, By.LINK_TEXT, "inv-vera-1")
    assert text(browser, "invoice") == "inv-vera-1"
