"""Settings: the views live beside the ledger unless told otherwise."""

from __future__ import annotations

import pytest

from infra.settings import Settings


@pytest.mark.parametrize(
    ("ledger", "views"),
    [
        ("sqlite:///var/ledger.db", "sqlite:///var/views.db"),
        ("sqlite:////srv/credits/ledger.db", "sqlite:////srv/credits/views.db"),
        ("postgresql://ledger:pw@db:5432/credits", "postgresql://ledger:pw@db:5432/credits"),
    ],
)
def test_views_default_to_the_ledgers_own_place(ledger: str, views: str) -> None:
    # a ledger moved to PostgreSQL never keeps reading views of another ledger
    assert Settings(database_url=ledger).views_url == views


def test_a_views_url_given_explicitly_wins() -> None:
    settings = Settings(database_url="sqlite:///var/ledger.db", views_database_url="sqlite:////tmp/v.db")
    assert settings.views_url == "sqlite:////tmp/v.db"
