"""SqliteDb passes the whole storage conformance suite, on real files in tmp_path."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sessionary_sqlite import SqliteDb
from sessionary_sqlite.schema import LATEST
from sqlite_support import corrupt_session_row, counted_sqlite

from sessionary.storage.base import Capability, Store
from sessionary.testing import StorageConformance


class TestSqliteDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        with SqliteDb(db_file=tmp_path / "agent.db") as store:
            yield store

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        assert isinstance(store, SqliteDb)
        return store.url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, SqliteDb)
        with sqlite3.connect(store.path) as conn:
            changed = conn.execute(
                "UPDATE runs SET data = '{\"run_id\": 42' WHERE session_key = "
                "(SELECT session_key FROM sessions WHERE session_id = ?)",
                (session_id,),
            ).rowcount
        conn.close()
        assert changed == 1

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, SqliteDb)
        corrupt_session_row(store.path, session_id)

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        return counted_sqlite(self.folder / "counted.db")

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, SqliteDb)
        with sqlite3.connect(store.path) as conn:  # another process's connection
            conn.execute("UPDATE sessionary_schema SET version = ?", (LATEST + newer,))
        conn.close()


class TestSqliteDbInMemory(StorageConformance):
    """``sqlite:///:memory:``, the URL for tests: private to its store."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        with SqliteDb(db_url="sqlite:///:memory:") as store:
            yield store

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, SqliteDb)
        with store._lock:
            conn = store._connection()
            conn.execute(
                "UPDATE sessions SET state = 'not json' WHERE session_id = ?", (session_id,)
            )

    def corrupt_run_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, SqliteDb)
        with store._lock:
            store._connection().execute(
                "UPDATE runs SET data = '{\"run_id\": 42' WHERE session_key = "
                "(SELECT session_key FROM sessions WHERE session_id = ?)",
                (session_id,),
            )

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, SqliteDb)
        with store._lock:  # the raw connection: the store's cache is not told
            store._connection().execute(
                "UPDATE sessionary_schema SET version = ?", (LATEST + newer,)
            )
