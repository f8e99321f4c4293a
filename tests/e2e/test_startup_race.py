"""`promocredits run` starts its parts at the same moment on a fresh store:
every one of them must come up, whoever creates the tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BUILD_EVERYTHING = (
    "from infra.wiring.container import Container\n"
    "c = Container()\n"
    "c.ledger, c.views, c.relay_tracking\n"
    "print('up')\n"
)


@pytest.mark.parametrize("round_", range(3))
def test_parts_started_together_on_a_fresh_sqlite_store_all_come_up(tmp_path: Path, round_: int) -> None:
    env = {**os.environ, "PROMOCREDITS_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db"}
    # when six processes build the ledger, the views and the relay's position at once
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD_EVERYTHING], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    # then every one of them is up
    assert [p.returncode for p in processes] == [0] * 6, [err.decode()[-300:] for _, err in results]
    assert all(out.strip() == b"up" for out, _ in results)
