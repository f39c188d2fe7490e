"""The whole storage contract against the real Redis server (``SESSIONARY_REDIS_URL``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from redis_support import delete_prefix, with_params
from sessionary_redis import RedisDb

from sessionary.codec import SCHEMA_VERSION
from sessionary.storage.base import Capability, Store
from sessionary.testing import StorageConformance


class TestRedisDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL})

    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str, prefix: str) -> Iterator[None]:
        self.url = redis_url
        self.prefix = prefix
        self.ttl_prefixes: list[str] = []
        yield
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
