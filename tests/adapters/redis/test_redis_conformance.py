"""The whole storage contract against the real Redis server (``SESSIONARY_REDIS_URL``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import redis
from redis_support import delete_prefix, free_port, with_params
from sessionary_redis import RedisDb
from sessionary_redis.scripts import STORE_SCHEMA as SCHEMA_VERSION

from sessionary.storage.base import Capability, Store
from sessionary.testing import SlowProxy, StorageConformance


def proxy_to(url: str) -> SlowProxy:
    """A started proxy in front of the Redis server of ``url``: it counts the bytes."""
    parts = urlsplit(url)
    return SlowProxy((parts.hostname or "127.0.0.1", parts.port or 6379)).start()


class TestRedisDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL})

    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str, prefix: str) -> Iterator[None]:
        self.url = redis_url
        self.prefix = prefix
        self.ttl_prefixes: list[str] = []
        self.proxies: list[SlowProxy] = []
        yield
        for proxy in self.proxies:
            proxy.stop()
        client = redis.Redis.from_url(redis_url)
        try:
            for extra in self.ttl_prefixes:
                delete_prefix(client, extra)
        finally:
            client.close()

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        with RedisDb(self.url, prefix=self.prefix) as store:
            yield store

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        url: str = with_params(self.url, prefix=self.prefix)
        return url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, RedisDb)
        store.client.lset(store.keys.runs(session_id), 0, b"\xff{not json")  # type: ignore[arg-type]

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, RedisDb)
        store.client.hset(store.keys.session(session_id), "schema", SCHEMA_VERSION + newer)

    def make_ttl_store(self, ttl: float) -> Store:
        prefix = f"sessionary-test-ttl-{uuid.uuid4().hex[:12]}"
        self.ttl_prefixes.append(prefix)
        return RedisDb(self.url, prefix=prefix, ttl=ttl)

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, RedisDb)
        store.client.hset(store.keys.session(session_id), "state", "{not json")

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        prefix = f"sessionary-test-counted-{uuid.uuid4().hex[:12]}"
        self.ttl_prefixes.append(prefix)
        proxy = proxy_to(self.url)
        self.proxies.append(proxy)
        path = urlsplit(self.url).path or "/0"
        store = RedisDb(f"redis://127.0.0.1:{proxy.port}{path}", prefix=prefix)
        return store, lambda: proxy.bytes_passed

    def unreachable_store(self) -> tuple[Store, str]:
        port = free_port()
        return RedisDb(f"redis://127.0.0.1:{port}/0", prefix="nowhere"), str(port)
