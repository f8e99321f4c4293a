"""Fixtures shared by every test: event stores on SQLite and on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from application.ledger import Ledger
from infra.settings import Settings
from infra.wiring.container import Container
from tests.servers import postgres_url, stop_suite_servers

# Hypothesis profiles. "ci", the default, is derandomized and keeps no example
# database: every run tries the same examples, so a failure in CI is a failure
# on a laptop, and the run time is fixed. "deep" (pytest
# --hypothesis-profile=deep) draws new random examples on each run, many more
# and longer, and keeps failing ones in .hypothesis/ to replay them.
_SLOW_STORES = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=35,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_SLOW_STORES,
)
settings.register_profile(
    "deep",
    max_examples=500,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=_SLOW_STORES,
)
# Mutation testing runs the suite once per mutant: fewer, shorter examples,
# still derandomized so a mutant's verdict does not depend on luck.
settings.register_profile(
    "mutation", parent=settings.get_profile("ci"), max_examples=10, stateful_step_count=20
)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    return postgres_url()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Last, after every fixture's teardown: the servers this run started go
    # with it, so none is left running for the next checkout or `make run`.
    stop_suite_servers()


def fresh_postgres_database(server_url: str) -> str:
    """A new empty database on the test server, so tests never see each other."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty event store, once on each supported database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def container(store_url: str) -> Iterator[Container]:
    built = Container(Settings(database_url=store_url))
    yield built
    built.close()


@pytest.fixture
def ledger(container: Container) -> Ledger:
    return container.ledger
