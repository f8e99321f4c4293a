"""Fixtures for the pipeline against a real broker: a fresh store (SQLite and
PostgreSQL) and topics and a consumer group of its own per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import kafka_bootstrap, pipeline_settings

__all__ = ["kafka_bootstrap"]


@pytest.fixture
def settings(store_url: str, kafka_bootstrap: str) -> Settings:
    return pipeline_settings(store_url, kafka_bootstrap)


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Container]:
    built = Container(settings)
    yield built
    built.close()
