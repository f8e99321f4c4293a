"""/readyz is 503 with the reason whenever the views do not follow the ledger,
and /metrics shows it; on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import OperationalError

from infra.settings import Settings
from infra.wiring.container import Container
from projections.ledger_views import LedgerViewsProjection
from tests.views_hostile_support import grant_unchecked
from tests.views_support import TOKENS, running_api, views_url_for

VIEWS = LedgerViewsProjection.name


@contextmanager
def serving(store_url: str, tmp_path: Path, **settings: Any) -> Iterator[tuple[Container, str]]:
    container = Container(
        Settings(
            database_url=store_url,
            views_database_url=views_url_for(store_url, str(tmp_path)),
            api_tokens=TOKENS,
            **settings,
        )
    )
    try:
        with running_api(container) as base:
            yield container, base
    finally:
        container.close()


def ready(base: str) -> httpx.Response:
    return httpx.get(f"{base}/readyz", timeout=10)


def gauge(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exposed")


def assert_unready(response: httpx.Response, *detail_parts: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    for part in detail_parts:
        assert part in body["detail"], body
    return body


def within(seconds: float, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


def test_current_views_are_ready_with_their_figures(store_url: str, tmp_path: Path) -> None:
    # given a grant, projected
    with serving(store_url, tmp_path) as (service, base):
        service.ledger.grant("acct-ready", "grant-ready-1", "USD", 100, "promotion")
        service.views_runner.catch_up()
        # when readiness is probed, then it is ready with the current figures
        response = ready(base)
        assert response.status_code == 200
        body = response.json()
        # (which parts this replica leads is shown too; none run here)
        assert isinstance(body.pop("roles"), dict)
        assert body == {
            "status": "ready",
            "event_store_head": 2,
            "projection_position": 2,
            "projection_lag_events": 0,
            "projection_quarantined_events": 0,
        }
        assert gauge(base, "promocredits_projection_quarantined_events") == 0
        assert gauge(base, "promocredits_projection_failing") == 0


def test_events_set_aside_make_the_views_unready(store_url: str, tmp_path: Path) -> None:
    # given an event the views cannot take (a fractional amount), projected past
    with serving(store_url, tmp_path) as (service, base):
        bad = grant_unchecked(service.ledger, "acct-fraction", "grant-fraction", 2.5)
        service.ledger.grant("acct-later", "grant-later-1", "USD", 100, "promotion")
        service.views_runner.catch_up()
        # when readiness is probed, then it is refused naming where, and the metric counts it
        body = assert_unready(ready(base), "set aside", f"position {bad}", "projections rebuild")
        assert body["projection_quarantined_events"] == 1
        assert body["projection_lag_events"] == 0
        assert gauge(base, "promocredits_projection_quarantined_events") == 1


@pytest.mark.parametrize(
    "failure", [OperationalError("connection refused"), RuntimeError("no answer anyone expected")]
)
def test_a_failing_projector_makes_the_views_unready_until_it_recovers(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    with serving(store_url, tmp_path) as (service, base):
        # given a projector whose reads of the event store fail (an outage,
        # or a failure nobody foresaw: the projector must not exit on either)
        runner = service.views_runner
        service.ledger.grant("acct-outage", "grant-outage-1", "USD", 100, "promotion")
        read = runner.notifications.select_notifications
        down = threading.Event()
        down.set()

        def select(*args: Any, **kwargs: Any) -> Any:
            if down.is_set():
                raise failure
            return read(*args, **kwargs)

        monkeypatch.setattr(runner.notifications, "select_notifications", select)
        stop = threading.Event()
        thread = threading.Thread(target=runner.run_until_stopped, args=(stop, 0.05), daemon=True)
        thread.start()
        try:
            # when readiness is probed, then it is refused as failing, and the flag is up
            within(10, lambda: ready(base).status_code == 503)
            assert_unready(ready(base), "projections are failing")
            assert gauge(base, "promocredits_projection_failing") == 1
            # when the store answers again, then the projector catches up by itself
            down.clear()
            within(30, lambda: ready(base).status_code == 200)
            assert ready(base).json()["projection_lag_events"] == 0
            assert gauge(base, "promocredits_projection_failing") == 0
            assert thread.is_alive()
        finally:
            stop.set()
            thread.join(timeout=15)


def test_a_projector_that_stopped_while_events_wait_makes_the_views_unready(
    store_url: str, tmp_path: Path
) -> None:
    with serving(store_url, tmp_path) as (service, base):
        # given a projector whose last pulse was a minute ago
        store = service.views.store
        store.record_status(VIEWS, time.time_ns() // 1_000_000 - 60_000, None)
        assert ready(base).status_code == 200  # nothing waits: idle, not stopped
        # when an event is recorded, then the views are unready as stopped
        service.ledger.grant("acct-stopped", "grant-stopped-1", "USD", 100, "promotion")
        assert_unready(ready(base), "the projector is stopped", "2 event(s) wait")
        # when a projector runs again, then they are ready
        stop = threading.Event()
        thread = threading.Thread(
            target=service.views_runner.run_until_stopped, args=(stop, 0.05), daemon=True
        )
        thread.start()
        try:
            within(10, lambda: ready(base).status_code == 200)
        finally:
            stop.set()
            thread.join(timeout=15)


def test_views_no_projector_ever_ran_on_are_unready_once_events_wait_too_long(
    store_url: str, tmp_path: Path
) -> None:
    with serving(store_url, tmp_path, readiness_max_stall_seconds=1) as (service, base):
        # given an event recorded and no projector running
        service.ledger.grant("acct-idle", "grant-idle-1", "USD", 100, "promotion")
        # when readiness is probed at once, then it is ready: events may wait briefly
        assert ready(base).status_code == 200
        # and when they have waited longer than the stall limit, it is not
        time.sleep(1.2)
        assert_unready(ready(base), "the projector is stopped")
        # when the views catch up, then it is ready again
        service.views_runner.catch_up()
        assert ready(base).status_code == 200


def test_views_lagging_more_than_the_limit_are_unready(store_url: str, tmp_path: Path) -> None:
    with serving(store_url, tmp_path, readiness_max_lag_events=3) as (service, base):
        # given four events recorded and not yet projected
        service.ledger.grant("acct-lag-1", "grant-lag-1", "USD", 100, "promotion")
        service.ledger.grant("acct-lag-2", "grant-lag-2", "USD", 100, "promotion")
        # when readiness is probed, then it is refused naming the lag and the limit
        body = assert_unready(ready(base), "lag 4 events", "more than 3")
        assert body["projection_lag_events"] == 4
        # when the views catch up, then it is ready
        service.views_runner.catch_up()
        assert ready(base).status_code == 200
