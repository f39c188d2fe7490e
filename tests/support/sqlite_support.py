"""Test helpers of the SQLite adapter: a store that counts the work SQLite does."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from sessionary_sqlite import AsyncSqliteStore, SqliteDb

__all__ = ["corrupt_session_row", "counted_async_sqlite", "counted_sqlite"]


class _Steps:
    def __init__(self) -> None:
        self.count = 0

    def step(self) -> int:
        self.count += 1
        return 0  # go on

    def __call__(self) -> int:
        return self.count


class _CountedDb(SqliteDb):
    """A SqliteDb whose connections count SQLite's virtual-machine steps (a progress
    handler called at every instruction): a scan of N rows takes N times the steps of a
    lookup, however fast the disk."""

    steps: ClassVar[_Steps]

    def _connection(self) -> sqlite3.Connection:
        conn = super()._connection()
        if getattr(self, "_counted", None) is not conn:
            conn.set_progress_handler(self.steps.step, 1)
            self._counted = conn
        return conn


def _counted_class(steps: _Steps) -> type[SqliteDb]:
    return type("CountedDb", (_CountedDb,), {"steps": steps})


def counted_sqlite(path: Path) -> tuple[SqliteDb, Callable[[], int]]:
    """A SqliteDb on ``path`` and its count of VM steps so far."""
    steps = _Steps()
    return _counted_class(steps)(db_file=path), steps


def counted_async_sqlite(
    path: Path, **options: object
) -> tuple[AsyncSqliteStore, Callable[[], int]]:
    """An AsyncSqliteStore on ``path`` whose connections count VM steps, and the count."""
    steps = _Steps()
    store_class = type(
        "CountedAsyncSqliteStore", (AsyncSqliteStore,), {"database_class": _counted_class(steps)}
    )
    store: AsyncSqliteStore = store_class(db_file=path, **options)
    return store, steps


def corrupt_session_row(path: str, session_id: str) -> None:
    """Write JSON that does not parse into the session row's ``metadata``, by hand."""
    with sqlite3.connect(path) as conn:
        changed = conn.execute(
            "UPDATE sessions SET metadata = '{not json' WHERE session_id = ?", (session_id,)
        ).rowcount
    conn.close()
    assert changed == 1
