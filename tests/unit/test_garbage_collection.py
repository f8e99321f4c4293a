"""Long-running processes tune the garbage collector once they are built."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from infra.wiring import serving


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    # Nothing frozen beforehand, so only serve() can have frozen it.
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_serving_freezes_what_is_built_and_collects_young_objects_less_often(
    restored_collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the components of a long-running command, built, and nothing frozen
    assert gc.get_freeze_count() == 0
    ran: list[object] = []
    monkeypatch.setattr(serving, "run_components", lambda components, stop: ran.append(components))
    monkeypatch.setattr(serving, "stop_on_signals", lambda stop: None)
    # when it serves them
    serving.serve([])
    # then everything built so far is out of the collector's reach, and young
    # collections wait for many more new objects than the default 700
    assert ran == [[]]
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == serving.YOUNG_COLLECTION_THRESHOLD >= 10_000
