"""The in-memory store passes the storage conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sessionary.resolve import open_db
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing import StorageConformance


class TestMemoryDb(StorageConformance):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        with MemoryDb() as store:
            yield store

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, MemoryDb)
        store._runs[session_id][0] = '{"run_id": 42'


def test_named_memory_urls_share_one_store() -> None:
    first = open_db("memory://shared-by-name")
    second = open_db("memory://shared-by-name")
    assert first is second
    assert open_db("memory://") is not open_db("memory://")
