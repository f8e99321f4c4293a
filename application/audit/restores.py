"""What voids gave back, checked against what their invoices had used.

A restore can come long after its invoice's decision, so checking it needs
the credits every invoice applied. Those are kept in memory a chunk at a
time and then in a scratch SQLite file (as the invoice index does), and
checked in one pass once the whole record is read, so verification's memory
stays flat however long the history is. Amounts are stored as decimal text:
a tampered amount may be larger than SQLite's integers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from application.audit.invoice_index import CHUNK
from application.audit.scratch import ScratchDatabase


@dataclass(frozen=True, slots=True)
class Restored:
    position: int
    account: str
    currency: str
    invoice_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class RestoreProblem:
    """A restore of an invoice already restored (``first_position``), or of
    more than its decision applied (``applied``)."""

    restore: Restored
    first_position: int | None = None
    applied: int | None = None


_SCHEMA = (
    "CREATE TABLE applied (invoice_id TEXT, account TEXT, position INTEGER, amount TEXT)",
    "CREATE TABLE restores (invoice_id TEXT, account TEXT, position INTEGER, currency TEXT, amount TEXT)",
)
_INDEXES = (
    "CREATE INDEX applied_by_invoice ON applied (invoice_id, account)",
    "CREATE INDEX restores_by_invoice ON restores (invoice_id, position)",
)
# Each restore with the first restore of its invoice and the credits its
# account's decision applied before it (the text of a whole number).
_CHECK = (
    "SELECT r.invoice_id, r.account, r.position, r.currency, r.amount, "
    "(SELECT MIN(f.position) FROM restores f WHERE f.invoice_id = r.invoice_id) AS first_position, "
    "(SELECT a.amount FROM applied a WHERE a.invoice_id = r.invoice_id AND a.account = r.account "
    "AND a.position < r.position ORDER BY a.position LIMIT 1) AS applied "
    "FROM restores r ORDER BY r.position"
)


class RestoreCheck:
    """Feed it every decision that applied credits and every restore, in
    record order; ``problems`` then names each restore that breaks a rule."""

    def __init__(self, chunk: int = CHUNK) -> None:
        self._chunk = chunk
        self._applied: list[tuple[str, str, int, str]] = []
        self._restores: list[tuple[str, str, int, str, str]] = []
        self._any_restore = False
        self._scratch = ScratchDatabase("restores.db", _SCHEMA)

    def applied(self, invoice_id: str, account: str, position: int, amount: int) -> None:
        self._applied.append((invoice_id, account, position, str(amount)))
        self._flush_when_full()

    def restored(self, restore: Restored) -> None:
        self._any_restore = True
        self._restores.append(
            (restore.invoice_id, restore.account, restore.position, restore.currency, str(restore.amount))
        )
        self._flush_when_full()

    def problems(self) -> list[RestoreProblem]:
        if not self._any_restore:
            return []
        db = self._flush()
        for statement in _INDEXES:
            db.execute(statement)
        found = []
        for invoice_id, account, position, currency, amount, first, applied in db.execute(_CHECK):
            restore = Restored(position, account, currency, invoice_id, int(amount))
            if first != position:
                found.append(RestoreProblem(restore, first_position=first))
            elif restore.amount > int(applied or 0):
                found.append(RestoreProblem(restore, applied=int(applied or 0)))
        return found

    def close(self) -> None:
        self._scratch.close()

    def _flush_when_full(self) -> None:
        if len(self._applied) + len(self._restores) >= self._chunk:
            self._flush()

    def _flush(self) -> sqlite3.Connection:
        db = self._scratch.connection()
        db.executemany("INSERT INTO applied VALUES (?, ?, ?, ?)", self._applied)
        db.executemany("INSERT INTO restores VALUES (?, ?, ?, ?, ?)", self._restores)
        db.commit()
        self._applied.clear()
        self._restores.clear()
        return db
