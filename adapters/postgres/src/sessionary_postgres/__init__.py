"""PostgreSQL storage adapter for Sessionary, on psycopg 3 and its connection pools.

The classes load on first use, so loading the plugin (which every ``open_db`` does)
never imports psycopg.

>>> from sessionary_postgres import PostgresDb
>>> db = PostgresDb(db_url="postgresql://postgres@127.0.0.1:5432/postgres")
>>> db.name, db.url_schemes
('postgres', ('postgresql', 'postgres'))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AsyncPostgresDb", "AsyncPostgresStore", "PostgresDb", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("PostgresDb", "AsyncPostgresDb"):  # Agno's async name: a pure rename
        from sessionary_postgres.store import PostgresDb

        return PostgresDb
    if name == "AsyncPostgresStore":
        from sessionary_postgres.aio import AsyncPostgresStore

        return AsyncPostgresStore
    raise AttributeError(f"module 'sessionary_postgres' has no attribute {name!r}")


if TYPE_CHECKING:
    from sessionary_postgres.aio import AsyncPostgresStore
    from sessionary_postgres.store import PostgresDb

    AsyncPostgresDb = PostgresDb
