"""SQLite storage adapter for Sessionary: the embedded default.

>>> from sessionary_sqlite import SqliteDb
>>> db = SqliteDb(db_url="sqlite:///:memory:")
>>> db.schema_status().needs_migration
False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionary_sqlite.store import SqliteDb

__version__ = "0.1.0"

#: Agno's name: ``SqliteDb`` serves ``run`` and ``arun`` alike (a pure rename).
AsyncSqliteDb = SqliteDb

__all__ = ["AsyncSqliteDb", "AsyncSqliteStore", "SqliteDb", "__version__"]


def __getattr__(name: str) -> Any:
    # The async store loads on first use, so sync users never import asyncio for it.
    if name == "AsyncSqliteStore":
        from sessionary_sqlite.aio import AsyncSqliteStore

        return AsyncSqliteStore
    raise AttributeError(f"module 'sessionary_sqlite' has no attribute {name!r}")


if TYPE_CHECKING:
    from sessionary_sqlite.aio import AsyncSqliteStore
