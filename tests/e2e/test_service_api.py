"""`promocredits run` serves the API beside the consumer: a grant posted over
HTTP and an invoice sent through Kafka both reach the balance and history
endpoints while it runs, with no catch-up asked for."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.kafka_server import invoice, kafka_bootstrap, pipeline_settings, produce, settings_env
from tests.views_support import TOKENS, bearer, free_port

__all__ = ["kafka_bootstrap"]

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]

BIN = Path(sys.executable).parent / "promocredits"
ALICE = "acct-alice"
# The views follow the ledger within a second on an idle machine; a loaded
# two-core one can take several, which is slow, not wrong.
VIEWS_DEADLINE = 15.0


def within(seconds: float, probe: Callable[[], Any], accept: Callable[[Any], bool]) -> Any:
    started = time.monotonic()
    while True:
        seen = probe()
        if accept(seen):
            return seen
        assert time.monotonic() - started < seconds, f"not within {seconds}s: {seen}"
        time.sleep(0.02)


def test_grants_over_http_and_invoices_over_kafka_reach_the_views(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # given the whole service running in one process, on the embedded store
    port = free_port()
    settings = pipeline_settings(
        f"sqlite:///{tmp_path}/ledger.db",
        kafka_bootstrap,
        views_database_url=f"sqlite:///{tmp_path}/views.db",
        api_port=port,
    )
    env = settings_env(settings)
    env["PROMOCREDITS_API_TOKENS"] = orjson.dumps(TOKENS).decode()
    base = f"http://127.0.0.1:{port}"
    reader, operator = bearer("tok-reader"), bearer("tok-operator")
    with (tmp_path / "run.log").open("ab") as log:
        process = subprocess.Popen([str(BIN), "run"], env=env, stdout=log, stderr=log)
    try:
        within(60, lambda: _status(f"{base}/readyz"), lambda status: status == 200)
        # when a grant of 30.00 is posted over HTTP
        posted = httpx.post(
            f"{base}/v1/accounts/{ALICE}/promotional-credits/grants",
            headers=operator,
            json={"grant_id": "grant-001", "amount_minor": 3000, "currency": "USD", "reason": "goodwill"},
        )
        assert posted.status_code == 201, posted.text
        # then the balance endpoint shows it (within a second on an idle
        # machine; the deadline leaves room for a loaded one, where a missed
        # second is no broken behaviour)
        balance_url = f"{base}/v1/accounts/{ALICE}/promotional-credits"
        within(VIEWS_DEADLINE, lambda: httpx.get(balance_url, headers=reader).json(), lambda b: b["visible"])
        # when an invoice of 12.00 arrives through Kafka
        produce(kafka_bootstrap, settings.invoices_topic, [(ALICE, invoice(ALICE, "inv-2026-001", 1200))])
        # then within a second (of the consumer first seeing the topic) the
        # balance and the history show the credits applied to it
        history_url = f"{base}/v1/accounts/{ALICE}/promotional-credits/history"
        history = within(
            20, lambda: httpx.get(history_url, headers=reader).json(), lambda h: len(h["entries"]) == 2
        )
        assert history["entries"][0]["invoice_id"] == "inv-2026-001"
        assert history["entries"][0]["amount_minor"] == 1200
        balance = httpx.get(balance_url, headers=reader).json()
        assert balance["balances"][0]["balance_minor"] == 1800
        assert balance["balances"][0]["applied_minor"] == 1200
        # a second invoice, with the consumer already assigned, must be fast
        produce(kafka_bootstrap, settings.invoices_topic, [(ALICE, invoice(ALICE, "inv-2026-002", 500))])
        within(
            VIEWS_DEADLINE,
            lambda: httpx.get(history_url, headers=reader).json(),
            lambda h: len(h["entries"]) == 3,
        )
        # and /metrics counts what every part of the service did, though each
        # runs in a process of its own
        exposition = httpx.get(f"{base}/metrics").text
        assert "promocredits_invoices_settled_total 2.0" in exposition
        assert "promocredits_invoices_consumed_total 2.0" in exposition
        assert 'route="/v1/accounts/{account_id}/promotional-credits/grants",status="201"' in exposition
        assert "promocredits_projection_lag_events" in exposition
    finally:
        process.terminate()
        process.wait(timeout=30)


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=1).status_code
    except httpx.TransportError:
        return 0
