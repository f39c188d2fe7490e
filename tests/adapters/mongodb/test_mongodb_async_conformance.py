"""AsyncMongoStore: the whole storage contract on pymongo's ``AsyncMongoClient``.

The client talks over a loopback socket to ``MockMongoServer`` (mongomock behind
MongoDB's wire protocol), or to the server at ``SESSIONARY_MONGODB_URL`` when it is set,
each store in a database of its own, dropped afterwards. The sync ``MongoDb`` opens the
same databases for the durability and multi-process clauses. The slow store is that
server behind a loopback proxy that holds every request. Then: data shared with the
sync store both ways, a link cut mid-write, and use from more than one event loop.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pymongo
import pytest
from mongodb_support import (
    damage_session_doc,
    server_like_mongomock,
    stamp_schema,
    url_with_db,
)
from mongodb_wire import MockMongoServer
from sessionary_mongodb import AsyncMongoStore, MongoDb

from sessionary.errors import StorageError, StoreUnavailableError
from sessionary.storage.aio import AsyncStore, ThreadedAsyncStore
from sessionary.storage.base import Capability, Store
from sessionary.testing import IoGate
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
from sessionary.testing.async_store_checks import check_several_event_loops, check_shared_with_sync
from sessionary.testing.slow_proxy import SlowProxy
from sessionary.testing.storage_data import make_run

REAL_URL = os.environ.get("SESSIONARY_MONGODB_URL") or None


def _with_options(url: str, **options: object) -> str:
    """``url`` with these query options, replacing any it has of the same names."""
    base, _, query = url.partition("?")
    names = {name.lower() for name in options}
    kept = [part for part in query.split("&") if part and part.split("=")[0].lower() not in names]
    added = [f"{key}={value}" for key, value in options.items()]
    return f"{base}?{'&'.join(kept + added)}"


def _proxied(url: str, proxy: SlowProxy) -> str:
    """``url`` (one host) with the proxy's port in its place, connecting to it directly."""
    parts = urlsplit(url)
    if parts.scheme != "mongodb" or parts.hostname is None or "," in parts.netloc:
        raise RuntimeError(f"the proxy tests need a mongodb:// URL with one host, not {url!r}")
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc[-1] = host
    proxied = parts._replace(netloc="@".join(netloc)).geturl()
    return _with_options(proxied, directConnection="true")


def _target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    return parts.hostname, parts.port or 27017


