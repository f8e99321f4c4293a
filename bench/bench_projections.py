"""Projection throughput: events per second into the views, on both stores.

Fills a ledger with N events, then times one catch-up of the views from an
empty views database (the projector's own batched path). In the same run it
measures a floor on the same database: the same number of bare rows written
with one executemany INSERT per batch and a tracking update per batch, the
least any projection that keeps its position in the view's transaction does.

    python bench/bench_projections.py [--events 100000] [--accounts 10000] [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import fresh_pg_database, postgres_server_for, with_servers
from seeding import seed

from infra.adapters.store.raw_log import raw_log
from infra.settings import Settings
from infra.wiring.container import Container


def time_projection(url: str, views_url: str, batch_size: int) -> tuple[float, float]:
    """Wall and CPU seconds of this process: on a shared machine the CPU
    time per event is the steadier figure."""
    container = Container(
        Settings(database_url=url, views_database_url=views_url, projection_batch_size=batch_size)
    )
    runner = container.views_runner
    started, cpu = time.perf_counter(), time.process_time()
    runner.catch_up()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    container.close()
    return seconds, cpu


def floor_rows(events: int, batch: int, execute: Callable[[list[tuple[int, str]], int], None]) -> float:
    started = time.perf_counter()
    for start in range(0, events, batch):
        rows = [(n, f"event-{n}") for n in range(start, min(start + batch, events))]
        execute(rows, rows[-1][0])
    return time.perf_counter() - started


def sqlite_floor(path: str, events: int, batch: int) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE floor_rows (n INTEGER PRIMARY KEY, payload TEXT)")
    conn.execute("CREATE TABLE floor_tracking (position INTEGER)")
    conn.execute("INSERT INTO floor_tracking VALUES (0)")
    conn.commit()

    def write(rows: list[tuple[int, str]], position: int) -> None:
        with conn:
            conn.executemany("INSERT INTO floor_rows VALUES (?, ?)", rows)
            conn.execute("UPDATE floor_tracking SET position = ?", (position,))

    try:
        return floor_rows(events, batch, write)
    finally:
        conn.close()


def postgres_floor(url: str, events: int, batch: int) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE floor_rows (n bigint PRIMARY KEY, payload text)")
        conn.execute("CREATE TABLE floor_tracking (position bigint)")
        conn.execute("INSERT INTO floor_tracking VALUES (0)")
        conn.commit()

        def write(rows: list[tuple[int, str]], position: int) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany("INSERT INTO floor_rows VALUES (%s, %s)", rows)
                cursor.execute("UPDATE floor_tracking SET position = %s", (position,))

        return floor_rows(events, batch, write)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=Settings().projection_batch_size)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="20,000 events over 2,000 accounts")
    args = with_servers(parser).parse_args()
    if args.quick:
        args.events, args.accounts = 20_000, 2_000
    rows: list[tuple[str, int, float, float, float]] = []
    stores = args.stores.split(",")
    # Started (or found) once for the run, not once per database.
    pg_server = postgres_server_for(stores, args.postgres)
    with tempfile.TemporaryDirectory() as tmp:
        for store in stores:
            if store == "sqlite":
                url, views_url = f"sqlite:///{tmp}/ledger.db", f"sqlite:///{tmp}/views.db"
            else:
                # The views in a database of their own, as the floor's rows are.
                url, views_url = fresh_pg_database(pg_server), fresh_pg_database(pg_server)
            seed(url, args.accounts, args.events)
            events = raw_log(url).head()
            seconds, cpu = time_projection(url, views_url, args.batch_size)
            if store == "sqlite":
                floor = sqlite_floor(f"{tmp}/floor.db", events, args.batch_size)
            else:
                floor = postgres_floor(fresh_pg_database(pg_server), events, args.batch_size)
            rows.append((store, events, seconds, cpu, floor))
    print(f"\nprojection benchmark: views caught up from empty, batches of {args.batch_size}")
    print(
        f"{'store':10} {'events':>9} {'seconds':>8} {'events/s':>10} {'per CPU s':>10} "
        f"{'floor/s':>10} {'x floor':>8}"
    )
    for store, events, seconds, cpu, floor in rows:
        rate, floor_rate = events / seconds, events / floor
        print(
            f"{store:10} {events:9,} {seconds:8.1f} {rate:10,.0f} {events / cpu:10,.0f} "
            f"{floor_rate:10,.0f} {rate / floor_rate:8.2f}"
        )


if __name__ == "__main__":
    main()
