"""Real servers for integration tests: found, started, or a loud failure in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, why: str) -> None:
    """Skip on a developer's machine; fail in CI, where a skip would hide a gap."""
    message = f"{what} unavailable: {why}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def postgres_url() -> str:
    """PROMOCREDITS_TEST_POSTGRES_URL, else a throwaway local server, else Docker."""
    configured = os.environ.get("PROMOCREDITS_TEST_POSTGRES_URL")
    if configured:
        return configured
    attempts = []
    if shutil.which("runuser") or os.geteuid() != 0:
        result = subprocess.run(
            ["bash", str(ROOT / "infra/postgres/pg.sh"), "up"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return result.stdout.strip().splitlines()[-1]
        attempts.append(f"local binaries: {result.stderr.strip()}")
    try:
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15", driver=None)
        container.start()
        return container.get_connection_url()
    except Exception as error:  # any failure means no Docker here
        attempts.append(f"testcontainers: {error}")
    unavailable("PostgreSQL", "; ".join(attempts))
    raise AssertionError("unreachable")