class _Databases:
    """Databases made for one test on the server, dropped afterwards."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.names: list[str] = []

    def url(self, **options: object) -> str:
        name = f"sessionary_test_{uuid.uuid4().hex[:12]}"
        self.names.append(name)
        url = url_with_db(self.base_url, name)
        return _with_options(url, **options) if options else url

    def drop(self) -> None:
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(self.base_url)
        try:
            for name in self.names:
                client.drop_database(name)
        finally:
            client.close()


@pytest.fixture
def databases(mock_server: MockMongoServer) -> Iterator[_Databases]:
    made = _Databases(REAL_URL or mock_server.url)
    yield made
    made.drop()


class TestAsyncMongoStore(AsyncStorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL})

    @pytest.fixture(autouse=True)
    def _backend(self, databases: _Databases) -> Iterator[None]:
        self.databases = databases
        self.url = databases.url()
        self.proxies: list[SlowProxy] = []
        yield
        for proxy in self.proxies:
            proxy.stop()

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return AsyncMongoStore(db_url=self.url)

    @pytest.fixture
    def store_url(self) -> str:
        return self.url

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncMongoStore)
        sync = MongoDb(db_url=self.url)
        try:
            db = sync.client[sync.db_name]
            stamp_schema(db["sessionary_meta"], db["sessions"], session_id, newer=newer)
        finally:
            sync.close()

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncMongoStore)
        sync = MongoDb(db_url=self.url)
        try:
            result = sync.client[sync.db_name]["runs"].update_many(
                {"session_id": session_id}, {"$set": {"data": '{"run_id": 42'}}
            )
        finally:
            sync.close()
        assert result.modified_count >= 1

    def make_ttl_store(self, ttl: float) -> Store:
        return BlockingStore(AsyncMongoStore(db_url=self.databases.url(), ttl=ttl))

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        sync = MongoDb(db_url=self.url)
        try:
            damage_session_doc(sync.client[sync.db_name]["sessions"], session_id)
        finally:
            sync.close()

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        proxy = SlowProxy(_target(self.url), gate=gate.wait).start()
        self.proxies.append(proxy)
        return AsyncMongoStore(db_url=_proxied(self.databases.url(), proxy))


# --------------------------------------------------------------------------- beyond the suite


def test_to_async_is_the_native_store_on_the_same_settings(databases: _Databases) -> None:
    db = MongoDb(
        db_url=databases.url(serverSelectionTimeoutMS=1500),
        sessions_collection="s",
        runs_collection="r",
        ttl=600,
        max_document_bytes=4096,
    )
    twin = db.to_async()
    assert isinstance(twin, AsyncMongoStore) and twin.native is True
    assert (twin.db_name, twin.ttl, twin.max_document_bytes) == (db.db_name, 600.0, 4096)
    assert twin._collection_names == ("s", "r")
    assert twin.name == "mongodb" and twin.capabilities == db.capabilities


def test_to_async_of_a_store_on_an_application_client_is_adapted_in_threads() -> None:
    db = MongoDb(client=server_like_mongomock(), db_name="app")
    twin = db.to_async()
    assert isinstance(twin, ThreadedAsyncStore) and twin.native is False
    asyncio.run(twin.append_run(make_run("s1", user_id="alice")))
    assert db.get_session_info("s1", user_id="alice") is not None


def test_async_writes_are_read_by_the_sync_store_and_back(databases: _Databases) -> None:
    with MongoDb(db_url=databases.url()) as db:
        check_shared_with_sync(db, db.to_async())


def test_a_cut_link_mid_write_is_a_clear_error_and_loses_nothing_stored(
    databases: _Databases,
) -> None:
    url = databases.url(serverSelectionTimeoutMS=500)
    with SlowProxy(_target(url)) as proxy:
        store = AsyncMongoStore(db_url=_proxied(url, proxy))

        async def scenario() -> None:
            for turn in range(3):
                await store.append_run(make_run("chat", user_id="alice", text=f"turn {turn}"))
            proxy.hold(requests=True)  # the next write is held in the link when it breaks
            write = asyncio.ensure_future(
                store.append_run(make_run("chat", user_id="alice", text="lost"))
            )
            await asyncio.to_thread(proxy.wait_until_holding)
            proxy.refuse()
            assert proxy.cut() >= 1
            with pytest.raises(StoreUnavailableError) as raised:
                await write
            message = str(raised.value)
            assert f"127.0.0.1:{proxy.port}" in message
            assert "appending run" in message and "'chat'" in message
            with pytest.raises(StoreUnavailableError, match="reading session 'chat'"):
                await store.get_session("chat")
            proxy.release()
            proxy.accept()  # the link is back: the same store object goes on
            session = await store.get_session("chat", user_id="alice")
            assert session is not None
            assert [r.input for r in session.runs] == ["turn 0", "turn 1", "turn 2"]
            assert session.run_count == 3
            assert session.input_tokens == sum(r.metrics.input_tokens for r in session.runs)
            info = await store.append_run(make_run("chat", user_id="alice", text="after"))
            assert info.run_count == 4
            await store.close()

        asyncio.run(scenario())


def test_one_store_used_from_event_loops_in_turn_and_at_once(databases: _Databases) -> None:
    check_several_event_loops(AsyncMongoStore(db_url=databases.url()))


def test_an_application_client_on_another_loop_is_a_clear_error(databases: _Databases) -> None:
    url = databases.url()
    client: pymongo.AsyncMongoClient[dict[str, object]] = pymongo.AsyncMongoClient(url)
    store = AsyncMongoStore(client=client, db_name=url.rsplit("/", 1)[1])

    async def first() -> None:
        await store.append_run(make_run("s1", user_id="alice"))
        await store.close()  # an application's client stays open
        await client.admin.command("ping")

    asyncio.run(first())
    with pytest.raises(StorageError, match="belongs to the event loop it was first used on"):
        asyncio.run(store.get_session("s1"))


def test_a_sync_client_is_refused() -> None:
    with pytest.raises(Exception, match="client must be a pymongo.AsyncMongoClient") as raised:
        AsyncMongoStore(client=server_like_mongomock(), db_name="app")
    assert type(raised.value).__name__ == "InvalidInputError"
    with pytest.raises(Exception, match="either db_url or client to AsyncMongoStore"):
        AsyncMongoStore(db_url="mongodb://h", client=server_like_mongomock())


@pytest.mark.parametrize("cancel_at", [1, 2, 3])
def test_a_write_cancelled_between_its_steps_is_stored_whole_or_not_at_all(
    databases: _Databases, cancel_at: int
) -> None:
    url = databases.url()
    with SlowProxy(_target(url)) as proxy:
        store = AsyncMongoStore(db_url=_proxied(url, proxy))

        async def scenario() -> None:
            await store.append_run(make_run("chat", user_id="alice", text="first"))
            proxy.hold(requests=True)
            write = asyncio.ensure_future(
                store.append_run(make_run("chat", user_id="alice", text="cancelled"))
            )
            for step in range(1, cancel_at):  # let the steps before through, one by one
                await asyncio.to_thread(proxy.wait_until_holding, step)
                proxy.let_through()
            await asyncio.to_thread(proxy.wait_until_holding, cancel_at)
            write.cancel()  # in the first, second or third step
            with pytest.raises(asyncio.CancelledError):
                await write
            proxy.release()
            # What was under way finishes in the background: wait until the session is
            # whole again (bounded); a write stopped half-way never gets there.
            for _ in range(1000):
                session = await store.get_session("chat", user_id="alice")
                if session is not None and session.run_count == len(session.runs):
                    break
                await asyncio.sleep(0.01)
            assert session is not None
            assert session.run_count == len(session.runs) in (1, 2)
            assert session.input_tokens == sum(r.metrics.input_tokens for r in session.runs)
            await store.close()

        asyncio.run(scenario())
