"""Helpers for the read-model tests: a real uvicorn server on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from application.ledger import InvoiceRequest, Ledger
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


@contextmanager
def running_api(container: Container) -> Iterator[str]:
    """Serve the API over real HTTP in a thread; yields its base URL."""
    port = free_port()
    stop = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            parts.api(container, "127.0.0.1", port).run(stop)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=serve, name="api-under-test", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        assert not errors, errors
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        stop.set()
        thread.join(timeout=15)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_history(ledger: Ledger, accounts: int = 12, rounds: int = 3) -> None:
    """A varied, deterministic history: grants for every reason in three
    currencies, invoices with and without credits (in batches, as the
    consumer writes them), calling-credit purchases, and repeated commands."""
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
        # a retried grant changes nothing and records nothing
        ledger.grant("acct-000", "grant-0-0", currencies[0], 500, reasons[0])
