"""A views database written by an earlier release keeps working: opened, it is
emptied once and rebuilt from the event log; on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.adapters.views import schema
from infra.adapters.views.factory import ViewDatabase
from infra.adapters.views.store import ViewsSchemaError
from infra.settings import Settings
from infra.wiring.container import Container
from projections.ledger_views import LedgerViewsProjection
from projections.runner import ViewsRunner
from tests.views_hostile_support import grant_unchecked
from tests.views_support import views_url_for, write_history

VIEWS = LedgerViewsProjection.name

# The view tables as the first release created them: money in BIGINT columns,
# no liability table, no version row.
FIRST_RELEASE_TABLES = [
    "CREATE TABLE view_accounts ("
    "account_uuid TEXT PRIMARY KEY, account_id TEXT, last_activity_at TEXT NOT NULL)",
    "CREATE TABLE view_balances ("
    "account_uuid TEXT NOT NULL, currency TEXT NOT NULL, balance_minor BIGINT NOT NULL, "
    "granted_minor BIGINT NOT NULL, applied_minor BIGINT NOT NULL, "
    "calling_credits_minor BIGINT NOT NULL, last_activity_at TEXT NOT NULL, "
    "PRIMARY KEY (account_uuid, currency))",
    "CREATE TABLE view_history ("
    "account_uuid TEXT NOT NULL, version BIGINT NOT NULL, notification_id BIGINT NOT NULL, "
    "event_id TEXT NOT NULL, type TEXT NOT NULL, business_key TEXT NOT NULL, currency TEXT NOT NULL, "
    "amount_minor BIGINT NOT NULL, balance_minor BIGINT NOT NULL, occurred_at TEXT NOT NULL, "
    "invoice_total_minor BIGINT, amount_due_minor BIGINT, price_minor BIGINT, reason TEXT, note TEXT, "
    "PRIMARY KEY (account_uuid, version))",
    "CREATE TABLE view_daily ("
    "day TEXT NOT NULL, currency TEXT NOT NULL, granted_minor BIGINT NOT NULL, "
    "applied_minor BIGINT NOT NULL, calling_credits_minor BIGINT NOT NULL, "
    "invoices_decided BIGINT NOT NULL, invoices_touched BIGINT NOT NULL, PRIMARY KEY (day, currency))",
    "CREATE TABLE view_daily_grants ("
    "day TEXT NOT NULL, currency TEXT NOT NULL, reason TEXT NOT NULL, granted_minor BIGINT NOT NULL, "
    "PRIMARY KEY (day, currency, reason))",
]


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=store_url, views_database_url=views_url_for(store_url, str(tmp_path)))


@pytest.fixture
def first_release_views(settings: Settings) -> Iterator[int]:
    """A history, and views of it as the first release left them (with one
    stale row to show they are not kept); yields the views' position."""
    container = Container(settings)
    write_history(container.ledger, accounts=8, rounds=2)
    container.views_runner.catch_up()
    position = container.views_runner.position()
    with sql(container.views) as c:
        for statement in schema.drop_statements():
            c.execute(statement)
        c.execute(f"DROP TABLE {schema.SCHEMA_TABLE}")
        for statement in FIRST_RELEASE_TABLES:
            c.execute(statement)
        c.execute("INSERT INTO view_balances VALUES ('stale', 'USD', 5, 5, 0, 0, '2026-01-01T00:00:00Z')")
    container.close()
    yield position


def sql(views: ViewDatabase) -> Any:
    return views.recorder.datastore.transaction(commit=True)


def schema_version(views: ViewDatabase) -> int:
    with sql(views) as c:
        c.execute(schema.SELECT_SCHEMA_VERSION)
        return int(c.fetchone()["version"])


def test_views_of_the_first_release_are_emptied_and_rebuilt_when_opened(
    settings: Settings, first_release_views: int, tmp_path: Path
) -> None:
    # when the service opens the views of the first release
    container = Container(settings)
    views = container.views
    # then they are at this release's version, empty, their position forgotten
    assert schema_version(views) == schema.SCHEMA_VERSION
    assert all(rows == [] for rows in views.store.dump().values())
    assert container.views_runner.position() == 0
    # when the projector catches up
    container.views_runner.catch_up()
    # then they equal views built from scratch, and hold totals past 2^63
    assert container.views_runner.position() == first_release_views
    fresh = ViewDatabase(f"sqlite:///{tmp_path}/fresh.db")
    ledger = container.ledger
    ViewsRunner(LedgerViewsProjection(view=fresh.recorder), ledger.recorder, ledger.mapper, VIEWS).rebuild()
    assert views.store.dump() == fresh.store.dump()
    fresh.close()
    grant_unchecked(ledger, "acct-000", "grant-huge", 2**64)
    container.views_runner.catch_up()
    assert max(row.liability_minor for row in views.store.liability()) > 2**64
    container.close()


def test_processes_opening_old_views_at_once_upgrade_them_once(
    settings: Settings, first_release_views: int
) -> None:
    # when four processes' worth of connections open the old views together
    opened: list[ViewDatabase] = []
    errors: list[BaseException] = []

    def open_views() -> None:
        try:
            opened.append(ViewDatabase(settings.views_url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_views) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then every one opens them, at this release's version
    assert errors == []
    assert len(opened) == 4
    assert all(schema_version(views) == schema.SCHEMA_VERSION for views in opened)
    # and once projected, the views stay: a later opening empties nothing
    container = Container(settings)
    container.views_runner.catch_up()
    before = container.views.store.dump()
    again = ViewDatabase(settings.views_url)
    assert again.store.dump() == before
    assert container.views_runner.position() == first_release_views
    for views in [*opened, again]:
        views.close()
    container.close()


def test_views_of_a_newer_release_are_left_alone(settings: Settings) -> None:
    # given views stamped by a release newer than this one
    views = ViewDatabase(settings.views_url)
    with sql(views) as c:
        c.execute(schema.SET_SCHEMA_VERSION.replace(":version", str(schema.SCHEMA_VERSION + 1)))
    views.close()
    # when this release opens them, then it refuses, naming both versions
    with pytest.raises(ViewsSchemaError, match=f"version {schema.SCHEMA_VERSION + 1}"):
        ViewDatabase(settings.views_url)
