"""Session caching on real stores: SQLite files and the Redis server, across processes.

Two processes alternate runs in one session with caching on, each with its own agent,
and each must see the other's runs. The Redis server is the one at
``SESSIONARY_REDIS_URL`` (``redis://127.0.0.1:6379/0`` by default); every test writes
under prefixes of its own and deletes exactly those keys afterwards. An unreachable
server fails these tests: they never pass by skipping.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from mongodb_support import server_like_mongomock
from sessionary_mongodb import MongoDb
from sessionary_redis import RedisDb
from sessionary_redis.cache import RedisSessionCache
from sessionary_sqlite import SqliteDb

from sessionary import Agent, Team
from sessionary.caching import CachingStore, MemoryCache, SessionCache
from sessionary.caching.conformance import SessionCacheConformance, new_session
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import OwnershipError
from sessionary.storage.base import Store
from sessionary.testing import ScriptedModel

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"the Redis server at {REDIS_URL} is unreachable ({exc}); set SESSIONARY_REDIS_URL"
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    name = f"sessionary-caching-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{name}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def store_url(kind: str, tmp_path: Path, redis_url: str, prefix: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'agent.db'}"
    return f"{redis_url}?prefix={prefix}-store"


def cache_url(kind: str, redis_url: str, prefix: str) -> str | None:
    return f"{redis_url}?prefix={prefix}-cache" if kind == "redis" else None


class CountingSqliteDb(SqliteDb):
    """A SQLite store that records how many runs each session read asked for."""

    session_reads: list[int | None]

    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        return super()._get_session(session_id, user_id, last_n_runs)


class CountingRedisDb(RedisDb):
    """A Redis store that records how many runs each session read asked for."""

    session_reads: list[int | None]

    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        return super()._get_session(session_id, user_id, last_n_runs)


def counting_store(kind: str, tmp_path: Path, redis_url: str, prefix: str) -> Any:
    store: Any
    if kind == "sqlite":
        store = CountingSqliteDb(db_file=str(tmp_path / "agent.db"))
    else:
        store = CountingRedisDb(redis_url, prefix=f"{prefix}-store")
    store.session_reads = []
    return store


# --------------------------------------------------------------------------- the spec


def test_the_spec_snippet_works_with_a_db(tmp_path: Path) -> None:
    agent = Agent(
        model=ScriptedModel(),
        db=SqliteDb(db_file=str(tmp_path / "agent.db")),
        session_id="my_session",
        cache_session=True,
    )
    agent.run("First message")
    agent.run("Second message")
    session = agent.get_session()
    assert session is not None
    assert [r.input for r in session.runs] == ["First message", "Second message"]
    reopened = SqliteDb(db_file=str(tmp_path / "agent.db"))
    assert [r.input for r in reopened.get_runs("my_session")] == [
        "First message",
        "Second message",
    ]


def test_the_team_snippet_works_with_and_without_a_db(tmp_path: Path) -> None:
    for db in (None, SqliteDb(db_file=str(tmp_path / "team.db"))):
        team = Team(model=ScriptedModel(), db=db, session_id="team_session", cache_session=True)
        team.run("First message")
        team.run("Second message")
        session = team.get_session()
        assert session is not None
        assert [m.content for m in session.get_chat_history()][::2] == [
            "First message",
            "Second message",
        ]
        assert team.cache_stats is not None


# --------------------------------------------------------------------------- one process


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
@pytest.mark.parametrize("cache_kind", ["memory", "redis"])
def test_later_runs_read_no_runs_from_a_real_store(
    store_kind: str, cache_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    store = counting_store(store_kind, tmp_path, redis_url, prefix)
    agent = Agent(
        model=ScriptedModel(),
        db=store,
        cache_session=True,
        session_cache=cache_url(cache_kind, redis_url, prefix),
        add_history_to_context=True,
    )
    for index in range(8):
        agent.run(f"turn {index}", session_id="s1", user_id="u1")
    session = agent.get_session("s1", user_id="u1")
    assert session is not None and session.run_count == 8
    assert store.session_reads == []  # created by the first run, kept, never read back
    stats = agent.cache_stats
    assert stats is not None and (stats.misses, stats.hits, stats.stale) == (1, 8, 0)


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
def test_users_are_isolated_through_the_cache(
    store_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    url = store_url(store_kind, tmp_path, redis_url, prefix)
    agent = Agent(
        model=ScriptedModel(),
        db=url,
        cache_session=True,
        session_cache=cache_url("redis", redis_url, prefix),
        add_history_to_context=True,
    )
    agent.run("alice's secret", session_id="shared-id", user_id="alice")
    assert agent.get_session("shared-id", user_id="alice") is not None
    assert agent.get_session("shared-id", user_id="bob") is None
    with pytest.raises(OwnershipError):
        agent.run("bob's turn", session_id="shared-id", user_id="bob")
    assert isinstance(agent.model, ScriptedModel)
    assert all("secret" not in (m.content or "") for m in agent.model.requests[-1].messages)
    alice = agent.get_session("shared-id", user_id="alice")
    assert alice is not None and [r.input for r in alice.runs] == ["alice's secret"]


# --------------------------------------------------------------------------- two processes

WORKER = textwrap.dedent(
    """
    import json, sys
    from sessionary import Agent
    from sessionary.testing import ScriptedModel

    config = json.loads(sys.argv[1])
    agent = Agent(
        model=ScriptedModel(),
        db=config["db"],
        cache_session=True,
        session_cache=config["cache"],
        cache_trust_seconds=config["trust"],
        add_history_to_context=True,
        num_history_runs=3,
    )
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if "run" in command:
            agent.run(command["run"], session_id="shared", user_id="u1")
        session = agent.get_session("shared", user_id="u1")
        stats = agent.cache_stats
        watcher = agent.db.watcher
        print(json.dumps({
            "seen": [m.content for m in agent.model.requests[-1].messages]
            if agent.model.requests else [],
            "runs": [r.input for r in session.runs] if session else [],
            "stats": [stats.hits, stats.misses, stats.stale, stats.errors],
            "watcher": None if watcher is None else {
                "client_id": watcher.client_id,
                "resets": watcher.stats.resets,
                "reads": watcher.stats.reads,
                "local": watcher.stats.local + watcher.stats.waited,
            },
        }), flush=True)
    """
)


class Worker:
    """An agent in a process of its own, driven one run at a time over a pipe."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.read() == {"ready": True}

    def read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the worker exited with {self.process.wait()}"
        return json.loads(line)

    def run(self, text: str) -> Any:
        return self.send({"run": text})

    def look(self) -> Any:
        """Read the session, without a run."""
        return self.send({})

    def send(self, command: dict[str, Any]) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=60) == 0


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
@pytest.mark.parametrize("cache_kind", ["memory", "redis"])
def test_two_processes_alternating_runs_see_each_others_runs(
    store_kind: str, cache_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = {
        "db": store_url(store_kind, tmp_path, redis_url, prefix),
        "cache": cache_url(cache_kind, redis_url, prefix),
        "trust": 0.0,
    }
    workers = [Worker(config), Worker(config)]
    try:
        turns: list[str] = []
        for index in range(8):
            text = f"turn {index} from process {index % 2}"
            reply = workers[index % 2].run(text)
            turns.append(text)
            assert reply["runs"] == turns  # every run so far, the other process's included
            if index:
                assert turns[index - 1] in reply["seen"]  # the other's last run was history
        hits, misses, stale, errors = reply["stats"]
        assert errors == 0
        if cache_kind == "memory":
            # Each process's own cache falls one run behind the other process every turn,
            # and catches up by reading only the run it lacks.
            assert stale >= 3
        else:
            # The shared cache was written through by the other process: always current.
            assert stale == 0 and hits >= 6
    finally:
        for worker in workers:
            worker.close()


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
def test_a_write_by_another_process_between_two_reads_is_seen_by_the_next(
    store_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    # No sleep anywhere: the writer's reply comes back, and the reader reads at once.
    # On Redis the reader's check is its watcher; the invalidation of the writer's
    # write left the server in the same event-loop pass as the writer's reply.
    config = {"db": store_url(store_kind, tmp_path, redis_url, prefix), "cache": None, "trust": 0.0}
    reader, writer = Worker(config), Worker(config)
    try:
        turns = [reader.run("first")["runs"][-1]]
        for index in range(20):
            assert reader.look()["runs"] == turns  # a warm, cached read
            turns.append(writer.run(f"write {index}")["runs"][-1])
            assert reader.look()["runs"] == turns  # the very next read sees the write
        seen = reader.look()
        if store_kind == "redis":
            watch = seen["watcher"]
            assert watch is not None and watch["resets"] == 0
            # Each warm read was answered locally; each read after a write read again.
            assert watch["local"] >= 20 and watch["reads"] >= 20
        else:
            assert seen["watcher"] is None  # SQLite: one read per check
        assert seen["stats"][3] == 0
    finally:
        reader.close()
        writer.close()


@pytest.mark.slow
def test_killing_a_processs_tracking_connection_between_runs_loses_nothing(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = {"db": store_url("redis", tmp_path, redis_url, prefix), "cache": None, "trust": 0.0}
    workers = [Worker(config), Worker(config)]
    admin = redis.Redis.from_url(redis_url)
    try:
        turns: list[str] = []
        kills = 0
        for index in range(8):
            mine = workers[index % 2]
            if index >= 2:
                # Kill this worker's tracking connection before the other one's write
                # lands, so the invalidation of that write is never sent to it.
                killed = mine.look()["watcher"]["client_id"]
                assert admin.client_kill_filter(_id=str(killed)) == 1
                kills += 1
                workers[(index + 1) % 2].run(f"behind its back {index}")
                turns.append(f"behind its back {index}")
            text = f"turn {index}"
            reply = mine.run(text)
            turns.append(text)
            assert reply["runs"] == turns
            if index >= 2:
                assert turns[-2] in reply["seen"]  # the write behind its back was history
        resets = sum(worker.look()["watcher"]["resets"] for worker in workers)
        assert resets == kills
    finally:
        admin.close()
        for worker in workers:
            worker.close()


# --------------------------------------------------------------------------- eviction


def test_the_memory_cache_evicts_under_its_bound_on_sqlite(tmp_path: Path) -> None:
    cache = MemoryCache(max_sessions=3)
    agent = Agent(
        model=ScriptedModel(),
        db=SqliteDb(db_file=str(tmp_path / "agent.db")),
        cache_session=True,
        session_cache=cache,
    )
    for index in range(10):
        agent.run("hello", session_id=f"s{index}")
    assert len(cache) == 3
    stats = agent.cache_stats
    assert stats is not None and stats.evictions == 7
    for index in range(10):
        session = agent.get_session(f"s{index}")
        assert session is not None and session.run_count == 1


def test_the_redis_cache_refuses_entries_over_its_bound(redis_url: str, prefix: str) -> None:
    cache = RedisSessionCache(redis_url, prefix=f"{prefix}-cache", max_entry_bytes=20_000)
    agent = Agent(
        model=ScriptedModel(),
        db=RedisDb(redis_url, prefix=f"{prefix}-store"),
        cache_session=True,
        session_cache=cache,
        add_history_to_context=True,
        num_history_runs=2,
    )
    for index in range(12):
        agent.run("x" * 2000 + str(index), session_id="big")
    assert cache.get(None, "big") is None
    stats = agent.cache_stats
    assert stats is not None and stats.evictions >= 1
    session = agent.get_session("big")
    assert session is not None and session.run_count == 12
    cache.close()


# --------------------------------------------------------------------------- failures


def test_a_cache_server_gone_away_falls_back_to_the_store(tmp_path: Path) -> None:
    dead = RedisSessionCache("redis://127.0.0.1:1/0", prefix="nobody", socket_timeout=0.5)
    agent = Agent(
        model=ScriptedModel(),
        db=SqliteDb(db_file=str(tmp_path / "agent.db")),
        cache_session=True,
        session_cache=dead,
        add_history_to_context=True,
    )
    agent.run("one", session_id="s1")
    agent.run("two", session_id="s1")
    assert isinstance(agent.model, ScriptedModel)
    assert "one" in [m.content for m in agent.model.requests[-1].messages]
    session = agent.get_session("s1")
    assert session is not None and session.run_count == 2
    stats = agent.cache_stats
    assert stats is not None and stats.errors >= 2


def test_a_damaged_redis_entry_is_a_miss_not_an_error(redis_url: str, prefix: str) -> None:
    cache = RedisSessionCache(redis_url, prefix=f"{prefix}-cache")
    cache.put("u1", new_session("s1", "u1", runs=2))
    keys, _ = cache._keys("u1", "s1")
    client = redis.Redis.from_url(redis_url)
    try:
        client.lset(keys[1], 0, "{not json")
        assert cache.get("u1", "s1") is None
        assert client.exists(*keys) == 0  # dropped, so the next read hydrates afresh
        cache.put("u1", new_session("s1", "u1", runs=2))
        client.rpop(keys[1])  # a partial entry: fewer runs than its summary says
        assert cache.get("u1", "s1") is None
    finally:
        client.close()
        cache.close()


def test_redis_cache_keys_stay_under_the_prefix(redis_url: str, prefix: str) -> None:
    cache = RedisSessionCache(f"{redis_url}?prefix={prefix}-cache&ttl=120")
    assert cache.prefix == f"{prefix}-cache" and cache.ttl == 120.0
    cache.put("a:b", new_session("{x}*", "a:b", runs=1))
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"{prefix}-cache*")]
        assert len(keys) == 2 and all(k.startswith(f"{prefix}-cache:{{") for k in keys)
        assert all(0 < client.pttl(k) <= 120_000 for k in keys)
    finally:
        client.close()
    cache.clear()
    assert cache.get("a:b", "{x}*") is None
    cache.close()


# --------------------------------------------------------------------------- contracts


class TestRedisCacheConformance(SessionCacheConformance):
    @pytest.fixture
    def cache(self, redis_url: str, prefix: str) -> Iterator[SessionCache]:
        cache = RedisSessionCache(redis_url, prefix=f"{prefix}-cache")
        yield cache
        cache.clear()
        cache.close()


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
def test_the_caching_store_over_real_stores_writes_through(
    store_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    inner: Store
    if store_kind == "sqlite":
        inner = SqliteDb(db_file=str(tmp_path / "agent.db"))
    else:
        inner = RedisDb(redis_url, prefix=f"{prefix}-store")
    db = CachingStore(inner, MemoryCache())
    agent = Agent(model=ScriptedModel(), db=db, add_history_to_context=True)
    agent.run("one", session_id="s1", user_id="u1")
    db.update_session("s1", user_id="u1", name="Named")
    agent.run("two", session_id="s1", user_id="u1")
    cached = db.get_session("s1", user_id="u1")
    stored = inner.get_session("s1", user_id="u1")
    assert cached is not None and stored is not None
    assert cached == stored  # the cache's copy is what the store holds, field for field
    info: SessionInfo | None = inner.get_session_info("s1", user_id="u1")
    assert info is not None and cached.version == info.version == 3


# --------------------------------------------------------------------------- docs

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "caching.md"


def test_the_caching_docs_page_runs_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str
) -> None:
    monkeypatch.chdir(tmp_path)
    text = DOCS_PAGE.read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 4
    namespace: dict[str, Any] = {"__name__": "docs_caching"}
    for block in blocks:
        # The page's Redis URL and prefix, pointed at this test's server and own prefix.
        code = block.replace("redis://localhost:6379/0", redis_url)
        code = code.replace("myapp-cache", f"{prefix}-docs")
        exec(compile(code, str(DOCS_PAGE), "exec"), namespace)
    namespace["cache"].close()


# --------------------------------------------------------------------------- MongoDB


class CountingMongoDb(MongoDb):
    """A MongoDB store (on mongomock here) that records the runs each session read asked for."""

    session_reads: list[int | None]

    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        return super()._get_session(session_id, user_id, last_n_runs)


def test_caching_on_mongodb_reads_no_runs_and_sees_other_writers() -> None:
    client = server_like_mongomock()
    store = CountingMongoDb(client=client, db_name="caching")
    store.session_reads = []
    agent = Agent(model=ScriptedModel(), db=store, cache_session=True, add_history_to_context=True)
    other = Agent(model=ScriptedModel(), db=MongoDb(client=client, db_name="caching"))
    for index in range(5):
        agent.run(f"turn {index}", session_id="s1", user_id="u1")
    assert store.session_reads == []
    other.run("from elsewhere", session_id="s1", user_id="u1")
    agent.run("after", session_id="s1", user_id="u1")
    assert store.session_reads == [1]  # caught up by reading the one run it lacked
    assert isinstance(agent.model, ScriptedModel)
    assert "from elsewhere" in [m.content for m in agent.model.requests[-1].messages]
    cached = agent.get_session("s1", user_id="u1")
    assert cached is not None and cached == store.get_session("s1", user_id="u1")
    assert cached.run_count == 7
