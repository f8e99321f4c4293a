"""One active part per store: the store's own lock elects it, on both databases."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from infra.adapters.locks import PostgresAdvisoryLock, leadership_for, lock_key
from infra.adapters.store.urls import postgres_conninfo
from infra.wiring.leadership import LeaderOnly
from tests.servers import ROOT

HOLDS_THE_RELAY_LOCK = """
import sys, time
from infra.adapters.locks import leadership_for
lock = leadership_for(sys.argv[1], "relay")
assert lock.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_only_one_replica_holds_a_part_and_a_release_hands_it_over(store_url: str) -> None:
    # given two replicas' locks for the relay of one store
    first, second = leadership_for(store_url, "relay"), leadership_for(store_url, "relay")
    # when the first takes it
    assert first.try_acquire()
    # then the second cannot, and both know who holds it
    assert not second.try_acquire()
    assert first.held() and not second.held()
    # and another part of the same store is a lock of its own
    projections = leadership_for(store_url, "projections")
    assert projections.try_acquire()
    # when the first releases, the second takes over at once
    first.release()
    assert not first.held()
    assert second.try_acquire() and second.held()
    for lock in (second, projections):
        lock.release()


def test_a_killed_holder_hands_the_part_over_within_seconds(store_url: str, tmp_path: Path) -> None:
    # given another process holding the relay lock
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDS_THE_RELAY_LOCK, store_url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        standby = leadership_for(store_url, "relay")
        assert not standby.try_acquire()
        # when it is killed with SIGKILL
        holder.kill()
        holder.wait()
        killed_at = time.monotonic()
        # then the standby takes the lock within seconds
        while not standby.try_acquire():
            assert time.monotonic() - killed_at < 10, "the lock of a killed holder was not released"
            time.sleep(0.1)
        assert standby.held()
        standby.release()
    finally:
        holder.kill()


@pytest.mark.postgres
def test_a_leader_whose_session_was_terminated_knows_it_lost_the_lock(postgres_server: str) -> None:
    from tests.conftest import fresh_postgres_database

    url = fresh_postgres_database(postgres_server)
    # given a leader holding the lock on its session
    leader = PostgresAdvisoryLock(postgres_conninfo(url), "relay")
    assert leader.try_acquire() and leader.held()
    # when an administrator (or a failover) ends that session
    with psycopg.connect(**postgres_conninfo(url), autocommit=True) as admin:
        [(terminated,)] = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid::bigint = %s AND objid::bigint = %s",
            ((lock_key("relay") >> 32) & 0xFFFFFFFF, lock_key("relay") & 0xFFFFFFFF),
        ).fetchall()
    assert terminated == 1
    # then the leader learns it no longer holds it, and another can take it
    assert not leader.held()
    other = leadership_for(url, "relay")
    assert other.try_acquire()
    other.release()


def test_a_sqlite_lock_file_replaced_behind_the_leaders_back_is_a_lost_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    leader = leadership_for(url, "relay")
    assert leader.try_acquire()
    [lock_file] = tmp_path.glob("ledger.db.relay.lock")
    lock_file.unlink()
    assert not leader.held()
    leader.release()


class Recording:
    """A part that notes when it runs, and runs until asked to stop."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        self.name = name
        self._log = log

    def run(self, stop: threading.Event) -> None:
        self._log.append((self.name, "start"))
        stop.wait()
        self._log.append((self.name, "stop"))


def test_of_two_replicas_one_runs_the_part_and_the_other_takes_over_when_it_stops(store_url: str) -> None:
    # given two replicas of a part on one store
    log: list[tuple[str, str]] = []
    stops = {name: threading.Event() for name in ("replica-a", "replica-b")}
    threads = {
        name: threading.Thread(
            target=LeaderOnly(Recording(name, log), leadership_for(store_url, "relay"), poll_seconds=0.1).run,
            args=(stop,),
        )
        for name, stop in stops.items()
    }
    threads["replica-a"].start()
    wait_for(lambda: log == [("replica-a", "start")])
    threads["replica-b"].start()
    # when both have run a while, only the first is active
    time.sleep(1.0)
    assert log == [("replica-a", "start")]
    # when the active one shuts down cleanly
    stops["replica-a"].set()
    threads["replica-a"].join(timeout=10)
    # then the standby takes over within a second or so
    wait_for(lambda: log[-1] == ("replica-b", "start"), timeout=5)
    assert log == [("replica-a", "start"), ("replica-a", "stop"), ("replica-b", "start")]
    stops["replica-b"].set()
    threads["replica-b"].join(timeout=10)
    assert not any(t.is_alive() for t in threads.values())


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_leader_that_loses_its_lock_stops_its_part_before_the_next_holder_starts(tmp_path: Path) -> None:
    # given a replica running the relay under the store's lock, and another standing by
    url = f"sqlite:///{tmp_path}/ledger.db"
    log: list[tuple[str, str]] = []
    stops = {name: threading.Event() for name in ("replica-a", "replica-b")}

    def replica(name: str, poll_seconds: float) -> threading.Thread:
        part = LeaderOnly(Recording(name, log), leadership_for(url, "relay"), poll_seconds=poll_seconds)
        return threading.Thread(target=part.run, args=(stops[name],))

    leader, standby = replica("replica-a", poll_seconds=5.0), replica("replica-b", poll_seconds=0.05)
    leader.start()
    wait_for(lambda: log == [("replica-a", "start")])
    standby.start()
    time.sleep(0.5)
    # when the leader's lock is lost behind its back (its lock file replaced)
    (tmp_path / "ledger.db.relay.lock").unlink()
    # then the standby takes over, and only after the leader stopped its part
    wait_for(lambda: ("replica-b", "start") in log, timeout=10)
    assert ("replica-a", "stop") in log
    assert log.index(("replica-a", "stop")) < log.index(("replica-b", "start"))
    for name, thread in (("replica-a", leader), ("replica-b", standby)):
        stops[name].set()
        thread.join(timeout=10)
        assert not thread.is_alive()
