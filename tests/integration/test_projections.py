"""The projections: views agree with the ledger, rebuilds reproduce them row for
row, and every event is applied exactly once even with two runners."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking

from application.ledger import Ledger
from infra.adapters.views.factory import ViewDatabase
from infra.settings import Settings
from infra.wiring.container import Container
from projections.ledger_views import LedgerViewsProjection
from projections.ports import BalanceRow, ViewStore
from projections.runner import ViewsRunner
from tests.conftest import fresh_postgres_database
from tests.threads import CheckedThread
from tests.views_support import views_url_for, write_history


@pytest.fixture
def views_container(store_url: str, tmp_path: Path) -> Iterator[Container]:
    built = Container(
        Settings(database_url=store_url, views_database_url=views_url_for(store_url, str(tmp_path)))
    )
    yield built
    built.close()


def runner_on(container: Container, views: ViewDatabase, batch_size: int = 500) -> ViewsRunner:
    ledger = container.ledger
    projection = LedgerViewsProjection(view=views.recorder)
    return ViewsRunner(
        projection, ledger.recorder, ledger.mapper, LedgerViewsProjection.name, batch_size=batch_size
    )


def rebuilt_elsewhere(container: Container, url: str) -> dict[str, list[tuple[object, ...]]]:
    """The views rebuilt from scratch in another database."""
    views = ViewDatabase(url)
    try:
        runner_on(container, views).rebuild()
        return views.store.dump()
    finally:
        views.close()


def test_the_views_agree_with_the_ledger(views_container: Container) -> None:
    # given a varied history, projected
    ledger = views_container.ledger
    write_history(ledger)
    views_container.views_runner.catch_up()
    store = views_container.views.store
    accounts = sorted({row[1] for row in store.dump()["view_accounts"]})
    assert len(accounts) == 12
    liability: dict[str, int] = {}
    granted_total = 0
    for account_id in accounts:
        account = ledger.account(account_id)
        assert account is not None
        view = store.account(str(account.id))
        assert view is not None
        # then each balance row is the ledger's balance and totals
        assert {b.currency: b.balance_minor for b in view.balances} == account.balances
        for row in view.balances:
            assert (row.granted_minor, row.applied_minor, row.calling_credits_minor) == account.totals(
                row.currency
            )
            assert row.restored_minor == account.restored(row.currency)
            liability[row.currency] = liability.get(row.currency, 0) + row.balance_minor
            granted_total += row.granted_minor
        assert view.visible == account.visible
        # and the history rows are the ledger's history, newest first
        rows = store.history(str(account.id), 1000, None)
        assert [r.event_id for r in rows] == [e["event_id"] for e in reversed(ledger.history(account_id))]
    # and the liability is the sum of the balances
    assert {row.currency: row.liability_minor for row in store.liability()} == liability
    # and the daily totals add up to the balances' totals
    days = store.daily(None, None, None)
    assert sum(d.granted_minor for d in days) == granted_total
    # and the credits restored by voids are counted per day, as in the balances
    restored_total = sum(b.restored_minor for a in accounts for b in _balances(store, ledger, a))
    assert sum(d.restored_minor for d in days) == restored_total > 0
    assert all(sum(d.granted_by_reason.values()) == d.granted_minor for d in days)


def _balances(store: ViewStore, ledger: Ledger, account_id: str) -> list[BalanceRow]:
    account = ledger.account(account_id)
    view = store.account(str(account.id)) if account else None
    return view.balances if view else []


def test_projecting_in_small_batches_between_writes_equals_a_rebuild(
    views_container: Container, tmp_path: Path
) -> None:
    # given views kept live in batches of 7 while the history grows
    ledger = views_container.ledger
    live = runner_on(views_container, views_container.views, batch_size=7)
    write_history(ledger, accounts=6, rounds=1)
    live.catch_up()
    write_history(ledger, accounts=9, rounds=2)
    for _ in range(3):
        live.step()
    write_history(ledger, accounts=4, rounds=1)
    live.catch_up()
    assert live.lag() == 0
    live_rows = views_container.views.store.dump()
    # when the views are rebuilt from the full history, in place and elsewhere
    assert rebuilt_elsewhere(views_container, f"sqlite:///{tmp_path}/rebuilt.db") == live_rows
    views_container.views_runner.rebuild()
    # then every view equals the live one, row for row
    assert views_container.views.store.dump() == live_rows
    assert views_container.views_runner.lag() == 0


def test_two_runners_on_one_view_database_apply_every_event_once(
    views_container: Container, tmp_path: Path
) -> None:
    # given a history and two runners with their own connections on one view database
    write_history(views_container.ledger)
    other = ViewDatabase(views_container.settings.views_url)
    runners = [runner_on(views_container, views_container.views, 5), runner_on(views_container, other, 5)]
    # when both catch up at the same time
    threads = [CheckedThread(runner.catch_up, name=f"runner-{n}") for n, runner in enumerate(runners)]
    for thread in threads:
        thread.start()
    # (a runner that died half-way would leave the other to do all the work:
    # the views would still look right, so its failure must fail the test)
    for thread in threads:
        thread.finish(timeout=120)
    other.close()
    # then the views equal a single clean pass: nothing applied twice
    assert views_container.views.store.dump() == rebuilt_elsewhere(
        views_container, f"sqlite:///{tmp_path}/once.db"
    )


@pytest.mark.postgres
def test_views_are_identical_on_sqlite_and_postgresql(tmp_path: Path, postgres_server: str) -> None:
    # given one history
    container = Container(Settings(database_url=f"sqlite:///{tmp_path}/ledger.db"))
    write_history(container.ledger)
    # when it is projected into SQLite and into PostgreSQL
    on_sqlite = rebuilt_elsewhere(container, f"sqlite:///{tmp_path}/views.db")
    on_postgres = rebuilt_elsewhere(container, fresh_postgres_database(postgres_server))
    container.close()
    # then both hold the same rows
    assert sum(len(rows) for rows in on_sqlite.values()) > 100
    assert on_postgres == on_sqlite


def test_readers_see_the_old_views_until_a_rebuild_completes(views_container: Container) -> None:
    # given live views of a history
    write_history(views_container.ledger)
    views_container.views_runner.catch_up()
    before = views_container.views.store.dump()
    # when a rebuild runs in small batches, and a reader looks between batches
    reader = ViewDatabase(views_container.settings.views_url)
    seen: list[dict[str, list[tuple[object, ...]]]] = []
    rebuilding = runner_on(views_container, views_container.views, batch_size=10)
    rebuilding.rebuild(
        lambda position, target: seen.append(reader.store.dump()) if position < target else None
    )
    reader.close()
    # then every look showed the complete old views, never a half-built one
    assert len(seen) > 5
    assert all(look == before for look in seen)
    assert views_container.views.store.dump() == before


def test_views_may_share_the_ledgers_database_without_mixing_positions(store_url: str) -> None:
    # given views in the event store's own database, where the relay records
    # its position of the ledger too
    container = Container(Settings(database_url=store_url, views_database_url=store_url))
    write_history(container.ledger, accounts=5, rounds=1)
    head = container.views_runner.head()
    container.ledger.factory.tracking_recorder().insert_tracking(Tracking(container.ledger.name, head))
    # when the views catch up
    container.views_runner.catch_up()
    # then they hold every event, not skipped by the relay's position
    assert container.views_runner.position() == head
    assert len(container.views.store.dump()["view_accounts"]) == 5
    container.close()
