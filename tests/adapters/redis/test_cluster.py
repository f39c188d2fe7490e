"""The whole storage contract against a three-node Redis Cluster started for this module.

Three ``redis-server --cluster-enabled yes`` nodes on free loopback ports, joined with
``redis-cli --cluster create``; the suite runs through ``redis.cluster.RedisCluster``,
and the async suite through ``redis.asyncio.cluster.RedisCluster``, then the nodes are
shut down.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio.cluster
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis_support import RedisServer, start_cluster, with_params
from sessionary_redis import RedisDb
from sessionary_redis.aio import AsyncRedisStore
from sessionary_redis.scripts import STORE_SCHEMA as SCHEMA_VERSION

from sessionary.errors import StoreUnavailableError
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Capability, Store
from sessionary.testing import IoGate, StorageConformance
from sessionary.testing.async_storage import AsyncStorageConformance, BlockingStore
from sessionary.testing.slow_proxy import SlowProxy
from sessionary.testing.storage import make_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    servers = start_cluster(Path(tmp_path_factory.mktemp("redis-cluster")))
    yield servers
    for server in servers:
        server.stop()


def _client(servers: list[RedisServer]) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", s.port) for s in servers],  # type: ignore[no-untyped-call]
        socket_timeout=5,
    )


class TestRedisClusterDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL})

    @pytest.fixture(autouse=True)
    def _cluster(self, cluster: list[RedisServer]) -> Iterator[None]:
        self.servers = cluster
        self.client = _client(cluster)
        self.prefix = f"t-{uuid.uuid4().hex[:12]}"
        yield
        self.client.close()

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        with RedisDb(client=self.client, prefix=self.prefix) as store:
            yield store

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        url = f"redis://127.0.0.1:{self.servers[0].port}/0"
        return str(with_params(url, prefix=self.prefix, cluster="true"))

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, RedisDb)
        store.client.lset(store.keys.runs(session_id), 0, b"\xff{not json")  # type: ignore[arg-type]

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, RedisDb)
        store.client.hset(store.keys.session(session_id), "schema", SCHEMA_VERSION + newer)

    def make_ttl_store(self, ttl: float) -> Store:
        return RedisDb(client=self.client, prefix=f"ttl-{uuid.uuid4().hex[:12]}", ttl=ttl)


class _ClosingItsClient(AsyncRedisStore):
    """A store on a client the test made, which closing the store closes too."""

    async def close(self) -> None:
        await super().close()
        assert self._given is not None
        await self._given.client.aclose()


class TestAsyncRedisCluster(AsyncStorageConformance):
    """AsyncRedisStore on ``redis.asyncio.cluster.RedisCluster``, opened by URL (cluster=true)."""

    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL})

    @pytest.fixture(autouse=True)
    def _cluster(self, cluster: list[RedisServer]) -> Iterator[None]:
        self.servers = cluster
        self.prefix = f"t-{uuid.uuid4().hex[:12]}"
        self.proxies: list[SlowProxy] = []
        yield
        for proxy in self.proxies:
            proxy.stop()

    @property
    def url(self) -> str:
        url = f"redis://127.0.0.1:{self.servers[0].port}/0"
        return str(with_params(url, prefix=self.prefix, cluster="true"))

    @pytest.fixture
    def async_store(self) -> AsyncStore:
        store = AsyncRedisStore(self.url)
        assert store.is_cluster
        return store

    @pytest.fixture
    def store_url(self) -> str:
        return self.url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncRedisStore)
        client = _client(self.servers)
        try:
            client.lset(store.inner.keys.runs(session_id), 0, b"\xff{not json")  # type: ignore[arg-type]
        finally:
            client.close()

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, BlockingStore) and isinstance(store.inner, AsyncRedisStore)
        client = _client(self.servers)
        try:
            client.hset(store.inner.keys.session(session_id), "schema", SCHEMA_VERSION + newer)
        finally:
            client.close()

    def make_ttl_store(self, ttl: float) -> Store:
        return BlockingStore(
            AsyncRedisStore(self.url, prefix=f"ttl-{uuid.uuid4().hex[:12]}", ttl=ttl)
        )

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        # Every node behind a gated proxy; the client maps the nodes' addresses to them.
        proxies = {
            s.port: SlowProxy(("127.0.0.1", s.port), gate=gate.wait).start() for s in self.servers
        }
        self.proxies += proxies.values()

        def remap(address: tuple[str, int]) -> tuple[str, int]:
            return "127.0.0.1", proxies[address[1]].port

        client = redis.asyncio.cluster.RedisCluster(
            startup_nodes=[redis.asyncio.cluster.ClusterNode("127.0.0.1", self.servers[0].port)],
            address_remap=remap,
            socket_timeout=5,
        )
        return _ClosingItsClient(client=client, prefix=f"slow-{uuid.uuid4().hex[:12]}")


def test_a_sessions_keys_share_one_slot_and_sessions_spread_over_nodes(
    cluster: list[RedisServer],
) -> None:
    client = _client(cluster)
    try:
        db = RedisDb(client=client, prefix=f"t-{uuid.uuid4().hex[:12]}")
        assert db.is_cluster
        nodes = set()
        for index in range(30):
            sid = f"user:{index}:{{tag}}*"
            db.append_run(make_run(sid, user_id="alice"))
            slot = key_slot(db.keys.session(sid).encode())
            assert key_slot(db.keys.runs(sid).encode()) == slot
            nodes.add(client.get_node_from_key(db.keys.session(sid)).name)  # type: ignore[no-untyped-call]
        assert len(nodes) == 3  # the hash tag is the session, not something shared
        listed = db.list_sessions(user_id="alice", limit=1000).items
        assert len(listed) == 30
    finally:
        client.close()


def test_a_node_going_away_is_a_clear_error_and_the_same_store_recovers(
    tmp_path: Path,
) -> None:
    servers = start_cluster(tmp_path / "fault-cluster")
    client = _client(servers)
    try:
        db = RedisDb(client=client, prefix="fault", retries=0)
        db.append_run(make_run("s1", user_id="alice"))
        owner = client.get_node_from_key(db.keys.session("s1"))  # type: ignore[no-untyped-call]
        victim = next(s for s in servers if owner.name.endswith(f":{s.port}"))
        victim.stop()
        with pytest.raises(StoreUnavailableError) as raised:
            db.append_run(make_run("s1", user_id="alice"))
        assert "Redis cluster" in str(raised.value) and "'s1'" in str(raised.value)
        victim.start()  # same port and nodes.conf: it takes its slots back, empty
        patient = RedisDb(client=client, prefix="fault", retries=12, retry_backoff=0.2)
        info = patient.append_run(make_run("s1", user_id="alice", text="after"))
        assert info.run_count == 1
        assert [r.input for r in db.get_runs("s1")] == ["after"]  # the first store too
    finally:
        client.close()
        for server in servers:
            server.stop()
