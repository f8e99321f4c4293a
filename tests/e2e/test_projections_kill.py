"""`promocredits projections run` killed with SIGKILL mid-stream and restarted
ends with views equal to a rebuild: nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from infra.adapters.views.factory import ViewDatabase
from infra.settings import Settings
from infra.wiring.container import Container
from projections.ledger_views import LedgerViewsProjection
from projections.runner import ViewsRunner
from tests.conftest import fresh_postgres_database
from tests.views_support import write_history

ROOT = Path(__file__).resolve().parents[2]


def promocredits(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.entrypoints.cli.main", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def views_url(store_url: str, tmp_path: Path, name: str) -> str:
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/{name}.db"
    server, _, _ = store_url.rpartition("/")
    return fresh_postgres_database(f"{server}/postgres")


@pytest.mark.timeout(240)
def test_projections_killed_mid_stream_and_restarted_equal_a_rebuild(store_url: str, tmp_path: Path) -> None:
    # given a history of a few thousand events
    live_url = views_url(store_url, tmp_path, "views")
    container = Container(Settings(database_url=store_url, views_database_url=live_url))
    write_history(container.ledger, accounts=150, rounds=6)
    head = container.views_runner.head()
    assert head > 1500
    env = {
        "PROMOCREDITS_DATABASE_URL": store_url,
        "PROMOCREDITS_VIEWS_DATABASE_URL": live_url,
        # small batches: many transactions to be killed in the middle of
        "PROMOCREDITS_PROJECTION_BATCH_SIZE": "10",
    }
    # when the projections process runs and is killed with SIGKILL mid-stream
    process = promocredits("projections", "run", env=env)
    try:
        deadline = time.monotonic() + 60
        while container.views_runner.position() < head // 4:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the projections made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = container.views_runner.position()
    assert 0 < killed_at < head, "the kill must land mid-stream"
    # and restarted until caught up
    restarted = promocredits("projections", "run", "--until-caught-up", "--json", env=env)
    out, err = restarted.communicate(timeout=180)
    assert restarted.returncode == 0, err.decode()
    assert orjson.loads(out) == {
        "event_store_head": head,
        "projection_position": head,
        "projection_lag_events": 0,
        "projection_quarantined_events": 0,
    }
    # then the views equal a rebuild from scratch, row for row
    fresh = ViewDatabase(views_url(store_url, tmp_path, "rebuilt"))
    ledger = container.ledger
    ViewsRunner(
        LedgerViewsProjection(view=fresh.recorder), ledger.recorder, ledger.mapper, LedgerViewsProjection.name
    ).rebuild()
    assert container.views.store.dump() == fresh.store.dump()
    fresh.close()
    container.close()


def test_rebuild_command_reproduces_the_live_views(tmp_path: Path) -> None:
    # given live views kept by `projections run --until-caught-up` as history grew
    env = {
        "PROMOCREDITS_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db",
        "PROMOCREDITS_VIEWS_DATABASE_URL": f"sqlite:///{tmp_path}/views.db",
    }
    container = Container(
        Settings(
            database_url=env["PROMOCREDITS_DATABASE_URL"],
            views_database_url=env["PROMOCREDITS_VIEWS_DATABASE_URL"],
        )
    )
    for rounds in (1, 2):
        write_history(container.ledger, accounts=20 * rounds, rounds=rounds)
        run = promocredits("projections", "run", "--until-caught-up", "--json", env=env)
        assert run.wait(timeout=120) == 0
    live = container.views.store.dump()
    # when `promocredits projections rebuild` runs
    rebuild = promocredits("projections", "rebuild", "--json", env=env)
    out, err = rebuild.communicate(timeout=120)
    assert rebuild.returncode == 0, err.decode()
    # then it reports no lag and the views are exactly as before
    assert orjson.loads(out)["projection_lag_events"] == 0
    assert container.views.store.dump() == live
    # and status says the same
    status = promocredits("projections", "status", "--json", env=env)
    out, _ = status.communicate(timeout=60)
    assert orjson.loads(out)["projection_lag_events"] == 0
    container.close()
