"""The async storage contract on the built-in stores: memory, adapted by ThreadedAsyncStore."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sessionary import AsyncStore, Store
from sessionary.caching import CachingStore, MemoryCache
from sessionary.errors import InvalidInputError
from sessionary.storage.aio import ThreadedAsyncStore
from sessionary.storage.memory import MemoryDb
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
from sessionary.testing.loop_lag import assert_loop_not_blocked, measure_loop_lag
from sessionary.testing.storage_data import make_run

_BACKEND_METHODS = (
    "_append_run",
    "_update_run",
    "_update_session",
    "_import_session",
    "_delete_session",
    "_erase_user",
    "_trim_runs",
    "_get_session",
    "_get_session_info",
    "_get_run",
    "_list_sessions",
)


class SlowMemoryDb(MemoryDb):
    """A memory store whose every backend call blocks its thread for ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in _BACKEND_METHODS:
            delay = super().__getattribute__("delay")

            def slow(*args: Any, **kwargs: Any) -> Any:
                time.sleep(delay)  # a slow disk or server: blocks the calling thread
                return value(*args, **kwargs)

            return slow
        return value


def _memory_of(store: Store) -> MemoryDb:
    """The memory store behind the bridge, the thread adapter and the cache."""
    assert isinstance(store, BlockingStore)
    inner: Any = store.inner
    assert isinstance(inner, ThreadedAsyncStore)
    found: Any = inner.store
    if isinstance(found, CachingStore):
        found.cache.clear()
        found = found.store
    assert isinstance(found, MemoryDb)
    return found


class TestThreadedMemoryStore(AsyncStorageConformance):
    """Memory, adapted to async by the automatic thread adapter."""

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return MemoryDb().to_async()

    def corrupt_session(self, store: Store, session_id: str) -> None:
        _memory_of(store)._runs[session_id][0] = '{"run_id": 42'

    def make_slow_store(self, delay: float) -> AsyncStore:
        return ThreadedAsyncStore(SlowMemoryDb(delay))


class TestThreadedCachingStore(AsyncStorageConformance):
    """A cached store, adapted to async: the cache and its locks run in the worker threads."""

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return CachingStore(MemoryDb(), MemoryCache()).to_async()

    def corrupt_session(self, store: Store, session_id: str) -> None:
        _memory_of(store)._runs[session_id][0] = '{"run_id": 42'

    def make_slow_store(self, delay: float) -> AsyncStore:
        return CachingStore(SlowMemoryDb(delay), MemoryCache()).to_async()


def test_a_store_without_an_async_twin_is_adapted_in_threads() -> None:
    adapted = MemoryDb().to_async()
    assert isinstance(adapted, ThreadedAsyncStore)
    assert adapted.native is False
    assert adapted.name == "memory"


def test_threaded_store_refuses_a_non_store() -> None:
    with pytest.raises(InvalidInputError, match="store must be a Store, got dict"):
        ThreadedAsyncStore({})  # type: ignore[arg-type]


def test_threaded_store_runs_on_the_executor_it_is_given() -> None:
    names: list[str] = []

    class Recording(MemoryDb):
        def _get_session(self, *args: Any) -> Any:
            import threading

            names.append(threading.current_thread().name)
            return super()._get_session(*args)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-thread") as pool:
        store = ThreadedAsyncStore(Recording(), executor=pool)
        asyncio.run(store.get_session("s1"))
    assert len(names) == 1 and names[0].startswith("store-thread")


def test_the_probe_catches_a_blocking_call() -> None:
    async def rude() -> None:
        time.sleep(0.2)  # a sync call inside the loop: exactly what the probe is for

    seen = asyncio.run(measure_loop_lag(rude()))
    assert seen.max_lag >= 0.15
    with pytest.raises(AssertionError, match=r"blocked the event loop for \d+"):
        asyncio.run(assert_loop_not_blocked(rude(), what="rude"))


def test_the_probe_fails_a_test_whose_slowness_never_happened() -> None:
    async def quick() -> None:
        await asyncio.sleep(0)

    with pytest.raises(AssertionError, match="the probe measured nothing"):
        asyncio.run(assert_loop_not_blocked(quick(), what="quick", at_least=0.1))


def test_async_store_checks_its_arguments_like_the_sync_one() -> None:
    store = MemoryDb().to_async()
    with pytest.raises(InvalidInputError, match="limit must be an int from 1 to 1000"):
        asyncio.run(store.list_sessions(limit=0))
    with pytest.raises(InvalidInputError, match="state must be a mapping"):
        asyncio.run(store.update_session("s", state=[1]))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expected_version must be an int"):
        asyncio.run(store.update_run(make_run("s"), expected_version="1"))  # type: ignore[arg-type]
