"""Screenshots of the support console's main pages, for the README.

Runs the service on a throw-away SQLite ledger with a small history, signs in
with headless Chromium and saves one PNG per page next to this script:

    make screenshots
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

from application.ledger import InvoiceRequest, Ledger  # noqa: E402
from infra.adapters.store.urls import persistence_env  # noqa: E402
from tests.browser_support import chromium, click_and_wait, console_service, wait_for_history  # noqa: E402

TOKENS = {"tok-reader": "reader", "tok-operator": "operator"}
ACCOUNT = "acct-Northwind"


def seed(directory: Path) -> None:
    ledger = Ledger(env=persistence_env(f"sqlite:///{directory}/ledger.db"))
    ledger.grant(ACCOUNT, "grant-2026-0412", "USD", 5000, "compensation", "outage on 12 April")
    for n, total in enumerate((1200, 1800, 2500, 900), start=1):
        ledger.apply_invoices([InvoiceRequest(ACCOUNT, f"inv-2026-00{n}", "USD", total)])
    # Billing voids the third invoice: the 20.00 of credits it used come back.
    ledger.void_invoice(ACCOUNT, "inv-2026-003")
    ledger.buy_calling_credits(ACCOUNT, "buy-0001", "USD", 600)
    ledger.grant(ACCOUNT, "grant-2026-0530", "USD", 2000, "goodwill")
    ledger.close()


def save(browser: WebDriver, name: str) -> None:
    # The whole page, not just the window.
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    (HERE / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
    print(f"docs/screenshots/{name}.png")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="promocredits-screenshots-") as tmp:
        directory = Path(tmp)
        seed(directory)
        with (
            console_service(directory, TOKENS, f"sqlite:///{directory}/ledger.db") as api,
            chromium() as browser,
        ):
            wait_for_history(api.base, "tok-reader", ACCOUNT, 8)
            browser.get(f"{api.base}/console/sign-in")
            save(browser, "sign-in")
            browser.find_element(By.ID, "token").send_keys("tok-operator")
            click_and_wait(browser, By.CSS_SELECTOR, "#sign-in button")
            save(browser, "look-up")
            browser.get(f"{api.base}/console/account?account_id={ACCOUNT}&limit=5")
            save(browser, "account")
            browser.get(f"{api.base}/console/explanation?account_id={ACCOUNT}")
            save(browser, "explanation")
            browser.get(f"{api.base}/console/explanation?account_id=acct-northwind")
            save(browser, "explanation-mistyped")
            browser.get(f"{api.base}/console/invoice?invoice_id=inv-2026-003")
            save(browser, "invoice")
            browser.get(f"{api.base}/console/grant?account_id={ACCOUNT}")
            browser.find_element(By.ID, "amount").send_keys("15.00")
            browser.find_element(By.ID, "note").send_keys("second outage, ticket 4711")
            save(browser, "grant-form")


if __name__ == "__main__":
    main()
