"""A real browser for the console's tests: Debian's headless Chromium driven
through chromedriver, against the service running as processes of its own."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.api_support import BIN, ServedApi, api_process, stop_process
from tests.servers import unavailable
from tests.views_support import views_url_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps trying to reach
# Google's services, which a closed network turns into long stalls.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def click_and_wait(browser: Any, by: str, what: str) -> None:
    """Click what leads to another page, and wait until the browser has left this one."""
    from selenium.webdriver.common.by import By

    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, what).click()
    wait_until_replaced(browser, page)


def wait_until_replaced(browser: Any, page: Any) -> None:
    """Wait until ``page`` (its html element) is no longer the browser's."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda _: _gone(page))


# What chromedriver may answer instead of "stale" for an element of a page
# that is being replaced at that very moment.
_LEAVING = "does not belong to the document"


def _gone(element: Any) -> bool:
    """The element's page was replaced (selenium's staleness_of, which takes
    chromedriver's answer mid-navigation for an error)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if _LEAVING in (error.msg or ""):
            return True
        raise
    return False


def browser_missing() -> str | None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"


@contextmanager
def chromium() -> Iterator[Any]:
    """A fresh headless Chromium (its own profile directory); skipped on a
    developer's machine without it, a failure under CI=true."""
    why = browser_missing()
    if why:
        unavailable("Chromium", why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="promocredits-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            driver.set_page_load_timeout(30)
            yield driver
        finally:
            driver.quit()


@contextmanager
def console_service(tmp_path: Path, tokens: Mapping[str, str], store_url: str) -> Iterator[ServedApi]:
    """`promocredits serve` and `promocredits projections run` over one
    ledger, so what the console grants reaches its pages."""
    env = {
        **os.environ,
        "PROMOCREDITS_DATABASE_URL": store_url,
        "PROMOCREDITS_VIEWS_DATABASE_URL": views_url_for(store_url, str(tmp_path)),
    }
    with (tmp_path / "projector.log").open("wb") as log:
        projector = subprocess.Popen([str(BIN), "projections", "run"], env=env, stdout=log, stderr=log)
    try:
        with api_process(tmp_path, tokens, store_url) as api:
            yield api
    finally:
        stop_process(projector)


def wait_for_history(base: str, token: str, account_id: str, entries: int, seconds: float = 30) -> None:
    """Until the views hold ``entries`` history lines for the account."""
    url = f"{base}/v1/accounts/{account_id}/promotional-credits/history"
    deadline = time.monotonic() + seconds
    while True:
        answer = httpx.get(url, params={"limit": 500}, headers={"Authorization": f"Bearer {token}"})
        seen = len(orjson.loads(answer.content).get("entries", []))
        if seen >= entries:
            return
        assert time.monotonic() < deadline, f"the views show {seen} of {entries} entries after {seconds}s"
        time.sleep(0.1)
