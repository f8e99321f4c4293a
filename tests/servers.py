"""Real servers for integration tests: the suite's own, or a loud failure in CI.

Unless PROMOCREDITS_TEST_POSTGRES_URL or PROMOCREDITS_TEST_KAFKA_BOOTSTRAP
names a server to use, the suite starts its own PostgreSQL and Kafka broker on
free ports, with their data under one directory of this run, and stops them
when the run ends. It never binds the documented ports (9092, 9093, 55432)
and never touches a server it did not start, so it runs beside a developer's
broker or another checkout's suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "ops/kafka/kafka.sh"
PG_SH = ROOT / "ops/postgres/pg.sh"
# Broker jars are resolved once per checkout and shared by every run.
KAFKA_LIBS = ROOT / "var/kafka/libs"
# A port picked free can be taken before the server binds it; try again then.
START_ATTEMPTS = 3


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, why: str) -> None:
    """Skip on a developer's machine; fail in CI, where a skip would hide a gap."""
    message = f"{what} unavailable: {why}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SuiteServers:
    """The servers one test run starts for itself, each on first use."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="promocredits-test-"))
        self.root.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as the postgres user when we are root: it must be
        # able to reach its data directory below this one.
        self.root.chmod(0o755)
        self._lock = threading.Lock()
        self._postgres: tuple[str, dict[str, str]] | None = None
        self._kafka: tuple[str, dict[str, str]] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def postgres(self) -> str:
        with self._lock:
            if self._postgres is None:
                self._postgres = self._start(PG_SH, self._postgres_env)
            return self._postgres[0]

    def kafka(self) -> str:
        with self._lock:
            if self._kafka is None:
                self._kafka = self._start(KAFKA_SH, self._kafka_env)
            return self._kafka[0]

    def stop_kafka(self) -> None:
        """Stop the suite's broker as an outage would (its data stays)."""
        self._run(KAFKA_SH, "down", self._started(self._kafka))

    def start_kafka(self) -> None:
        """Start the suite's broker again, on the same port with the same data."""
        self._run(KAFKA_SH, "up", self._started(self._kafka))

    def restart_postgres_immediately(self) -> None:
        """Crash-restart PostgreSQL: every connection is cut, nothing is flushed
        beyond what was committed, and the server recovers from its WAL."""
        env = self._started(self._postgres)
        data = env["PROMOCREDITS_PG_DATA"]
        self._run(PG_SH, "crash-restart", env)
        assert Path(data, "postmaster.pid").exists()

    @staticmethod
    def _started(server: tuple[str, dict[str, str]] | None) -> dict[str, str]:
        if server is None:
            raise ServerStartError("the server was never started by this run")
        return server[1]

    @staticmethod
    def _run(script: Path, command: str, env: dict[str, str]) -> None:
        result = subprocess.run(
            ["bash", str(script), command], env=os.environ | env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ServerStartError(f"{script.name} {command} failed: {result.stderr.strip()[-800:]}")

    def _postgres_env(self) -> dict[str, str]:
        port = free_port()
        return {"PROMOCREDITS_PG_PORT": str(port), "PROMOCREDITS_PG_DATA": str(self.root / f"pg-{port}")}

    def _kafka_env(self) -> dict[str, str]:
        return {
            "PROMOCREDITS_KAFKA_HOME": str(self.root / "kafka"),
            "PROMOCREDITS_KAFKA_LIBS": str(KAFKA_LIBS),
            "PROMOCREDITS_KAFKA_PORT": str(free_port()),
            "PROMOCREDITS_KAFKA_CONTROLLER_PORT": str(free_port()),
        }

    def _start(self, script: Path, make_env: object) -> tuple[str, dict[str, str]]:
        self._watch()
        errors = []
        for _ in range(START_ATTEMPTS):
            env = make_env()  # type: ignore[operator]
            up = subprocess.run(
                ["bash", str(script), "up"], env=os.environ | env, capture_output=True, text=True, check=False
            )
            if up.returncode == 0:
                return self._address(script, up.stdout, env), env
            errors.append(up.stderr.strip()[-800:])
            down = ["bash", str(script), "down"]
            subprocess.run(down, env=os.environ | env, capture_output=True, check=False)
        raise ServerStartError(f"{script.name} up failed {START_ATTEMPTS} times: {errors[-1]}")

    @staticmethod
    def _address(script: Path, stdout: str, env: dict[str, str]) -> str:
        if script == KAFKA_SH:
            return f"127.0.0.1:{env['PROMOCREDITS_KAFKA_PORT']}"
        return stdout.strip().splitlines()[-1]

    def _watch(self) -> None:
        """A process that stops our servers if this run dies without cleaning
        up (SIGKILL, a crashed interpreter): nothing outlives the suite."""
        if self._watchdog is not None:
            return
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "tests.server_watchdog", str(os.getpid()), str(self.root)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        """Stop every server this run started and remove their data."""
        with self._lock:
            stop_servers_under(self.root)
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait()
            shutil.rmtree(self.root, ignore_errors=True)


class ServerStartError(RuntimeError):
    """A server of the suite's own would not start."""


def stop_servers_under(root: Path) -> None:
    """Stop the broker and PostgreSQL servers whose data lives under ``root``."""
    kafka_home = root / "kafka"
    if kafka_home.is_dir():
        subprocess.run(
            ["bash", str(KAFKA_SH), "down"],
            env=os.environ | {"PROMOCREDITS_KAFKA_HOME": str(kafka_home)},
            capture_output=True,
            check=False,
        )
    for data in sorted(root.glob("pg-*")):
        subprocess.run(
            ["bash", str(PG_SH), "down"],
            env=os.environ | {"PROMOCREDITS_PG_DATA": str(data), "PROMOCREDITS_PG_PORT": data.name[3:]},
            capture_output=True,
            check=False,
        )


_suite: SuiteServers | None = None


def suite_servers() -> SuiteServers:
    global _suite
    if _suite is None:
        _suite = SuiteServers()
    return _suite


def stop_suite_servers() -> None:
    if _suite is not None:
        _suite.stop()


def postgres_url() -> str:
    """PROMOCREDITS_TEST_POSTGRES_URL, else the suite's own server, else Docker."""
    configured = os.environ.get("PROMOCREDITS_TEST_POSTGRES_URL")
    if configured:
        return configured
    attempts = []
    if shutil.which("runuser") or os.geteuid() != 0:
        try:
            return suite_servers().postgres()
        except ServerStartError as error:
            attempts.append(f"local binaries: {error}")
    try:
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15", driver=None)
        container.start()
        return container.get_connection_url()
    except Exception as error:  # any failure means no Docker here
        attempts.append(f"testcontainers: {error}")
    unavailable("PostgreSQL", "; ".join(attempts))
    raise AssertionError("unreachable")
