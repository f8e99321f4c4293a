"""A scratch SQLite file for verification's indexes: created on first use in a
temporary directory, removed on close, and never made durable, since it is
rebuilt on every run."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path


class ScratchDatabase:
    def __init__(self, name: str, schema: Sequence[str]) -> None:
        self._name = name
        self._schema = tuple(schema)
        self._spill: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None

    @property
    def opened(self) -> bool:
        return self._db is not None

    def connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._spill = tempfile.TemporaryDirectory(prefix="promocredits-verify-")
            self._db = sqlite3.connect(Path(self._spill.name) / self._name)
            # Durability buys nothing for an index rebuilt on every run.
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            for statement in self._schema:
                self._db.execute(statement)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None
