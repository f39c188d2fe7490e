"""PostgresDb passes the whole storage conformance suite, on a database of its own per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from postgres_support import closed_port, damage_session_row, proxied, stamp_schema
from sessionary_postgres import PostgresDb

from sessionary.storage.base import Capability, Store
from sessionary.testing import SlowProxy, StorageConformance


class TestPostgresDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

    @pytest.fixture(autouse=True)
    def _damage(
        self, corrupt_run: Callable[[str, str], None], make_database: Callable[[], str]
    ) -> Iterator[None]:
        self.corrupt_run = corrupt_run
        self.make_database = make_database
        self.proxies: list[SlowProxy] = []
        yield
        for proxy in self.proxies:
            proxy.stop()

    @pytest.fixture
    def store(self, database_url: str) -> Iterator[Store]:
        with PostgresDb(database_url) as store:
            yield store

    @pytest.fixture
    def store_url(self, database_url: str) -> str:
        return database_url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, PostgresDb)
        self.corrupt_run(store.url, session_id)

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, PostgresDb)
        stamp_schema(store.url, newer=newer)

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, PostgresDb)
        damage_session_row(store.url, session_id)

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        url = self.make_database()
        proxy = SlowProxy((urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 5432))
        self.proxies.append(proxy.start())
        return PostgresDb(
            proxied(url, proxy.port), min_size=1, max_size=1
        ), lambda: proxy.bytes_passed

    def unreachable_store(self) -> tuple[Store, str]:
        port = closed_port()
        return PostgresDb(f"postgresql://postgres@127.0.0.1:{port}/nowhere", timeout=2), str(port)
