"""SQLite storage adapter for Sessionary: the embedded default.

>>> from sessionary_sqlite import SqliteDb
>>> db = SqliteDb(db_url="sqlite:///:memory:")
>>> db.schema_status().needs_migration
False
"""

from __future__ import annotations

from sessionary_sqlite.store import SqliteDb

__version__ = "0.1.0"

__all__ = ["SqliteDb", "__version__"]
