"""The async storage contract on the built-in stores: memory, adapted by ThreadedAsyncStore."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sessionary import AsyncStore, Store
from sessionary.caching import CachingStore, MemoryCache
from sessionary.errors import InvalidInputError
from sessionary.storage.aio import ThreadedAsyncStore
from sessionary.storage.memory import MemoryDb
from sessionary.testing import IoGate
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
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


class GatedMemoryDb(MemoryDb):
    """A memory store whose every backend call waits at ``gate`` in its thread."""

    def __init__(self, gate: IoGate) -> None:
        super().__init__()
        self.gate = gate

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in _BACKEND_METHODS:
            gate = super().__getattribute__("gate")

            def gated(*args: Any, **kwargs: Any) -> Any:
                gate.wait()  # a slow disk or server: the I/O happens here, in this thread
                return value(*args, **kwargs)

            return gated
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

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        return ThreadedAsyncStore(GatedMemoryDb(gate))


class TestThreadedCachingStore(AsyncStorageConformance):
    """A cached store, adapted to async: the cache and its locks run in the worker threads."""

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return CachingStore(MemoryDb(), MemoryCache()).to_async()

    def corrupt_session(self, store: Store, session_id: str) -> None:
        _memory_of(store)._runs[session_id][0] = '{"run_id": 42'

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        return CachingStore(GatedMemoryDb(gate), MemoryCache()).to_async()


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


def test_the_gate_catches_io_on_the_loops_thread() -> None:
    gate = IoGate()

    async def rude() -> None:
        gate.wait()  # a sync driver called inside the loop: exactly what the gate is for

    with pytest.raises(AssertionError, match=r"rude did blocking I/O on the event loop's thread"):
        asyncio.run(gate.check(rude(), what="rude"))


def test_the_gate_catches_a_loop_held_while_its_io_waits_elsewhere() -> None:
    """A sync client on the loop, waiting for a reply that a gated proxy holds in its thread."""
    gate = IoGate(fallback=0.2)

    async def rude() -> None:
        worker = threading.Thread(target=gate.wait)  # the proxy holding the reply
        worker.start()
        worker.join()  # the client's blocking recv: the loop cannot let the reply through

    with pytest.raises(AssertionError, match=r"rude held the event loop while its I/O waited"):
        asyncio.run(gate.check(rude(), what="rude"))
    assert gate.released_by_fallback == 1


def test_the_gate_lets_io_off_the_loop_through_and_returns_the_result() -> None:
    gate = IoGate()

    async def polite() -> str:
        await asyncio.gather(*(asyncio.to_thread(gate.wait) for _ in range(5)))
        return "done"

    assert asyncio.run(gate.check(polite(), what="polite")) == "done"
    assert gate.passed == 5 and gate.released_by_fallback == gate.on_loop_thread == 0


def test_the_gate_fails_a_check_that_did_no_io() -> None:
    gate = IoGate()

    async def quick() -> None:
        await asyncio.sleep(0)

    with pytest.raises(AssertionError, match="quick did no I/O through the gate"):
        asyncio.run(gate.check(quick(), what="quick"))


def test_async_store_checks_its_arguments_like_the_sync_one() -> None:
    store = MemoryDb().to_async()
    with pytest.raises(InvalidInputError, match="limit must be an int from 1 to 1000"):
        asyncio.run(store.list_sessions(limit=0))
    with pytest.raises(InvalidInputError, match="state must be a mapping"):
        asyncio.run(store.update_session("s", state=[1]))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expected_version must be an int"):
        asyncio.run(store.update_run(make_run("s"), expected_version="1"))  # type: ignore[arg-type]


class _OnTheLoop(ThreadedAsyncStore):
    """A wrong async store: it calls its sync store on the event loop's own thread."""

    async def _run_write(self, call: Any) -> Any:
        return call(self.store)


def test_the_blocking_clauses_fail_a_store_that_runs_its_io_on_the_loop() -> None:
    class Wrong(AsyncStorageConformance):
        def make_gated_store(self, gate: IoGate) -> AsyncStore:
            return _OnTheLoop(GatedMemoryDb(gate))

    with pytest.raises(AssertionError, match="append_run did blocking I/O on the event loop"):
        Wrong().test_store_calls_never_block_the_loop()
    with pytest.raises(AssertionError, match="Agent.arun did blocking I/O on the event loop"):
        Wrong().test_agent_async_methods_never_block_the_loop()


def test_the_agent_clause_fails_an_agent_that_calls_its_sync_store_on_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sync store beside the gated async one is gated too: a stray sync call is caught."""
    from sessionary.agent.agent import Agent

    async def sync_inside(self: Agent, *args: Any, **kwargs: Any) -> Any:
        return self.get_session(*args, **kwargs)  # the bug: the sync API inside the loop

    monkeypatch.setattr(Agent, "aget_session", sync_inside)
    with pytest.raises(AssertionError, match="aget_session did blocking I/O on the event loop"):
        TestThreadedMemoryStore().test_agent_async_methods_never_block_the_loop()
