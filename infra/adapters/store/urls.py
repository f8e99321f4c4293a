"""Database URLs to eventsourcing persistence settings."""

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.utils import get_topic


class DatabaseURLError(ValueError):
    """The database URL cannot be used."""


class MissingLedgerError(Exception):
    """A command that only reads was pointed at a SQLite ledger that does not exist."""


# scheme://user:password@ -> scheme://user:***@, wherever it appears in a text.
_PASSWORD_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@]*@")


def without_passwords(text: str) -> str:
    """``text`` with the password of every URL in it masked, for any message
    that may quote a database URL."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***@", text)


def check_ledger_exists(url: str) -> None:
    """Refuse to read a SQLite ledger that is not there: opening it would
    create an empty one, and a mistyped path would go unnoticed."""
    if url.startswith("sqlite:///"):
        path = sqlite_path(url)
        if not path.is_file():
            raise MissingLedgerError(
                f"no ledger at {path} (check PROMOCREDITS_DATABASE_URL; commands that write create it)"
            )


def persistence_env(url: str) -> dict[str, str]:
    """eventsourcing settings for ``sqlite:///relative/path.db``,
    ``sqlite:////absolute/path.db`` or ``postgresql://user:pw@host:port/db``."""
    # Each recorder is imported only for its own database: SQLite users never
    # load psycopg.
    if url.startswith("sqlite:///"):
        from infra.adapters.store.sqlite_chained import ChainedSQLiteRecorder

        path = sqlite_path(url)
        # Created on first use: a new user's first command just works.
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": get_topic(ChainedSQLiteRecorder),
        }
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        from infra.adapters.store.postgres_chained import ChainedPostgresRecorder

        dbname = parts.path.lstrip("/")
        if not (parts.hostname and dbname and parts.username):
            raise DatabaseURLError(
                "a PostgreSQL URL needs user, host and database: postgresql://user:password@host:port/dbname"
            )
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(dbname),
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": get_topic(ChainedPostgresRecorder),
        }
    raise DatabaseURLError(
        f"unsupported database URL {without_passwords(url)!r}: use sqlite:///path/to/file.db "
        "or postgresql://user:password@host:port/dbname"
    )


def sqlite_path(url: str) -> Path:
    path = Path(url.removeprefix("sqlite:///"))
    if not path.name:
        raise DatabaseURLError(f"{without_passwords(url)!r} names no database file")
    return path


def postgres_conninfo(url: str) -> dict[str, Any]:
    """psycopg connection arguments for a PostgreSQL URL."""
    env = persistence_env(url)
    return {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": int(env["POSTGRES_PORT"]),
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"] or None,
        "connect_timeout": int(env["POSTGRES_CONNECT_TIMEOUT"]),
    }
