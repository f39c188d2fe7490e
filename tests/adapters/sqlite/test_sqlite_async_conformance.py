"""AsyncSqliteStore: the whole storage contract on real files, its queries on its own threads.

The suite runs on a file (with the sync store opening the same file for the durability
and multi-process clauses) and on ``:memory:``. The gated store is a real file whose
connections wait as each transaction starts, as on a slow disk. Then what the
thread layout promises: reads go on while a write waits for another connection's lock,
nothing runs on the loop or its default executor, and data is shared with the sync
store both ways.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sessionary_sqlite import AsyncSqliteStore, SqliteDb
from sessionary_sqlite.schema import LATEST
from sqlite_support import corrupt_session_row, counted_async_sqlite

from sessionary.errors import InvalidInputError, StoreUnavailableError
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Capability, Store
from sessionary.testing import IoGate
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
from sessionary.testing.async_store_checks import check_several_event_loops, check_shared_with_sync
from sessionary.testing.storage_data import make_run


class _GatedDisk(SqliteDb):
    """A SqliteDb whose connection waits at ``gate`` as each transaction starts.

    SQLite calls the trace callback in the thread running the statement, before it
    runs: the wait is where a slow disk's first read would be.
    """

    gate: ClassVar[IoGate]

    def _connection(self) -> sqlite3.Connection:
        conn = super()._connection()
        if getattr(self, "_slowed", None) is not conn:

            def gated(_statement: str) -> None:
                if not conn.in_transaction:  # BEGIN, or a read on its own
                    self.gate.wait()

            conn.set_trace_callback(gated)
            self._slowed = conn
        return conn


def _gated_store(path: Path, gate: IoGate, **options: Any) -> AsyncSqliteStore:
    disk = type("GatedDisk", (_GatedDisk,), {"gate": gate})
    store_class = type("GatedAsyncSqliteStore", (AsyncSqliteStore,), {"database_class": disk})
    store: AsyncSqliteStore = store_class(db_file=path, **options)
    return store


def _corrupt_file(path: str, session_id: str) -> None:
    with sqlite3.connect(path) as conn:
        changed = conn.execute(
            "UPDATE runs SET data = '{\"run_id\": 42' WHERE session_key = "
            "(SELECT session_key FROM sessions WHERE session_id = ?)",
            (session_id,),
        ).rowcount
    conn.close()
    assert changed == 1


class TestAsyncSqliteStore(AsyncStorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return AsyncSqliteStore(db_file=self.folder / "agent.db")

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        return store.inner.url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        _corrupt_file(store.inner.path, session_id)

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        with sqlite3.connect(store.inner.path) as conn:  # another process's connection
            conn.execute("UPDATE sessionary_schema SET version = ?", (LATEST + newer,))
        conn.close()

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        return _gated_store(self.folder / "gated.db", gate)

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        corrupt_session_row(store.inner.path, session_id)

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        counted, counter = counted_async_sqlite(self.folder / "counted.db")
        return BlockingStore(counted), counter


class TestAsyncSqliteStoreOneThread(TestAsyncSqliteStore):
    """``readers=0``: every call on the writer thread."""

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return AsyncSqliteStore(db_file=self.folder / "agent.db", readers=0)

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        return _gated_store(self.folder / "gated.db", gate, readers=0)


class TestAsyncSqliteStoreInMemory(AsyncStorageConformance):
    """``sqlite:///:memory:``: private to its store, on the writer thread alone."""

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return AsyncSqliteStore(db_url="sqlite:///:memory:")

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        inner = store.inner

        def damage() -> None:
            db = inner._writer_db
            with db._lock:
                db._connection().execute(
                    "UPDATE sessions SET state = 'not json' WHERE session_id = ?", (session_id,)
                )

        writer, _ = inner._pools()
        writer.submit(damage).result()

    def corrupt_run_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        db = store.inner._writer_db

        def damage() -> None:
            with db._lock:
                db._connection().execute(
                    "UPDATE runs SET data = '{\"run_id\": 42' WHERE session_key = "
                    "(SELECT session_key FROM sessions WHERE session_id = ?)",
                    (session_id,),
                )

        store.inner._pools()[0].submit(damage).result()

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncSqliteStore)
        inner = store.inner

        def stamp() -> None:
            db = inner._writer_db
            with db._lock:  # the raw connection: the store's cache is not told
                db._connection().execute(
                    "UPDATE sessionary_schema SET version = ?", (LATEST + newer,)
                )

        writer, _ = inner._pools()
        writer.submit(stamp).result()

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        return _gated_store(self.folder / "gated.db", gate)


# --------------------------------------------------------------------------- beyond the suite


def test_to_async_opens_the_same_file_on_threads_of_its_own(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "agent.db", synchronous="normal", timeout=7)
    twin = db.to_async()
    assert isinstance(twin, AsyncSqliteStore)
    assert twin.native is False and twin.name == "sqlite"
    assert twin.url == db.url and twin.readers == 2
    assert twin._writer_db is not db  # connections of its own
    check_shared_with_sync(db, twin)
    db.close()


def test_to_async_of_a_memory_database_shares_its_only_connection() -> None:
    db = SqliteDb(db_url="sqlite:///:memory:")
    db.append_run(make_run("s1", user_id="alice", text="sync"))
    twin = db.to_async()
    assert isinstance(twin, AsyncSqliteStore) and twin.readers == 0

    async def scenario() -> list[object]:
        await twin.append_run(make_run("s1", user_id="alice", text="async"))
        runs = await twin.get_runs("s1")
        await twin.close()
        return [r.input for r in runs]

    assert asyncio.run(scenario()) == ["sync", "async"]
    assert len(db.get_runs("s1")) == 2  # still open
    db.close()


