"""Helpers for the read-model tests: a real uvicorn server on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from infra.api.server import ApiComponent
from infra.container import Container

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
            ApiComponent(container, "127.0.0.1", port).run(stop)
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
