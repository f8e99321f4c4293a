"""Verification compares the balance view with the replay, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from application.audit.verify import VIEW_MISMATCH
from infra.adapters.store.raw_log import raw_log
from infra.entrypoints.cli.audit_runs import verify_store
from infra.settings import Settings
from infra.wiring.container import Container
from tests.integration.audit_support import build_history
from tests.views_support import views_url_for


@pytest.fixture
def service(store_url: str, tmp_path: Path) -> Iterator[Container]:
    built = Container(
        Settings(database_url=store_url, views_database_url=views_url_for(store_url, str(tmp_path)))
    )
    yield built
    built.close()


def test_views_that_agree_with_the_record_verify_clean(service: Container) -> None:
    # given a history projected into the views
    build_history(service.ledger, rounds=3)
    service.views_runner.catch_up()
    # when the store is verified with the views
    report = verify_store(raw_log(service.settings.database_url), service.audit_views)
    # then the views were compared at their own position and nothing differs
    assert report.findings == []
    assert report.views_compared_at == service.ledger.recorder.max_notification_id()


def test_a_balance_view_that_differs_from_the_replay_is_located(service: Container) -> None:
    # given projected views, then one balance row changed behind the projection's back
    build_history(service.ledger, rounds=3)
    service.views_runner.catch_up()
    with service.views.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute("UPDATE view_balances SET balance_minor = balance_minor + 1")
    views = service.audit_views
    assert views is not None
    snapshot = views.snapshot()
    # when the store is verified with the views
    report = verify_store(raw_log(service.settings.database_url), views)
    # then every balance row is named as a view mismatch at the views' position
    mismatches = [f for f in report.findings if f.kind == VIEW_MISMATCH]
    assert len(mismatches) == len(snapshot.balances) > 0
    assert {f.position for f in mismatches} == {snapshot.position}
    assert {(f.account_id, f.currency) for f in mismatches} == {
        (b.account_id, b.currency) for b in snapshot.balances
    }


def test_lagging_views_are_compared_at_their_own_position(service: Container) -> None:
    # given views projected, then more history recorded but not yet projected
    build_history(service.ledger, rounds=2)
    service.views_runner.catch_up()
    projected_at = service.ledger.recorder.max_notification_id()
    service.ledger.grant("acct-late", "grant-late-1", "USD", 700, "goodwill")
    # when verified
    report = verify_store(raw_log(service.settings.database_url), service.audit_views)
    # then the lag is no finding: the views match the replay at their position
    assert report.findings == []
    assert report.views_compared_at == projected_at


def test_no_views_database_means_no_comparison_and_none_is_created(tmp_path: Path) -> None:
    views_file = tmp_path / "views.db"
    container = Container(
        Settings(database_url=f"sqlite:///{tmp_path}/ledger.db", views_database_url=f"sqlite:///{views_file}")
    )
    assert container.audit_views is None
    assert not views_file.exists()
