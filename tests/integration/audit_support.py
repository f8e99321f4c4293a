"""Shared by the audit tests: a history built through the ledger, and raw SQL that
tampers with stored event rows the way someone with database access could."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from application.audit.verify import Report, Verifier
from application.ledger import InvoiceRequest, Ledger
from infra.adapters.store.raw_log import raw_log
from infra.adapters.store.urls import persistence_env

CURRENCIES = ["USD", "EUR"]
ACCOUNTS = [f"acct-{name}" for name in ("alice", "bob", "carol", "dave", "erin", "frank")]


def build_history(ledger: Ledger, rounds: int = 12, seed: int = 7) -> None:
    """About 20 events per round over six accounts, two currencies, every kind of entry."""
    rng = random.Random(seed)
    for r in range(rounds):
        for account in ACCOUNTS:
            if rng.random() < 0.6:
                currency = rng.choice(CURRENCIES)
                ledger.grant(account, f"grant-{account}-{r}", currency, rng.randint(100, 5_000), "promotion")
        ledger.apply_invoices(
            [
                InvoiceRequest(account, f"inv-{account}-{r}", rng.choice(CURRENCIES), rng.randint(0, 3_000))
                for account in ACCOUNTS
            ]
        )
        # a void of an invoice of this round, and one before its invoice
        ledger.void_invoice(ACCOUNTS[r % 6], f"inv-{ACCOUNTS[r % 6]}-{r}")
        ledger.void_invoice(ACCOUNTS[(r + 1) % 6], f"inv-{ACCOUNTS[(r + 1) % 6]}-{r + 1}")
        account = rng.choice(ACCOUNTS)
        ledger.buy_calling_credits(account, f"buy-{account}-{r}", "USD", rng.randint(1, 1_500))


def verify(url: str) -> Report:
    log = raw_log(url)
    verifier = Verifier()
    verifier.feed_all(log.rows(log.head()))
    return verifier.finish()


Row = tuple[int, Any, int, str, bytes]


class RawStore:
    """Direct access to the stored event rows, bypassing the ledger and its chain."""

    def __init__(self, url: str) -> None:
        env = persistence_env(url)
        self.sqlite = env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
        if self.sqlite:
            self.conn: Any = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)
            self.table, self.id = "stored_events", "rowid"
            self.mark = "?"
        else:
            self.conn = psycopg.connect(url, autocommit=True)
            self.table, self.id = "ledger_events", "notification_id"
            self.mark = "%s"

    def close(self) -> None:
        self.conn.close()

    def _sql(self, text: str) -> str:
        return text.replace("{t}", self.table).replace("{id}", self.id).replace("?", self.mark)

    def run(self, text: str, *args: Any) -> list[Any]:
        cursor = self.conn.execute(self._sql(text), args)
        return list(cursor.fetchall()) if cursor.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        else:
            with self.conn.transaction():
                yield

    def positions(self) -> list[int]:
        return [n for (n,) in self.run("SELECT {id} FROM {t} ORDER BY {id}")]

    def row(self, n: int) -> Row:
        found = self.run(
            "SELECT {id}, originator_id, originator_version, topic, state FROM {t} WHERE {id} = ?", n
        )
        return found[0]  # type: ignore[no-any-return]

    def insert(self, row: Row) -> None:
        self.run(
            "INSERT INTO {t} ({id}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
            *row,
        )

    def delete(self, n: int) -> None:
        self.run("DELETE FROM {t} WHERE {id} = ?", n)

    def set_state(self, n: int, state: bytes) -> None:
        self.run("UPDATE {t} SET state = ? WHERE {id} = ?", state, n)

    def move(self, start: int, delta: int) -> None:
        """Renumber every row from ``start`` on by ``delta``, via negative ids so
        the unique index on the position never sees two rows at once."""
        self.run("UPDATE {t} SET {id} = -({id} + ?) WHERE {id} >= ?", delta, start)
        self.run("UPDATE {t} SET {id} = -{id} WHERE {id} < 0")

    def swap(self, p: int, q: int) -> None:
        self.run("UPDATE {t} SET {id} = -1 WHERE {id} = ?", p)
        self.run("UPDATE {t} SET {id} = ? WHERE {id} = ?", p, q)
        self.run("UPDATE {t} SET {id} = ? WHERE {id} = -1", q)
