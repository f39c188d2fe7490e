"""AsyncRedisStore: the whole storage contract on ``redis.asyncio``, against the real server.

Every clause of the sync suite runs on the async store through the conformance bridge,
plus the async clauses; the slow store is the real server behind a loopback proxy
that holds every command. Then what only the async store can get wrong: data shared
with the sync store both ways, a connection cut or killed mid-run, and use from more
than one event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio
from redis_support import delete_prefix, free_port, with_params
from sessionary_redis import RedisDb
from sessionary_redis.aio import AsyncRedisStore
from sessionary_redis.scripts import STORE_SCHEMA as SCHEMA_VERSION

from sessionary.errors import StorageError, StoreUnavailableError
from sessionary.storage.aio import AsyncStore, ThreadedAsyncStore
from sessionary.storage.base import Capability, Store
from sessionary.testing import IoGate
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
from sessionary.testing.async_store_checks import check_several_event_loops, check_shared_with_sync
from sessionary.testing.slow_proxy import SlowProxy
from sessionary.testing.storage_data import make_run


def _address(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.hostname is None:
        raise RuntimeError(f"the slow-store tests proxy a redis:// TCP server, not {url!r}")
    return parts.hostname, parts.port or 6379, parts.path or "/0"


class TestAsyncRedisStore(AsyncStorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL})

    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str, prefix: str) -> Iterator[None]:
        self.url = redis_url
        self.prefix = prefix
        self.extra_prefixes: list[str] = []
        self.proxies: list[SlowProxy] = []
        yield
        for proxy in self.proxies:
            proxy.stop()
        client = redis.Redis.from_url(redis_url)
        try:
            for extra in self.extra_prefixes:
                delete_prefix(client, extra)
        finally:
            client.close()

    def _new_prefix(self) -> str:
        prefix = f"sessionary-test-{uuid.uuid4().hex[:12]}"
        self.extra_prefixes.append(prefix)
        return prefix

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        return AsyncRedisStore(self.url, prefix=self.prefix)

    @pytest.fixture
    def store_url(self) -> str:
        url: str = with_params(self.url, prefix=self.prefix)
        return url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncRedisStore)
        client = redis.Redis.from_url(self.url)
        try:
            client.lset(store.inner.keys.runs(session_id), 0, b"\xff{not json")  # type: ignore[arg-type]
        finally:
            client.close()

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncRedisStore)
        client = redis.Redis.from_url(self.url)
        try:
            client.hset(store.inner.keys.session(session_id), "schema", SCHEMA_VERSION + newer)
        finally:
            client.close()

    def make_ttl_store(self, ttl: float) -> Store:
        return BlockingStore(AsyncRedisStore(self.url, prefix=self._new_prefix(), ttl=ttl))

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        host, port, path = _address(self.url)
        proxy = SlowProxy((host, port), gate=gate.wait).start()
        self.proxies.append(proxy)
        return AsyncRedisStore(f"redis://127.0.0.1:{proxy.port}{path}", prefix=self._new_prefix())

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncRedisStore)
        client = redis.Redis.from_url(self.url)
        try:
            client.hset(store.inner.keys.session(session_id), "state", "{not json")
        finally:
            client.close()

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        host, port, path = _address(self.url)
        proxy = SlowProxy((host, port)).start()
        self.proxies.append(proxy)
        inner = AsyncRedisStore(f"redis://127.0.0.1:{proxy.port}{path}", prefix=self._new_prefix())
        return BlockingStore(inner), lambda: proxy.bytes_passed

    def unreachable_store(self) -> tuple[Store, str]:
        port = free_port()
        return BlockingStore(AsyncRedisStore(f"redis://127.0.0.1:{port}/0", prefix="x")), str(port)


# --------------------------------------------------------------------------- beyond the suite


@pytest.fixture
def url(redis_url: str, prefix: str) -> str:
    """The shared server, with this test's prefix as a URL option."""
    made: str = with_params(redis_url, prefix=prefix)
    return made


