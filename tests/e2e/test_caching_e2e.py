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
from sessionary_sqlite import SqliteDb

from sessionary import Agent, Team
from sessionary.caching import CachingStore, MemoryCache
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import SessionNotFoundError
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


class CountingSqliteDb(SqliteDb):
    """A SQLite store that records how many runs each session read asked for."""

    session_reads: list[int | None]

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        if before_run is not None:
            return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt, before_run)
        return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt)


class CountingRedisDb(RedisDb):
    """A Redis store that records how many runs each session read asked for."""

    session_reads: list[int | None]

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        if before_run is not None:
            return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt, before_run)
        return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt)


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
def test_later_runs_read_no_runs_from_a_real_store(
    store_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    store = counting_store(store_kind, tmp_path, redis_url, prefix)
    agent = Agent(
        model=ScriptedModel(),
        db=store,
        cache_session=True,
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
        add_history_to_context=True,
    )
    agent.run("alice's secret", session_id="shared-id", user_id="alice")
    assert agent.get_session("shared-id", user_id="alice") is not None
    assert agent.get_session("shared-id", user_id="bob") is None
    with pytest.raises(SessionNotFoundError):
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
        print(json.dumps({
            "seen": [m.content for m in agent.model.requests[-1].messages]
            if agent.model.requests else [],
            "runs": [r.input for r in session.runs] if session else [],
            "stats": [stats.hits, stats.misses, stats.stale, stats.errors],
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
def test_two_processes_alternating_runs_see_each_others_runs(
    store_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = {"db": store_url(store_kind, tmp_path, redis_url, prefix), "trust": 0.0}
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
        # Each process's own cache falls one run behind the other process every turn,
        # and catches up by reading only the run it lacks.
        assert stale >= 3
    finally:
        for worker in workers:
            worker.close()


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
def test_a_write_by_another_process_between_two_reads_is_seen_by_the_next(
    store_kind: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    # No sleep anywhere: the writer's reply comes back, and the reader reads at once;
    # the reader's version read is ordered after the write by the server.
    config = {"db": store_url(store_kind, tmp_path, redis_url, prefix), "trust": 0.0}
    reader, writer = Worker(config), Worker(config)
    try:
        turns = [reader.run("first")["runs"][-1]]
        for index in range(20):
            assert reader.look()["runs"] == turns  # a warm, cached read
            turns.append(writer.run(f"write {index}")["runs"][-1])
            assert reader.look()["runs"] == turns  # the very next read sees the write
        seen = reader.look()
        hits, _, stale, errors = seen["stats"]
        assert errors == 0 and hits >= 20 and stale >= 20  # warm reads hit; the others caught up
    finally:
        reader.close()
        writer.close()


# --------------------------------------------------------------------------- eviction


def test_the_memory_cache_evicts_under_its_bound_on_sqlite(tmp_path: Path) -> None:
    cache = MemoryCache(max_sessions=3)
    agent = Agent(
        model=ScriptedModel(),
        db=SqliteDb(db_file=str(tmp_path / "agent.db")),
        cache_session=True,
        session_cache=cache,
        add_history_to_context=True,  # a run that reads its session caches it
    )
    for index in range(10):
        agent.run("hello", session_id=f"s{index}")
    assert len(cache) == 3
    stats = agent.cache_stats
    assert stats is not None and stats.evictions == 7
    for index in range(10):
        session = agent.get_session(f"s{index}")
        assert session is not None and session.run_count == 1


# --------------------------------------------------------------------------- contracts


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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = DOCS_PAGE.read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 4
    namespace: dict[str, Any] = {"__name__": "docs_caching"}
    for block in blocks:
        exec(compile(block, str(DOCS_PAGE), "exec"), namespace)


# --------------------------------------------------------------------------- MongoDB


class CountingMongoDb(MongoDb):
    """A MongoDB store (on mongomock here) that records the runs each session read asked for."""

    session_reads: list[int | None]

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        if before_run is not None:
            return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt, before_run)
        return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt)


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
