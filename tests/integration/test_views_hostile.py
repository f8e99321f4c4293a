"""The views take whatever the event store already holds, exactly, and never
freeze silently: totals past 64 bits, text PostgreSQL cannot store, events
they cannot take at all. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from eventsourcing.persistence import StoredEvent

from application.audit.verify import VIEW_MISMATCH
from domain.credit_account import CreditAccount
from infra.adapters.store.raw_log import raw_log
from infra.adapters.views.factory import ViewDatabase
from infra.entrypoints.cli.audit_runs import verify_store
from infra.settings import Settings
from infra.wiring.container import Container
from projections.changes import HistoryRow
from projections.ledger_views import LedgerViewsProjection
from projections.runner import ViewsRunner
from tests.views_hostile_support import grant_unchecked, invoice_unchecked, opened_unchecked
from tests.views_support import TOKENS, bearer, running_api, views_url_for

VIEWS = LedgerViewsProjection.name
# Each past 2^63 on its own once added twice; grants of a release without bounds.
HUGE = 6 * 10**18
ANALYST = "tok-auditor"


@pytest.fixture
def service(store_url: str, tmp_path: Path) -> Iterator[Container]:
    built = Container(
        Settings(
            database_url=store_url,
            views_database_url=views_url_for(store_url, str(tmp_path)),
            api_tokens=TOKENS,
        )
    )
    yield built
    built.close()


def uuid_of(account_id: str) -> str:
    return str(CreditAccount.id_for(account_id))


def runner_on(service: Container, views: ViewDatabase) -> ViewsRunner:
    ledger = service.ledger
    return ViewsRunner(LedgerViewsProjection(view=views.recorder), ledger.recorder, ledger.mapper, VIEWS)


def rebuilt_rows(service: Container, tmp_path: Path) -> dict[str, list[tuple[object, ...]]]:
    views = ViewDatabase(f"sqlite:///{tmp_path}/rebuilt.db")
    try:
        runner_on(service, views).rebuild()
        return views.store.dump()
    finally:
        views.close()


# Exact sums


def test_totals_past_64_bits_are_exact_in_every_view_and_response(service: Container, tmp_path: Path) -> None:
    # given three accounts granted 2 x 6e18 each by a release without bounds,
    # one invoice taking 1e18, and an ordinary grant
    ledger = service.ledger
    for account in ("acct-huge-1", "acct-huge-2", "acct-huge-3"):
        grant_unchecked(ledger, account, "grant-huge-a", HUGE)
        grant_unchecked(ledger, account, "grant-huge-b", HUGE)
    invoice_unchecked(ledger, "acct-huge-1", "inv-huge-1", 10**18)
    ledger.grant("acct-plain", "grant-plain-1", "USD", 250, "refund")
    # when the views catch up
    service.views_runner.catch_up()
    # then every total is the exact integer
    store = service.views.store
    view = store.account(uuid_of("acct-huge-1"))
    assert view is not None
    (usd,) = view.balances
    assert (usd.balance_minor, usd.granted_minor, usd.applied_minor) == (2 * HUGE - 10**18, 2 * HUGE, 10**18)
    assert type(usd.granted_minor) is int
    (liability,) = store.liability()
    assert liability.liability_minor == 6 * HUGE - 10**18 + 250
    assert liability.accounts_with_balance == 4
    (day,) = store.daily("USD", None, None)
    assert day.granted_minor == 6 * HUGE + 250
    assert day.applied_minor == 10**18
    assert day.granted_by_reason == {"promotion": 6 * HUGE, "refund": 250}
    assert store.health(VIEWS).quarantined == 0
    # and the HTTP API answers them as JSON integers, digit for digit
    with running_api(service) as base:
        answer = httpx.get(f"{base}/v1/analytics/liability", headers=bearer(ANALYST), timeout=10)
        daily = httpx.get(f"{base}/v1/analytics/daily", headers=bearer(ANALYST), timeout=10)
        balance = httpx.get(
            f"{base}/v1/accounts/acct-huge-1/promotional-credits", headers=bearer("tok-reader"), timeout=10
        )
    assert answer.status_code == daily.status_code == balance.status_code == 200
    assert f'"liability_minor":{6 * HUGE - 10**18 + 250}' in answer.text
    assert daily.json()["days"][0]["granted_by_reason"]["promotion"] == 6 * HUGE
    assert balance.json()["balances"][0]["granted_minor"] == 2 * HUGE
    # and a rebuild elsewhere holds the same rows
    assert rebuilt_rows(service, tmp_path) == store.dump()


@pytest.mark.timeout(300)
def test_the_liability_of_ten_thousand_accounts_at_the_balance_cap_is_exact(service: Container) -> None:
    # given 10,000 accounts each granted the largest balance allowed, 10^15
    ledger = service.ledger
    cap = 10**15
    for start in range(0, 10_000, 1_000):
        accounts = [opened_unchecked(f"acct-cap-{n:05d}") for n in range(start, start + 1_000)]
        for account in accounts:
            account.grant("grant-cap", "EUR", cap, "promotion", "")
        ledger.save(*accounts)
    # when the views catch up
    service.views_runner.catch_up()
    # then the liability is their exact sum, past 2^63
    (liability,) = service.views.store.liability()
    assert liability.liability_minor == 10_000 * cap > 2**63
    assert liability.accounts_with_balance == 10_000
    (day,) = service.views.store.daily(None, None, None)
    assert day.granted_by_reason == {"promotion": 10_000 * cap}


# Text a database cannot store


def test_a_nul_in_stored_text_is_replaced_and_the_views_go_on(
    service: Container, caplog: pytest.LogCaptureFixture
) -> None:
    # given an account id and a note holding NUL, recorded before validation existed
    ledger = service.ledger
    grant_unchecked(ledger, "acct-nul\x00id", "grant-nul", 700, note="a\x00b")
    # and later an ordinary grant to another account
    ledger.grant("acct-after-nul", "grant-after", "EUR", 300, "goodwill")
    # when the views catch up
    caplog.set_level(logging.INFO)
    service.views_runner.catch_up()
    # then the NUL reads as U+FFFD, nothing is set aside, and the views are current
    store = service.views.store
    (row,) = store.history(uuid_of("acct-nul\x00id"), 10, None)
    assert row.note == "a\ufffdb"
    view = store.account(uuid_of("acct-nul\x00id"))
    assert view is not None
    assert view.account_id == "acct-nul\ufffdid"
    assert store.health(VIEWS).quarantined == 0
    assert service.views_runner.lag() == 0
    later = store.account(uuid_of("acct-after-nul"))
    assert later is not None
    assert [b.balance_minor for b in later.balances] == [300]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Events the views cannot take


def test_an_event_the_views_cannot_take_is_set_aside_once_and_the_views_go_on(
    service: Container, caplog: pytest.LogCaptureFixture
) -> None:
    # given a grant of 1.5 minor units (not a whole number) recorded long ago,
    # and grants to other accounts after it
    ledger = service.ledger
    ledger.grant("acct-before", "grant-before", "USD", 100, "promotion")
    bad = grant_unchecked(ledger, "acct-fraction", "grant-fraction", 1.5)
    ledger.grant("acct-after", "grant-after", "USD", 200, "promotion")
    # when the views catch up
    caplog.set_level(logging.INFO)
    service.views_runner.catch_up()
    # then that event alone is set aside, with its position and error, durably
    store = service.views.store
    health = store.health(VIEWS)
    assert health.quarantined == 1
    assert health.first_quarantined is not None
    assert health.first_quarantined.notification_id == bad
    assert "must be int, the event holds 1.5" in health.first_quarantined.error
    # and one log line names its position and the error
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1
    assert f"position {bad}" in lines[0] and "the event holds 1.5" in lines[0]
    # and every other event is in the views, the position at the head
    assert service.views_runner.lag() == 0
    for account, balance in (("acct-before", 100), ("acct-after", 200)):
        view = store.account(uuid_of(account))
        assert view is not None
        assert [b.balance_minor for b in view.balances] == [balance]
    # when the projector restarts and catches up, then nothing is set aside twice
    other = ViewDatabase(service.settings.views_url)
    runner_on(service, other).catch_up()
    assert other.store.health(VIEWS).quarantined == 1
    other.close()
    # and a rebuild tries it again and sets it aside again
    service.views_runner.rebuild()
    assert store.health(VIEWS).quarantined == 1
    assert service.views_runner.lag() == 0


def test_an_event_that_cannot_be_decoded_is_set_aside(service: Container) -> None:
    # given a stored event of a type this release does not know, between two grants
    ledger = service.ledger
    ledger.grant("acct-known-1", "grant-known-1", "EUR", 40, "refund")
    stranger = StoredEvent(uuid4(), 1, "domain.credit_account:CreditAccount.Vanished", b"{}")
    recorded = ledger.recorder.insert_events([stranger])
    assert recorded is not None
    (unknown,) = recorded
    ledger.grant("acct-known-2", "grant-known-2", "EUR", 60, "refund")
    # when the views catch up
    service.views_runner.catch_up()
    # then it alone is set aside and both grants are in the views
    health = service.views.store.health(VIEWS)
    assert (health.quarantined, health.position) == (1, service.views_runner.head())
    assert health.first_quarantined is not None
    assert health.first_quarantined.notification_id == unknown
    (liability,) = service.views.store.liability()
    assert liability.liability_minor == 100


def test_an_event_the_database_refuses_is_found_in_its_batch_and_set_aside(
    service: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a batch of grants, one of which the database refuses every time
    ledger = service.ledger
    for n in range(6):
        ledger.grant(f"acct-batch-{n}", f"grant-batch-{n}", "USD", 10 + n, "promotion")
    recorder: Any = service.views.recorder
    write = recorder._write

    def refusing(c: Any, changes: Any) -> None:
        if any(isinstance(ch, HistoryRow) and ch.business_key == "grant-batch-3" for ch in changes):
            raise OverflowError("refused by the database")
        write(c, changes)

    monkeypatch.setattr(recorder, "_write", refusing)
    # when the views catch up
    service.views_runner.catch_up()
    # then only that grant is set aside and every other one is projected
    health = service.views.store.health(VIEWS)
    assert health.quarantined == 1
    assert health.first_quarantined is not None
    assert health.first_quarantined.error == "OverflowError: refused by the database"
    assert service.views_runner.lag() == 0
    seen = {n for n in range(6) if service.views.store.account(uuid_of(f"acct-batch-{n}")) is not None}
    # the grant's account was opened by an event of its own, which went through
    assert seen == set(range(6))
    refused = service.views.store.account(uuid_of("acct-batch-3"))
    assert refused is not None and refused.balances == []
    # and a rebuild, which the database refuses too, ends with the same views
    projected = service.views.store.dump()
    service.views_runner.rebuild()
    assert service.views.store.dump() == projected
    assert service.views.store.health(VIEWS).quarantined == 1
    # and `audit verify` reports the views that now disagree with the replay
    report = verify_store(raw_log(service.settings.database_url), service.audit_views)
    assert [(f.kind, f.account_id) for f in report.findings] == [(VIEW_MISMATCH, "acct-batch-3")]


# Input refused or accepted at the edge


def test_the_views_stay_live_after_hostile_requests(service: Container) -> None:
    # given the projector running beside the API
    stop = threading.Event()
    projector = threading.Thread(
        target=service.views_runner.run_until_stopped, args=(stop, 0.05), daemon=True
    )
    projector.start()
    try:
        with running_api(service) as base:
            grants = f"{base}/v1/accounts/{{}}/promotional-credits/grants"
            operator = bearer("tok-operator")
            # when hostile grants are posted: NUL and a lone surrogate in the
            # note, an amount past the balance bound, a float amount
            hostile: list[dict[str, Any]] = [
                {"note": "a\x00b"},
                {"note": "\ud800"},
                {"amount_minor": 10**15 + 1},
                {"amount_minor": 2**64},
                {"amount_minor": 1.5},
            ]
            for n, fields in enumerate(hostile):
                body = {"grant_id": f"grant-hostile-{n}", "amount_minor": 100, "currency": "USD"}
                body |= {"reason": "promotion", **fields}
                content = json.dumps(body, ensure_ascii=True).encode()
                response = httpx.post(
                    grants.format("acct-hostile"),
                    content=content,
                    headers={**operator, "Content-Type": "application/json"},
                    timeout=10,
                )
                # then each is refused as invalid
                assert 400 <= response.status_code < 500, (fields, response.text)
            # and a grant to another account afterwards still reaches the views
            accepted = {"grant_id": "grant-calm-1", "amount_minor": 321, "currency": "USD"}
            accepted["reason"] = "refund"
            assert httpx.post(grants.format("acct-calm"), json=accepted, headers=operator).status_code == 201
            reader = bearer("tok-reader")
            deadline = time.monotonic() + 5
            while True:
                view = httpx.get(f"{base}/v1/accounts/acct-calm/promotional-credits", headers=reader).json()
                if view["visible"]:
                    break
                assert time.monotonic() < deadline, "the grant did not reach the views"
                time.sleep(0.05)
            assert view["balances"][0]["balance_minor"] == 321
            ready = httpx.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["projection_quarantined_events"] == 0
    finally:
        stop.set()
        projector.join(timeout=15)
