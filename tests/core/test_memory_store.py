"""The in-memory store passes the storage conformance suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sessionary.domain.sessions import SessionInfo
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

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        pytest.skip("memory:// does no I/O to count: its lists and dicts are in this process")

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        pytest.skip("memory:// keeps summaries as objects, never encoded: none can be damaged")


def test_named_memory_urls_share_one_store() -> None:
    first = open_db("memory://shared-by-name")
    second = open_db("memory://shared-by-name")
    assert first is second
    assert open_db("memory://") is not open_db("memory://")


class _TrustingDb(MemoryDb):
    """A plausible wrong store: its update_session passes expected_version on unchecked."""

    def update_session(self, session_id: str, **kwargs: Any) -> SessionInfo:
        version = kwargs.pop("expected_version", None)
        return self._update_session(session_id, kwargs.get("user_id"), version, kwargs)


def test_the_suite_fails_a_store_that_accepts_true_as_a_version() -> None:
    suite = TestMemoryDb()
    with (
        _TrustingDb() as store,
        pytest.MonkeyPatch.context() as patch,
        pytest.raises(AssertionError, match="bad expected_version"),
    ):
        suite.test_expected_version_must_be_an_int_before_any_io(store, True, patch)
