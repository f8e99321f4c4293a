"""Helpers for tests that stop real servers: the suite's own, never anyone else's."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from kafka.consumer.fetcher import ConsumerRecord

from infra.settings import Settings
from infra.wiring.container import Container
from tests.kafka_server import decisions_by_invoice, read_topic
from tests.servers import SuiteServers, suite_servers, unavailable


def own_servers(*names: str) -> SuiteServers:
    """The suite's own servers, which a test may stop and start again. A
    server configured from outside the suite is someone else's: never stopped."""
    for name in names:
        if os.environ.get(name):
            unavailable("a server the suite may stop", f"{name} names a server the suite did not start")
    return suite_servers()


def settlement_counts(records: Iterable[ConsumerRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        invoice_id = orjson.loads(record.value)["invoice_id"]
        counts[invoice_id] = counts.get(invoice_id, 0) + 1
    return counts


def children_of(pid: int) -> dict[int, str]:
    """Child pid -> command line, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


_ACTIVE = re.compile(r'^promocredits_part_active\{part="(?P<part>\w+)"\} (?P<value>[0-9.]+)$', re.M)


def active_parts(api_port: int) -> dict[str, bool]:
    """Which parts a replica says are active, from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {m["part"]: float(m["value"]) == 1.0 for m in _ACTIVE.finditer(text)}


def wait_until(condition: Any, what: str, timeout: float = 120, every: float = 0.1) -> float:
    """Poll until ``condition()`` holds; the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
    return time.monotonic()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def assert_decided_once_as_the_oracle_says(
    container: Container, settings: Settings, expected: dict[str, tuple[int, int, int]], repeats_at_most: int
) -> None:
    """Every invoice has exactly one recorded decision with the oracle's
    (applied, due, balance after), and every decision is on the settlements
    topic, repeated at most ``repeats_at_most`` times in all (the batches in
    flight when a relay failed over)."""
    decisions = decisions_by_invoice(container.ledger)
    assert {k: len(v) for k, v in decisions.items()} == dict.fromkeys(expected, 1)
    assert {
        k: (d.credits_applied_minor, d.amount_due_minor, d.balance_after_minor)
        for k, [d] in decisions.items()
    } == expected
    settlements = read_topic(
        settings.kafka_bootstrap, settings.settlements_topic, until=lambda r: len(r) >= len(expected)
    )
    counts = settlement_counts(settlements)
    assert set(counts) == set(expected)
    assert sum(counts.values()) - len(expected) <= repeats_at_most
