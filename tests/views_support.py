"""Helpers for the read-model tests: a real uvicorn server on a free port."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from application.ledger import InvoiceRequest, Ledger, VoidRequest
from infra.entrypoints.api.server import ApiServerError
from infra.entrypoints.workers import parts
from infra.wiring.container import Container

TOKENS = {"tok-reader": "reader", "tok-operator": "operator", "tok-auditor": "auditor"}


def views_url_for(store_url: str, tmp_dir: str) -> str:
    """Views next to the store: a second SQLite file, or the same PostgreSQL
    database (view tables and the event tables have distinct names)."""
    return f"sqlite:///{tmp_dir}/views.db" if store_url.startswith("sqlite") else store_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _ServerErrors(logging.Handler):
    """Collects what the server logs at ERROR or above: an unexpected
    exception in a request handler becomes a 500 and a log line, nothing
    the client side of a test necessarily looks at."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_SERVER_LOGGERS = ("promocredits.api", "uvicorn.error")


@contextmanager
def running_api(container: Container, allow_server_errors: bool = False) -> Iterator[str]:
    """Serve the API over real HTTP in a thread; yields its base URL.

    Fails the test if the server thread fails at any time, or (unless
    ``allow_server_errors``) if the server logged an error while it ran.
    """
    logged = _ServerErrors()
    for name in _SERVER_LOGGERS:
        logging.getLogger(name).addHandler(logged)
    try:
        with _serving(container, on_retry=logged.records.clear) as (base, errors):
            yield base
        assert not errors, errors
        if not allow_server_errors:
            assert not logged.records, [record.getMessage() for record in logged.records]
    finally:
        for name in _SERVER_LOGGERS:
            logging.getLogger(name).removeHandler(logged)


@contextmanager
def _serving(container: Container, on_retry: Callable[[], None]) -> Iterator[tuple[str, list[BaseException]]]:
    # A free port can be taken by another process between the probe and the
    # bind: then the server fails at once with ApiServerError, and another port
    # is tried.
    for _attempt in range(5):
        port = free_port()
        stop = threading.Event()
        errors: list[BaseException] = []

        def serve(
            port: int = port, stop: threading.Event = stop, errors: list[BaseException] = errors
        ) -> None:
            try:
                parts.api(container, "127.0.0.1", port).run(stop)
            except BaseException as error:  # surfaced by the caller, not lost in the thread
                errors.append(error)

        thread = threading.Thread(target=serve, name="api-under-test", daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        if _wait_until_healthy(base, errors):
            break
        thread.join(timeout=30)
        on_retry()  # (uvicorn logged the failed bind as an error)
    else:
        raise AssertionError(f"the API server never started: {errors}")
    try:
        yield base, errors
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the API server did not stop within 30 s"


def _wait_until_healthy(base: str, errors: list[BaseException]) -> bool:
    """True once /healthz answers; False if the server could not bind."""
    deadline = time.monotonic() + 60
    while True:
        if errors:
            if all(isinstance(error, ApiServerError) for error in errors):
                return False
            raise AssertionError(f"the API server failed to start: {errors}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API server did not start within 60 s"
        time.sleep(0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_history(ledger: Ledger, accounts: int = 12, rounds: int = 3) -> None:
    """A varied, deterministic history: grants for every reason in three
    currencies, invoices with and without credits (in batches, as the
    consumer writes them), calling-credit purchases, voids (of decided
    invoices, repeated, and before their invoice), and repeated commands."""
    reasons = ("compensation", "refund", "promotion", "goodwill")
    currencies = ("USD", "EUR", "JPY")
    for r in range(rounds):
        for a in range(accounts):
            account = f"acct-{a:03d}"
            currency = currencies[(a + r) % 3]
            if (a + r) % 4 != 3:  # some accounts get nothing this round
                ledger.grant(account, f"grant-{a}-{r}", currency, 500 + 37 * a + r, reasons[(a + r) % 4])
            if a % 5 == 0:
                ledger.buy_calling_credits(account, f"purchase-{a}-{r}", currency, 120 + a)
        ledger.apply_invoices(
            [
                InvoiceRequest(
                    f"acct-{a:03d}", f"inv-{r}-{a}", currencies[(a * 7 + r) % 3], (a * 131 + r * 17) % 900
                )
                for a in range(accounts)
            ]
        )
        ledger.settle(
            [
                *(VoidRequest(f"acct-{a:03d}", f"inv-{r}-{a}") for a in range(0, accounts, 3)),
                VoidRequest("acct-001", f"inv-{r}-1"),
                VoidRequest("acct-001", f"inv-{r}-1"),
                VoidRequest("acct-002", f"inv-{r + 1}-2"),
            ]
        )
        # a retried grant changes nothing and records nothing
        ledger.grant("acct-000", "grant-0-0", currencies[0], 500, reasons[0])
