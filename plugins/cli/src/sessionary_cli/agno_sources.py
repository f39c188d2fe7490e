"""The databases ``sessionary import-agno`` reads: Agno's SQLite file or its PostgreSQL tables.

Each is opened read-only and answers the few questions the reader asks (which tables,
which columns, the rows of a query); the reader (:mod:`sessionary_cli.agno`) is the same
for both. psycopg is imported only for a PostgreSQL URL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sessionary.errors import InvalidInputError, StorageError

__all__ = ["AgnoImportError", "Source", "open_source"]

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")


class AgnoImportError(StorageError):
    """An Agno database could not be read; the message says which session and why."""


class Source:
    """An Agno database opened read-only."""

    #: Where the data is, for messages (never a password).
    where: str
    #: The query parameter placeholder.
    mark: str
    #: What orders rows that tie on every column (insertion order where there is one).
    row_order: str

    def tables(self) -> set[str]:
        """The names of the tables Agno's tables would be among."""
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        """The column names of ``table``."""
        raise NotImplementedError

    def table(self, name: str) -> str:
        """``name`` quoted (and qualified) for a query."""
        raise NotImplementedError

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Every row of ``query``."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        raise NotImplementedError


class _Sqlite(Source):
    mark = "?"
    row_order = "rowid"

    def __init__(self, url: str) -> None:
        path = Path(url[len("sqlite:///") :])
        if not path.is_file():
            raise InvalidInputError(f"no Agno database at {path}")
        self.where = str(path)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def tables(self) -> set[str]:
        query = "SELECT name FROM sqlite_master WHERE type='table'"
        return {row[0] for row in self.db.execute(query)}

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f'PRAGMA table_info("{table}")')}

    def table(self, name: str) -> str:
        return f'"{name}"'

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(query, params).fetchall()

    def close(self) -> None:
        self.db.close()


class _Postgres(Source):
    mark = "%s"
    row_order = "run_id"

    def __init__(self, url: str, schema: str) -> None:
        parts = urlsplit(url)
        libpq = urlunsplit(parts._replace(scheme="postgresql"))
        host = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self.where = f"PostgreSQL {host}{parts.path or '/'} (schema {schema!r})"
        self.schema = schema
        try:
            import psycopg
        except ImportError:
            raise InvalidInputError(
                "reading Agno's PostgresDb needs psycopg: pip install 'psycopg[binary]' "
                "(sessionary-postgres brings it)"
            ) from None
        try:
            self.conn = psycopg.connect(libpq, connect_timeout=10, autocommit=False)
            self.conn.read_only = True
        except psycopg.Error as exc:
            raise AgnoImportError(f"cannot read {self.where}: {exc}") from None

    def tables(self) -> set[str]:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        return {row[0] for row in self.rows(query, (self.schema,))}

    def columns(self, table: str) -> set[str]:
        query = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s"
        )
        return {row[0] for row in self.rows(query, (self.schema, table))}

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            return self.conn.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise AgnoImportError(f"cannot read {self.where}: {exc}") from None

    def close(self) -> None:
        self.conn.close()


def open_source(url: str, schema: str) -> Source:
    """Open the Agno database ``url`` names, read-only."""
    if url.startswith("sqlite:///"):
        return _Sqlite(url)
    if url.split("://", 1)[0] in _POSTGRES_SCHEMES and "://" in url:
        return _Postgres(url, schema)
    raise InvalidInputError(
        f"{url.split('://', 1)[0]}://...: Agno's SqliteDb (sqlite:///path/to/agno.db) and "
        "PostgresDb (postgresql://user@host/db) can be imported"
    )