def test_to_async_is_the_native_store_on_the_same_settings(url: str) -> None:
    db = RedisDb(with_params(url, ttl=600, retries=4), socket_timeout=3.0)
    twin = db.to_async()
    assert isinstance(twin, AsyncRedisStore)
    assert twin.native is True
    assert (twin.prefix, twin.ttl, twin.server) == (db.prefix, db.ttl, db.server)
    assert twin._policy.retries == 4
    assert twin.name == "redis" and twin.capabilities == db.capabilities


def test_to_async_of_a_store_on_an_application_client_is_adapted_in_threads(
    redis_url: str, prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        twin = RedisDb(client=client, prefix=prefix).to_async()
        assert isinstance(twin, ThreadedAsyncStore) and twin.native is False
        asyncio.run(twin.append_run(make_run("s1", user_id="alice")))
        assert asyncio.run(twin.get_session_info("s1", user_id="alice")) is not None
    finally:
        client.close()


def test_async_writes_are_read_by_the_sync_store_and_back(url: str) -> None:
    with RedisDb(url) as db:
        check_shared_with_sync(db, db.to_async())


def test_a_cut_connection_mid_write_is_a_clear_error_and_loses_nothing_stored(
    redis_url: str, prefix: str
) -> None:
    host, port, path = _address(redis_url)
    with SlowProxy((host, port)) as proxy:
        store = AsyncRedisStore(
            f"redis://127.0.0.1:{proxy.port}{path}", prefix=prefix, retries=1, retry_backoff=0.01
        )

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
            assert "append run" in message and "'chat'" in message
            with pytest.raises(StoreUnavailableError, match="read session 'chat'"):
                await store.get_session("chat")
            proxy.release()
            proxy.accept()  # the link is back: the same store object goes on
            session = await store.get_session("chat", user_id="alice")
            assert session is not None
            assert [r.input for r in session.runs] == ["turn 0", "turn 1", "turn 2"]
            assert session.run_count == 3
            info = await store.append_run(make_run("chat", user_id="alice", text="after"))
            assert info.run_count == 4
            await store.close()

        asyncio.run(scenario())


def test_a_killed_connection_is_retried_and_the_conversation_goes_on(
    url: str, redis_client: redis.Redis
) -> None:
    store = AsyncRedisStore(url, retries=2, retry_backoff=0.01)
    name = f"sessionary-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        bound = store._bound_here()
        await bound.client.client_setname(name)  # so the test kills this store's link only
        await store.append_run(make_run("chat", user_id="alice", text="before"))
        killed = 0
        for line in redis_client.client_list():
            if line.get("name") == name:
                redis_client.client_kill_filter(_id=line["id"])
                killed += 1
        assert killed == 1
        await store.append_run(make_run("chat", user_id="alice", text="after"))
        session = await store.get_session("chat")
        assert session is not None and [r.input for r in session.runs] == ["before", "after"]
        await store.close()

    asyncio.run(scenario())


def test_a_run_appended_again_after_a_lost_reply_is_not_stored_twice(
    redis_url: str, prefix: str
) -> None:
    host, port, path = _address(redis_url)
    with SlowProxy((host, port)) as proxy:
        store = AsyncRedisStore(f"redis://127.0.0.1:{proxy.port}{path}", prefix=prefix, retries=0)
        run = make_run("chat", user_id="alice", text="maybe")

        async def scenario() -> None:
            await store.append_run(make_run("chat", user_id="alice", text="first"))
            proxy.hold(replies=True)  # the write reaches the server; its reply is lost
            write = asyncio.ensure_future(store.append_run(run))
            await asyncio.to_thread(proxy.wait_until_holding)
            proxy.cut()
            with pytest.raises(StoreUnavailableError, match="retrying the same call"):
                await write
            proxy.release()
            info = await store.append_run(run)  # the retry the error message invites
            assert info.run_count == 2
            again = await store.append_run(run)  # the same run again is a no-op
            assert again.run_count == 2 and len(await store.get_runs("chat")) == 2
            await store.close()

        asyncio.run(scenario())


def test_one_store_used_from_event_loops_in_turn_and_at_once(url: str) -> None:
    check_several_event_loops(AsyncRedisStore(url))


def test_an_application_client_on_another_loop_is_a_clear_error(
    redis_url: str, prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = AsyncRedisStore(client=client, prefix=prefix)

    async def first() -> None:
        await store.append_run(make_run("s1", user_id="alice"))
        await store.close()  # an application's client stays open
        assert await client.ping()

    asyncio.run(first())
    with pytest.raises(StorageError, match="belongs to the event loop it was first used on"):
        asyncio.run(store.get_session("s1"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"db_url": "http://x"}, "not a Redis URL"),
        ({"db_url": "redis://h/0", "client": redis.asyncio.Redis()}, "either db_url or client"),
        ({"client": redis.Redis()}, "client must be a redis.asyncio.Redis"),
        ({"prefix": "a{b}"}, "prefix"),
        ({"ttl": 0}, "ttl must be a number of at least"),
        ({"retries": -1}, "retries must be a non-negative int"),
        ({"socket_timeout": 0}, "socket_timeout must be a number"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(Exception, match=message) as raised:
        AsyncRedisStore(**kwargs)  # type: ignore[arg-type]
    assert type(raised.value).__name__ == "InvalidInputError"


def test_a_cancelled_write_runs_whole_once_sent_and_never_if_not(
    redis_url: str, prefix: str
) -> None:
    host, port, path = _address(redis_url)
    with SlowProxy((host, port)) as proxy:
        store = AsyncRedisStore(f"redis://127.0.0.1:{proxy.port}{path}", prefix=prefix)

        async def scenario() -> None:
            await store.append_run(make_run("chat", user_id="alice", text="first"))
            proxy.hold(requests=True)
            never = asyncio.ensure_future(
                store.append_run(make_run("chat", user_id="alice", text="never sent"))
            )
            never.cancel()  # before it asked for anything
            sent = asyncio.ensure_future(
                store.append_run(make_run("chat", user_id="alice", text="sent"))
            )
            await asyncio.to_thread(proxy.wait_until_holding)  # its script is on the way
            sent.cancel()
            for task in (never, sent):
                with pytest.raises(asyncio.CancelledError):
                    await task
            proxy.release()
            # The write under way finishes in the background: wait for it (bounded).
            for _ in range(1000):
                session = await store.get_session("chat", user_id="alice")
                if session is not None and session.run_count >= 2:
                    break
                await asyncio.sleep(0.01)
            assert session is not None
            assert [r.input for r in session.runs] == ["first", "sent"]
            assert session.run_count == 2
            await store.close()

        asyncio.run(scenario())


class _SyncClientOnTheLoop(ThreadedAsyncStore):
    """A wrong async store: the sync Redis client, called on the event loop's thread."""

    async def _run_write(self, call: Any) -> Any:
        return call(self.store)


def test_the_gated_proxy_catches_a_sync_client_waiting_on_the_loop(
    redis_url: str, prefix: str
) -> None:
    """The client waits in a blocking recv on the loop while the proxy holds the reply in
    its own thread: nothing runs on the loop's thread at the gate, yet the check fails,
    because the loop never gets to let the reply through."""
    gate = IoGate(fallback=1.0)
    host, port, path = _address(redis_url)
    with SlowProxy((host, port), gate=gate.wait) as proxy:
        wrong = _SyncClientOnTheLoop(
            RedisDb(f"redis://127.0.0.1:{proxy.port}{path}", prefix=prefix)
        )
        with pytest.raises(AssertionError, match="append_run held the event loop"):
            asyncio.run(gate.check(wrong.append_run(make_run("s", user_id="u")), what="append_run"))
        assert gate.on_loop_thread == 0 and gate.released_by_fallback == 1
