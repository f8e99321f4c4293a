"""`promocredits run` as its operators meet it: a part that dies stops the whole
service with a failing exit (so systemd or Kubernetes restart it), no part
outlives a killed parent, and `--threads` runs the same service in one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from infra.settings import Settings
from tests.kafka_server import (
    invoice,
    kafka_bootstrap,
    pipeline_settings,
    produce,
    read_topic,
    settings_env,
    values,
)
from tests.views_support import TOKENS, bearer, free_port

__all__ = ["kafka_bootstrap"]

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

BIN = Path(sys.executable).parent / "promocredits"
# The parts `promocredits run` starts, by a word of their command line.
PARTS = {"consume", "relay", "projections", "serve"}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    # Generous: four interpreters starting on a loaded two-core machine are slow.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of ``pid``: pid -> the part they run."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may contain spaces; the fields after it do not.
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        state, parent = fields[0], int(fields[1])
        if parent == pid and state != "Z":
            words = {w.decode() for w in command}
            found[int(entry.name)] = next(iter(PARTS & words), " ".join(w.decode() for w in command))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


class Service:
    """`promocredits run` under test; remembers every part it has seen, so the
    test can kill them even when the supervisor failed to."""

    def __init__(self, process: subprocess.Popen[bytes], base: str) -> None:
        self.process = process
        self.base = base
        self.seen: dict[int, str] = {}

    def parts(self) -> dict[int, str]:
        found = children_of(self.process.pid)
        self.seen.update(found)
        return found

    def all_parts_started(self) -> bool:
        return set(self.parts().values()) == PARTS


@contextmanager
def service(settings: Settings, logs: Path, *args: str) -> Iterator[Service]:
    """`promocredits run ARGS`, ready (its API answers /readyz); killed with its
    parts if still alive after the block."""
    env = settings_env(settings)
    env["PROMOCREDITS_API_TOKENS"] = orjson.dumps(TOKENS).decode()
    base = f"http://127.0.0.1:{settings.api_port}"
    with (logs / "run.log").open("ab") as log:
        process = subprocess.Popen([str(BIN), "run", *args], env=env, stdout=log, stderr=log)
    running = Service(process, base)
    try:
        wait_for(lambda: ready(base) or process.poll() is not None, "the service to be ready")
        assert process.poll() is None, (logs / "run.log").read_text()
        yield running
    finally:
        running.parts()
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in running.seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def settings(tmp_path: Path, kafka_bootstrap: str) -> Settings:
    return pipeline_settings(
        f"sqlite:///{tmp_path}/ledger.db",
        kafka_bootstrap,
        views_database_url=f"sqlite:///{tmp_path}/views.db",
        api_port=free_port(),
    )


def test_a_part_that_crashes_stops_the_whole_service_with_a_failing_exit(
    settings: Settings, tmp_path: Path
) -> None:
    with service(settings, tmp_path) as run:
        # given the service running, one process per part
        wait_for(run.all_parts_started, "every part to start")
        parts = run.parts()
        consumer = next(pid for pid, part in parts.items() if part == "consume")
        # when the consumer crashes (as hard as it can: SIGKILL)
        os.kill(consumer, signal.SIGKILL)
        # then the service stops as a whole, saying which part failed, with a
        # failing exit code, so whatever runs it restarts it
        returncode = run.process.wait(timeout=120)
    assert returncode != 0
    assert "consumer exited with -9" in (tmp_path / "run.log").read_text()
    # and none of the other parts is left running
    assert [pid for pid in parts if alive(pid)] == []


def test_the_parts_die_with_a_parent_killed_with_sigkill(settings: Settings, tmp_path: Path) -> None:
    with service(settings, tmp_path) as run:
        # given the service running, one process per part
        wait_for(run.all_parts_started, "every part to start")
        parts = run.parts()
        # when the parent is killed with SIGKILL, which it cannot pass on
        run.process.kill()
        run.process.wait()
        # then every part stops anyway: none outlives the service
        wait_for(lambda: not any(alive(pid) for pid in parts), "the parts to stop", timeout=90)


def niceness(pid: int) -> int:
    # The nineteenth field of /proc/PID/stat, counted after the command name.
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def test_the_views_yield_the_cpu_to_the_settlement_path(settings: Settings, tmp_path: Path) -> None:
    with service(settings, tmp_path) as run:
        # given the service running, one process per part
        wait_for(run.all_parts_started, "every part to start")
        # when each part's scheduling priority is read
        nice = {part: niceness(pid) for pid, part in run.parts().items()}
        # then the projections run ten steps nicer; the consumer, the relay and
        # the API as the service itself does
        own = os.nice(0)
        assert nice == {"consume": own, "relay": own, "serve": own, "projections": min(own + 10, 19)}


def test_threads_mode_runs_the_whole_service_in_one_process(settings: Settings, tmp_path: Path) -> None:
    with service(settings, tmp_path, "--threads") as run:
        process, base = run.process, run.base
        # given the service running with every part as a thread: no children
        assert run.parts() == {}
        # when a grant is posted over HTTP and an invoice comes through Kafka
        posted = httpx.post(
            f"{base}/v1/accounts/acct-lina/promotional-credits/grants",
            headers=bearer("tok-operator"),
            json={"grant_id": "grant-lina-1", "amount_minor": 800, "currency": "EUR", "reason": "goodwill"},
            timeout=30,
        )
        assert posted.status_code == 201, posted.text
        produce(
            settings.kafka_bootstrap_servers,
            settings.invoices_topic,
            [("acct-lina", invoice("acct-lina", "inv-2026-401", 1000, currency="EUR"))],
        )
        # then the consumer and the relay settle it on the credits granted over HTTP
        settled = read_topic(
            settings.kafka_bootstrap_servers, settings.settlements_topic, until=lambda r: len(r) >= 1
        )
        assert [
            (s["invoice_id"], s["credits_applied_minor"], s["amount_due_minor"]) for s in values(settled)
        ] == [("inv-2026-401", 800, 200)]
        # and the projections show it in the views the API serves
        history_url = f"{base}/v1/accounts/acct-lina/promotional-credits/history"
        wait_for(
            lambda: (
                len(httpx.get(history_url, headers=bearer("tok-reader"), timeout=30).json()["entries"]) == 2
            ),
            "the invoice in the history",
        )
        # when it is asked to stop, then it stops cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
