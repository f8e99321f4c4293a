"""Which position first decided each invoice id, in memory bounded by a constant.

"Exactly one decision per invoice id" needs every id ever decided. Ids are
kept in memory in chunks; a full chunk is checked against, then merged into,
an index in a temporary SQLite file, so verification's memory stays flat
however long the history is. A store with fewer ids than one chunk never
touches the disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from application.audit.scratch import ScratchDatabase

# Ids held in memory before a merge. tracemalloc measured about 190 bytes an
# id (a 13-character id and its decision), so a chunk stays under 10 MB.
CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class Decided:
    position: int
    account: str
    currency: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    invoice_id: str
    first_position: int
    again: Decided


class InvoiceIndex:
    def __init__(self, chunk: int = CHUNK) -> None:
        self._chunk = chunk
        self._recent: dict[str, Decided] = {}
        # Repeats within the chunk: named once the chunk is merged, because
        # the id may have been decided even earlier, in a chunk on disk.
        self._repeats: list[tuple[str, Decided]] = []
        self._scratch = ScratchDatabase(
            "invoices.db",
            [
                "CREATE TABLE seen (invoice_id TEXT PRIMARY KEY, position INTEGER) WITHOUT ROWID",
                "CREATE TEMP TABLE chunk (invoice_id TEXT, position INTEGER)",
            ],
        )

    def add(self, invoice_id: str, decided: Decided) -> Iterator[Duplicate]:
        """Record a decision; yield duplicates whenever a full chunk is merged."""
        if invoice_id in self._recent:
            self._repeats.append((invoice_id, decided))
        else:
            self._recent[invoice_id] = decided
        if len(self._recent) + len(self._repeats) >= self._chunk:
            yield from self.flush()

    def flush(self) -> Iterator[Duplicate]:
        """Name the duplicates among the ids in memory, then merge them into the
        index on disk (only once more ids were seen than fit in one chunk)."""
        earlier: dict[str, int] = {}
        if self._scratch.opened or len(self._recent) + len(self._repeats) >= self._chunk:
            earlier = self._merge()
        for invoice_id, first in self._recent.items():
            if invoice_id in earlier:
                yield Duplicate(invoice_id, earlier[invoice_id], first)
        for invoice_id, again in self._repeats:
            first_position = earlier.get(invoice_id, self._recent[invoice_id].position)
            yield Duplicate(invoice_id, first_position, again)
        self._recent.clear()
        self._repeats.clear()

    def _merge(self) -> dict[str, int]:
        """Ids of this chunk already on disk, with their first position; then
        this chunk's first decisions join them."""
        db = self._open()
        db.executemany("INSERT INTO chunk VALUES (?, ?)", ((i, d.position) for i, d in self._recent.items()))
        earlier = dict(
            db.execute(
                "SELECT c.invoice_id, s.position FROM chunk c JOIN seen s ON s.invoice_id = c.invoice_id"
            ).fetchall()
        )
        db.execute("INSERT OR IGNORE INTO seen SELECT invoice_id, position FROM chunk")
        db.execute("DELETE FROM chunk")
        db.commit()
        return earlier

    def close(self) -> None:
        self._scratch.close()

    def _open(self) -> sqlite3.Connection:
        return self._scratch.connection()