def test_reads_go_on_while_a_write_waits_for_another_connections_lock(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    store = AsyncSqliteStore(db_file=path)
    holding = threading.Event()
    release = threading.Event()

    def hold_the_write_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    async def scenario() -> None:
        await store.append_run(make_run("s1", user_id="alice", text="before"))
        holder = threading.Thread(target=hold_the_write_lock)
        holder.start()
        await asyncio.to_thread(holding.wait, 10)
        write = asyncio.ensure_future(
            store.append_run(make_run("s1", user_id="alice", text="queued"))
        )
        await asyncio.sleep(0.05)
        assert not write.done()  # waiting for the lock, on the writer thread
        # Reads answer meanwhile, and the loop stays free while the write waits.
        page = await store.list_sessions(user_id="alice")
        assert [i.session_id for i in page.items] == ["s1"]
        session = await store.get_session("s1", user_id="alice")
        assert session is not None and session.run_count == 1
        assert not write.done()
        release.set()
        info = await write
        assert info.run_count == 2
        await asyncio.to_thread(holder.join)
        await store.close()

    asyncio.run(scenario())


def test_a_write_locked_out_past_the_timeout_is_a_clear_error_and_stores_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "agent.db"
    store = AsyncSqliteStore(db_file=path, timeout=0.3)

    async def scenario() -> None:
        await store.append_run(make_run("s1", user_id="alice", text="kept"))
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match=r"stayed locked .* 0.3 s.*'s1'"):
                await store.append_run(make_run("s1", user_id="alice", text="lost"))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        session = await store.get_session("s1")
        assert session is not None and [r.input for r in session.runs] == ["kept"]
        await store.close()

    asyncio.run(scenario())


def test_a_file_deleted_under_the_store_is_a_clear_error_and_readers_follow(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gone.db"
    store = AsyncSqliteStore(db_file=path)

    async def scenario() -> None:
        await store.append_run(make_run("s1", text="before"))
        assert await store.get_session("s1") is not None  # a reader has the file open
        for name in ("gone.db", "gone.db-wal", "gone.db-shm"):
            if (tmp_path / name).exists():
                os.remove(tmp_path / name)
        with pytest.raises(StoreUnavailableError, match="deleted or replaced") as caught:
            await store.append_run(make_run("s1", text="lost"))
        assert "nothing was written" in str(caught.value)
        assert await store.get_session("s1") is None  # the readers see the new, empty file
        await store.append_run(make_run("s1", text="after"))
        session = await store.get_session("s1")
        assert session is not None and [r.input for r in session.runs] == ["after"]
        await store.close()

    asyncio.run(scenario())
    again = SqliteDb(db_file=path).get_session("s1")
    assert again is not None and again.run_count == 1


def test_queries_run_on_the_stores_threads_never_the_loop_or_its_executor(
    tmp_path: Path,
) -> None:
    seen: dict[str, set[str]] = {"write": set(), "read": set()}

    class Recording(SqliteDb):
        def _append_run(self, *args: Any) -> Any:
            seen["write"].add(threading.current_thread().name)
            return super()._append_run(*args)

        def _get_session(self, *args: Any) -> Any:
            seen["read"].add(threading.current_thread().name)
            return super()._get_session(*args)

    store_class = type("RecordingStore", (AsyncSqliteStore,), {"database_class": Recording})
    store = store_class(db_file=tmp_path / "agent.db")

    async def scenario() -> None:
        await asyncio.gather(*(store.append_run(make_run(f"s{i}")) for i in range(8)))
        await asyncio.gather(*(store.get_session(f"s{i}") for i in range(8)))
        await store.close()

    asyncio.run(scenario())
    assert {name.rsplit("_", 1)[0] for name in seen["write"]} == {"sessionary-sqlite-writer"}
    assert {name.rsplit("_", 1)[0] for name in seen["read"]} == {"sessionary-sqlite-reader"}
    assert 1 <= len(seen["read"]) <= 2


def test_one_store_used_from_two_event_loops_in_turn_and_at_once(tmp_path: Path) -> None:
    store = AsyncSqliteStore(db_file=tmp_path / "agent.db")
    check_several_event_loops(store, close_in_each_loop=False)  # its close is final


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = AsyncSqliteStore(db_file=tmp_path / "agent.db")

    async def scenario() -> None:
        await store.ping()
        await store.close()
        await store.close()  # twice is fine
        with pytest.raises(StoreUnavailableError, match="was closed"):
            await store.get_session("s1")

    asyncio.run(scenario())
    assert AsyncSqliteStore(db_file=tmp_path / "never.db")  # no I/O, no thread
    assert not (tmp_path / "never.db").exists()


def test_a_store_closed_before_use_opened_nothing(tmp_path: Path) -> None:
    store = AsyncSqliteStore(db_file=tmp_path / "sub" / "agent.db")
    asyncio.run(store.close())
    assert not (tmp_path / "sub").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of db_file"),
        ({"db_url": "postgres://x"}, "not a SQLite URL"),
        ({"db_url": "sqlite://", "readers": -1}, "readers must be from 0 to 64"),
        ({"db_url": "sqlite://", "readers": True}, "readers must be an int"),
        ({"db_url": "sqlite://", "synchronous": "off"}, "synchronous must be one of"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        AsyncSqliteStore(**kwargs)
