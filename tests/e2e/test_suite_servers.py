"""The suite's own servers start beside servers that hold the documented ports."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
from kafka import KafkaAdminClient

from tests.servers import ROOT, SuiteServers

DOCUMENTED_PORTS = (9092, 9093, 55432)


@contextlib.contextmanager
def foreign_listeners(ports: tuple[int, ...]) -> Iterator[list[int]]:
    """Listen on each port that is free, as another program would; ports
    already taken are held by some other program already."""
    held: list[socket.socket] = []
    try:
        for port in ports:
            listener = socket.socket()
            try:
                listener.bind(("127.0.0.1", port))
            except OSError:
                listener.close()
                continue
            listener.listen()
            held.append(listener)
        yield [s.getsockname()[1] for s in held]
    finally:
        for listener in held:
            listener.close()


def accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_suite_starts_its_own_servers_on_free_ports_and_stops_them() -> None:
    # given the documented ports all taken by programs that are not ours
    with foreign_listeners(DOCUMENTED_PORTS):
        assert all(accepts_connections(port) for port in DOCUMENTED_PORTS)
        servers = SuiteServers()
        try:
            # when the suite starts its PostgreSQL and its broker
            postgres_url = servers.postgres()
            bootstrap = servers.kafka()
            # then both answer, on ports of their own
            pg_port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
            kafka_port = int(bootstrap.rsplit(":", 1)[1])
            assert {pg_port, kafka_port}.isdisjoint(DOCUMENTED_PORTS)
            with psycopg.connect(postgres_url, connect_timeout=10) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
            assert isinstance(admin.list_topics(), list)
            admin.close()
        finally:
            servers.stop()
        # and once stopped nothing of theirs is left, while the others still listen
        assert not accepts_connections(pg_port)
        assert not accepts_connections(kafka_port)
        assert not servers.root.exists()
        assert all(accepts_connections(port) for port in DOCUMENTED_PORTS)


def test_servers_of_a_killed_run_are_stopped_by_its_watchdog() -> None:
    # given a run that started its own PostgreSQL
    run = subprocess.Popen(
        [sys.executable, "-c", STARTS_POSTGRES_THEN_WAITS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None
        url = run.stdout.readline().strip()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert accepts_connections(port), url
        # when the run is killed, with no chance to clean up
        run.kill()
        run.wait()
        # then its server is stopped all the same
        deadline = time.monotonic() + 60
        while accepts_connections(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not accepts_connections(port)
    finally:
        run.kill()


STARTS_POSTGRES_THEN_WAITS = """
import time
from tests.servers import ROOT, SuiteServers
print(SuiteServers().postgres(), flush=True)
time.sleep(600)
"""
