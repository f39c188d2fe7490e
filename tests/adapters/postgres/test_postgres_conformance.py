"""PostgresDb passes the whole storage conformance suite, on a database of its own per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sessionary_postgres import PostgresDb

from sessionary.storage.base import Capability, Store
from sessionary.testing import StorageConformance


class TestPostgresDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

    @pytest.fixture(autouse=True)
    def _damage(self, corrupt_run: Callable[[str, str], None]) -> None:
        self.corrupt_run = corrupt_run

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
