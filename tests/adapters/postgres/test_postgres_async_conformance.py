"""AsyncPostgresStore: the whole storage contract on psycopg's async API, on the real server.

Every clause of the sync suite runs on the async store through the conformance bridge,
plus the async clauses; the gated store is the real server behind a loopback proxy
that holds every chunk until the event loop lets it through. Then what only the async
store can get wrong: data shared with the sync store both ways, and use from more than
one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from postgres_support import (
    closed_port,
    damage_session_row,
    proxied,
    stamp_schema,
    with_database,
)
from sessionary_postgres import AsyncPostgresStore, PostgresDb

from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Capability, Store
from sessionary.testing import IoGate
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
from sessionary.testing.async_store_checks import check_several_event_loops, check_shared_with_sync
from sessionary.testing.slow_proxy import SlowProxy
from sessionary.testing.storage_data import make_run


class TestAsyncPostgresStore(AsyncStorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

    @pytest.fixture(autouse=True)
    def _server(
        self,
        database_url: str,
        make_database: Callable[[], str],
        corrupt_run: Callable[[str, str], None],
    ) -> Iterator[None]:
        self.url = database_url
        self.corrupt_run = corrupt_run
        self.make_database = make_database
        self.proxies: list[SlowProxy] = []
        yield
        for proxy in self.proxies:
            proxy.stop()

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return AsyncPostgresStore(self.url)

    @pytest.fixture
    def store_url(self) -> str:
        return self.url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncPostgresStore)
        self.corrupt_run(self.url, session_id)

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncPostgresStore)
        stamp_schema(self.url, newer=newer)

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        url = self.make_database()
        parts = urlsplit(url)
        proxy = SlowProxy((parts.hostname or "127.0.0.1", parts.port or 5432), gate=gate.wait)
        self.proxies.append(proxy.start())
        proxied = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}")
        return AsyncPostgresStore(with_database(proxied.geturl(), parts.path.lstrip("/")))

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        damage_session_row(self.url, session_id)

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        url = self.make_database()
        proxy = SlowProxy((urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 5432))
        self.proxies.append(proxy.start())
        store = AsyncPostgresStore(proxied(url, proxy.port), min_size=1, max_size=1)
        return BlockingStore(store), lambda: proxy.bytes_passed

    def unreachable_store(self) -> tuple[Store, str]:
        port = closed_port()
        url = f"postgresql://postgres@127.0.0.1:{port}/nowhere"
        return BlockingStore(AsyncPostgresStore(url, timeout=2)), str(port)


# --------------------------------------------------------------------------- beyond the suite


def test_to_async_is_the_native_store_on_the_same_settings(database_url: str) -> None:
    db = PostgresDb(database_url, min_size=0, max_size=3, timeout=4)
    twin = db.to_async()
    assert isinstance(twin, AsyncPostgresStore) and twin.native is True
    assert (twin.url, twin.min_size, twin.max_size, twin.timeout) == (database_url, 0, 3, 4.0)
    assert twin.name == "postgres" and twin.capabilities == db.capabilities


def test_shared_with_the_sync_store(database_url: str) -> None:
    with PostgresDb(database_url) as db:
        check_shared_with_sync(db, db.to_async())


def test_several_event_loops(database_url: str) -> None:
    check_several_event_loops(AsyncPostgresStore(database_url))


def test_a_closed_store_opens_a_new_pool_when_used_again(database_url: str) -> None:
    async def scenario() -> None:
        store = AsyncPostgresStore(database_url)
        await store.append_run(make_run("s1"))
        await store.close()
        assert await store.get_session_info("s1") is not None  # a new pool for this loop

    asyncio.run(scenario())
