"""The session watcher on a real Redis: checks without a round trip, and what makes it forget.

Most tests use the shared server under a prefix of their own. Those that flush, restart
or restrict a server start a private ``redis-server``. A change by another client is
"seen on the next read" once its invalidation has reached this process; where a test
needs that moment, it waits for the tracking socket to become readable (``notice``),
which is a wait for an event, never a timed assertion.
"""

from __future__ import annotations

import logging
import multiprocessing
import select
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
import redis
from redis.connection import AbstractConnection
from sessionary_redis import RedisDb
from sessionary_redis.testing import RedisServer, delete_prefix, with_params
from sessionary_redis.tracking import RedisSessionWatcher, WatcherStats

from sessionary import Agent, open_db
from sessionary.caching import CachingStore, MemoryCache
from sessionary.errors import ConflictError, CorruptRecordError, InvalidInputError, OwnershipError
from sessionary.storage.base import Capability, Store
from sessionary.testing import ScriptedModel, SlowProxy, StorageConformance
from sessionary.testing.storage import make_run

# --------------------------------------------------------------------------- helpers


class Requests:
    """Counts the requests redis-py sends (the store's own client, not the watcher's)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = AbstractConnection.send_packed_command

        def counting(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(conn, command, check_health)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)


def watcher_of(agent: Agent) -> RedisSessionWatcher:
    assert isinstance(agent.db, CachingStore)
    watcher = agent.db.watcher
    assert isinstance(watcher, RedisSessionWatcher)
    return watcher


def notice(watcher: RedisSessionWatcher) -> None:
    """Wait until something arrived on the tracking connection (an invalidation, or EOF)."""
    link = watcher._link
    assert link is not None, "the watcher is not connected"
    if link.buffer:
        return
    readable, _, _ = select.select([link.sock], [], [], 30)
    assert readable, "no invalidation arrived within 30 s"


def delta(after: WatcherStats, before: WatcherStats) -> dict[str, int]:
    """How much each count grew (``remembered`` is a level, not a count)."""
    names = [f.name for f in attrs.fields(WatcherStats) if f.name != "remembered"]
    return {name: getattr(after, name) - getattr(before, name) for name in names}


def cached_agent(db: RedisDb, **options: Any) -> Agent:
    options.setdefault("session_id", "chat")
    options.setdefault("user_id", "alice")
    options.setdefault("model", ScriptedModel())
    return Agent(db=db, cache_session=True, add_history_to_context=True, **options)


@pytest.fixture
def db(redis_url: str, prefix: str) -> Iterator[RedisDb]:
    store = RedisDb(redis_url, prefix=prefix)
    yield store
    store.close()


@pytest.fixture
def other(redis_url: str, prefix: str) -> Iterator[RedisDb]:
    """Another client on the same keys, as another process would be (it announces nothing)."""
    store = RedisDb(redis_url, prefix=prefix, client_tracking=False)
    yield store
    store.close()


# --------------------------------------------------------------------------- the check


@pytest.mark.parametrize("ping", [True, False], ids=["tracking_ping", "no_ping"])
def test_a_cached_run_is_checked_without_waiting_for_a_read(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch, ping: bool
) -> None:
    db = RedisDb(redis_url, prefix=prefix, tracking_ping=ping)
    agent = cached_agent(db)
    for turn in range(3):
        agent.run(f"warm-up {turn}")
    watcher = watcher_of(agent)
    before = watcher.stats
    requests = Requests(monkeypatch)
    link = watcher._link
    assert link is not None
    sends: list[bytes] = []
    original = link.send

    def counting(data: bytes) -> None:
        sends.append(data)
        original(data)

    monkeypatch.setattr(link, "send", counting)
    for turn in range(10):
        agent.run(f"turn {turn}")
    # Per run: its append, with the read that keeps the session watched behind it in
    # the same packet, on the watcher's connection; with tracking_ping (the default),
    # before it the check's PING, which brings every invalidation sent before it.
    writes = [data for data in sends if b"EVALSHA" in data and b"HMGET" in data]
    pings = [data for data in sends if data == b"*1\r\n$4\r\nPING\r\n"]
    assert requests.count == 0 and len(writes) == 10
    assert len(pings) == (10 if ping else 0) and len(sends) == len(writes) + len(pings)
    counts = delta(watcher.stats, before)
    assert counts["reads"] == 0 and counts["fallbacks"] == 0  # no caller waited for a read
    assert counts["local"] == 10 and counts["writes"] == 10 and counts["prefetches"] == 0
    assert counts["pings"] == (10 if ping else 0)
    # With the PING, each run's check was answered at once and proven by the PONG while
    # the model was called (Agent.run confirms it before it keeps the answer).
    assert counts["deferred"] == (10 if ping else 0) and counts["disproved"] == 0
    session = agent.get_session()
    assert session is not None and session.run_count == 13
    db.close()


def test_a_run_by_another_client_is_seen_on_the_next_read(db: RedisDb, other: RedisDb) -> None:
    agent = cached_agent(db)
    agent.run("mine")
    agent.run("mine again")
    watcher = watcher_of(agent)
    before = watcher.stats
    other.append_run(make_run("chat", user_id="alice", text="from elsewhere"))
    notice(watcher)
    runs = agent.db.get_runs("chat", user_id="alice")
    assert [r.input for r in runs] == ["mine", "mine again", "from elsewhere"]
    assert delta(watcher.stats, before)["reads"] == 1  # the invalidated summary, read again
    stats = agent.cache_stats
    assert stats is not None and stats.stale == 1  # and only the missing run was read


def test_a_rename_and_a_delete_by_another_client_are_seen(db: RedisDb, other: RedisDb) -> None:
    agent = cached_agent(db)
    agent.run("hello")
    watcher = watcher_of(agent)
    agent.get_session()
    other.update_session("chat", name="Renamed elsewhere")
    notice(watcher)
    session = agent.get_session()
    assert session is not None and session.name == "Renamed elsewhere"
    other.delete_session("chat")
    notice(watcher)
    assert agent.get_session() is None


def test_a_write_through_another_store_object_of_this_process_is_seen_at_once(
    redis_url: str, prefix: str
) -> None:
    first = cached_agent(RedisDb(redis_url, prefix=prefix))
    second = cached_agent(RedisDb(redis_url, prefix=prefix))
    first.run("one")
    first.get_session()
    watcher = watcher_of(first)
    before = watcher.stats
    second.run("two")  # its caching store tells every watcher of this process at once
    assert delta(watcher.stats, before)["prefetches"] == 1
    session = first.get_session()
    assert session is not None and [r.input for r in session.runs] == ["one", "two"]


def test_the_owner_check_holds_through_the_watcher(db: RedisDb) -> None:
    db.append_run(make_run("chat", user_id="alice"))
    watcher = db.session_watcher()
    assert watcher is not None
    info = watcher.session_info("chat", "alice")
    assert info is not None and info.user_id == "alice"
    assert watcher.session_info("chat", "mallory") is None
    assert watcher.session_info("chat") == info
    assert watcher.session_info("nobody-here") is None
    assert watcher.stats.local == 2  # the answers after the first came from the mirror


def test_keys_of_another_prefix_never_touch_the_mirror(
    db: RedisDb, redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    neighbour = RedisDb(redis_url, prefix=f"{prefix}-neighbour", client_tracking=False)
    try:
        db.append_run(make_run("chat", user_id="alice", text="ours"))
        watcher = db.session_watcher()
        assert watcher is not None
        watcher.session_info("chat")
        neighbour.append_run(make_run("chat", user_id="alice", text="theirs"))
        watcher.heartbeat = 0.0  # the next answer waits for a PING: every notice is in
        before = watcher.stats
        info = watcher.session_info("chat")
        assert info is not None and info.run_count == 1
        counts = delta(watcher.stats, before)
        assert (counts["pings"], counts["local"], counts["reads"]) == (1, 1, 0)
    finally:
        neighbour.close()
        delete_prefix(redis_client, f"{prefix}-neighbour")


def test_writes_on_the_tracking_connection_watch_only_the_session_hash(
    db: RedisDb, other: RedisDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The write's script reads the run list and the indexes too; on the tracking
    # connection those reads must not be tracked (CLIENT CACHING no), or every later
    # write to them would push a notice nobody needs.
    agent = cached_agent(db)
    for turn in range(3):
        agent.run(f"turn {turn}")
    watcher = watcher_of(agent)
    assert watcher.stats.writes >= 2
    pushed: list[Any] = []
    mirror = watcher._mirror
    original = mirror._pushed

    def recording(frame: Any) -> None:
        pushed.append(frame)
        original(frame)

    monkeypatch.setattr(mirror, "_pushed", recording)
    Agent(model=ScriptedModel(), db=other, session_id="chat", user_id="alice").run("elsewhere")
    agent.run("next")  # its check waits for a PING: every notice of that write is in
    assert pushed, "the other client's write pushed no invalidation"
    named = {key for frame in pushed if frame[0] == b"invalidate" for key in frame[1]}
    assert named == {db.keys.session("chat").encode()}


def test_the_mirror_is_bounded(db: RedisDb) -> None:
    watcher = db.session_watcher()
    assert watcher is not None
    watcher.max_sessions = 3
    for index in range(6):
        db.append_run(make_run(f"s{index}"))
        watcher.session_info(f"s{index}")
    assert watcher.stats.remembered == 3
    before = watcher.stats
    watcher.session_info("s5")  # recent: still remembered
    watcher.session_info("s0")  # forgotten: read again
    counts = delta(watcher.stats, before)
    assert (counts["local"], counts["reads"]) == (1, 1)


def test_a_key_of_the_wrong_type_is_a_corrupt_record_naming_the_session(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    redis_client.set(db.keys.session("broken"), "not a hash")
    watcher = db.session_watcher()
    assert watcher is not None
    with pytest.raises(CorruptRecordError, match="broken"):
        watcher.session_info("broken")
    assert watcher.session_info("fine") is None  # the connection is still good


def test_the_heartbeat_waits_for_a_ping_before_trusting_an_idle_mirror(db: RedisDb) -> None:
    db.append_run(make_run("chat"))
    watcher = db.session_watcher()
    assert watcher is not None
    watcher.session_info("chat")
    watcher.heartbeat = 0.0
    before = watcher.stats
    watcher.session_info("chat")
    counts = delta(watcher.stats, before)
    assert (counts["pings"], counts["local"]) == (1, 1)


# --------------------------------------------------------------------------- deferred checks


def _invalidation(key: str) -> bytes:
    """The RESP3 push the server sends when a tracked key changes."""
    data = key.encode()
    return b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(data), data)


def test_a_deferred_answer_is_proven_by_the_ping_sent_with_it(db: RedisDb) -> None:
    db.append_run(make_run("chat", user_id="alice"))
    watcher = db.session_watcher()
    assert watcher is not None
    expected = watcher.session_info("chat")
    before = watcher.stats
    info, check = watcher.session_info_deferred("chat", "alice")
    assert info == expected and check is not None
    assert watcher.session_info_deferred("chat", "mallory")[0] is None  # the owner check
    assert check.confirm() and check.confirm()  # waiting twice is harmless
    counts = delta(watcher.stats, before)
    assert (counts["pings"], counts["deferred"], counts["disproved"]) == (2, 2, 0)


def test_an_invalidation_that_comes_before_the_pong_disproves_the_answer(db: RedisDb) -> None:
    db.append_run(make_run("chat", user_id="alice"))
    watcher = db.session_watcher()
    assert watcher is not None
    watcher.session_info("chat")
    info, check = watcher.session_info_deferred("chat", "alice")
    assert info is not None and info.run_count == 1 and check is not None
    link = watcher._link
    assert link is not None
    # As if another client's write had been processed by the server just before the
    # PING: its invalidation is on the wire ahead of the PONG.
    link.buffer[:0] = _invalidation(db.keys.session("chat"))
    assert check.confirm() is False
    assert watcher.stats.disproved == 1 and watcher.stats.resets == 0
    assert watcher.session_info("chat") == info  # read again: nobody had written after all


def test_a_connection_dropped_before_the_pong_disproves_the_answer(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    db.append_run(make_run("chat", user_id="alice"))
    watcher = db.session_watcher()
    assert watcher is not None
    watcher.session_info("chat")
    _, check = watcher.session_info_deferred("chat")
    assert check is not None
    watcher._reset("dropped by the test")  # what a broken read in another thread does
    assert check.confirm() is False  # notices may have been lost with the connection
    _, later = watcher.session_info_deferred("chat")  # connects again and reads: proven
    assert later is None and watcher.stats.resets == 1


def test_a_write_on_its_way_over_a_slow_link_restarts_the_run_on_the_fresh_history(
    redis_url: str, prefix: str, other: RedisDb
) -> None:
    parts = urlsplit(redis_url)
    target = (parts.hostname or "127.0.0.1", parts.port or 6379)
    with SlowProxy(target) as proxy:
        db = RedisDb(f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}", prefix=prefix)
        model = ScriptedModel()
        agent = cached_agent(db, model=model)
        try:
            agent.run("mine")
            agent.db.get_runs("chat", user_id="alice")  # the mirror holds the session
            watcher = watcher_of(agent)
            # From now on what the server sends this process takes 0.2 s to arrive: the
            # other client's write completes, its invalidation is still on the way when
            # the run reads its history, and it arrives before the PING's PONG.
            proxy.reply_delay = 0.2
            other.append_run(make_run("chat", user_id="alice", text="from elsewhere"))
            before = watcher.stats
            run = agent.run("next")
            counts = delta(watcher.stats, before)
            assert (counts["deferred"], counts["disproved"]) == (1, 1)
            stale, fresh = ([m.content for m in r.messages] for r in model.requests[-2:])
            assert "from elsewhere" not in stale and "from elsewhere" in fresh
            assert run.metrics.model_calls == 2
            proxy.reply_delay = 0.0
            session = agent.get_session()
            assert session is not None
            assert [r.input for r in session.runs] == ["mine", "from elsewhere", "next"]
        finally:
            db.close()


# --------------------------------------------------------------------------- forgetting


def test_killing_the_tracking_connection_forgets_everything(
    db: RedisDb, other: RedisDb, redis_client: redis.Redis
) -> None:
    agent = cached_agent(db)
    agent.run("before")
    agent.run("still before")
    watcher = watcher_of(agent)
    killed = watcher.client_id
    assert killed is not None
    assert redis_client.client_kill_filter(_id=str(killed)) == 1
    # The other client's write sends no invalidation to the killed connection.
    other.append_run(make_run("chat", user_id="alice", text="while nobody watched"))
    runs = agent.db.get_runs("chat", user_id="alice")
    assert [r.input for r in runs][-1] == "while nobody watched"
    assert watcher.stats.resets == 1
    agent.run("after")  # the watcher connects again, and watches again
    assert watcher.client_id not in (None, killed)
    before = watcher.stats
    agent.run("after again")
    counts = delta(watcher.stats, before)
    assert counts["local"] + counts["waited"] == 1 and counts["resets"] == 0
    session = agent.get_session()
    assert session is not None and session.run_count == 5


@pytest.mark.slow
def test_a_server_restart_forgets_everything(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "volatile").start()
    try:
        db = RedisDb(server.url, prefix="restart", retries=0, socket_timeout=2.0)
        agent = cached_agent(db)
        agent.run("gone with the server")
        agent.get_session()
        server.stop()
        server.start()  # no persistence: the session is gone
        assert agent.get_session() is None
        assert watcher_of(agent).stats.resets == 1
        agent.run("a new start")
        session = agent.get_session()
        assert session is not None and [r.input for r in session.runs] == ["a new start"]
        db.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_a_session_past_its_ttl_is_gone_even_before_redis_deletes_it(tmp_path: Path) -> None:
    # With active expiry off, an expired key stays in memory until it is touched, so
    # no invalidation ever announces it: the watcher must not outlive the TTL it read.
    server = RedisServer(tmp_path / "lazy", extra=["--enable-debug-command", "yes"]).start()
    try:
        admin = redis.Redis.from_url(server.url)
        admin.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # type: ignore[no-untyped-call]
        admin.close()
        db = RedisDb(server.url, prefix="lazy", ttl=1.0)
        agent = cached_agent(db)
        agent.run("short-lived")
        assert agent.get_session() is not None
        until = time.monotonic() + 1.5
        while time.monotonic() < until:  # let the TTL pass, touching nothing
            time.sleep(0.05)
        assert agent.get_session() is None
        db.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_flushall_forgets_everything(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "private").start()
    try:
        db = RedisDb(server.url, prefix="flush")
        agent = cached_agent(db)
        agent.run("soon flushed")
        agent.get_session()
        watcher = watcher_of(agent)
        admin = redis.Redis.from_url(server.url)
        admin.flushall()  # a private server: nobody else's data
        admin.close()
        notice(watcher)
        assert agent.get_session() is None
        assert watcher.stats.resets == 0  # the connection is fine; the mirror was dropped
        db.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_a_server_that_refuses_tracking_is_checked_with_reads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path / "acl").start()
    try:
        admin = redis.Redis.from_url(server.url)
        admin.execute_command(  # type: ignore[no-untyped-call]
            "ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all", "-client"
        )
        admin.close()
        url = server.url.replace("redis://", "redis://app:secret@")
        db = RedisDb(url, prefix="acl")
        agent = cached_agent(db)
        with caplog.at_level(logging.WARNING, logger="sessionary_redis"):
            for turn in range(3):
                agent.run(f"turn {turn}")
        session = agent.get_session()
        assert session is not None and session.run_count == 3
        watcher = watcher_of(agent)
        assert watcher.stats.fallbacks >= 3 and watcher.stats.local == 0
        warnings = [r for r in caplog.records if "client tracking is not available" in r.message]
        assert len(warnings) == 1  # said once, not at every check
        db.close()
    finally:
        server.stop()


def _child_reads(url: str, prefix: str, queue: Any) -> None:
    try:
        agent = _PARENT_AGENT
        assert agent is not None
        agent.run("from the child")
        session = agent.get_session()
        queue.put([r.input for r in session.runs] if session else None)
    except BaseException as exc:  # report anything to the parent
        queue.put(repr(exc))


_PARENT_AGENT: Agent | None = None


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_a_forked_child_gets_a_connection_of_its_own(
    db: RedisDb, redis_url: str, prefix: str
) -> None:
    global _PARENT_AGENT
    agent = cached_agent(db)
    agent.run("from the parent")
    agent.get_session()
    watcher = watcher_of(agent)
    parent_id = watcher.client_id
    _PARENT_AGENT = agent
    try:
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_child_reads, args=(redis_url, prefix, queue))
        child.start()
        result = queue.get(timeout=60)
        child.join(timeout=60)
    finally:
        _PARENT_AGENT = None
    assert result == ["from the parent", "from the child"]
    assert child.exitcode == 0
    # The parent's connection was never closed or shared: it still answers.
    assert watcher.client_id == parent_id
    session = agent.get_session()
    assert session is not None and [r.input for r in session.runs][-1] == "from the child"
    assert watcher.stats.resets == 0


def test_a_write_on_a_killed_tracking_connection_is_retried_by_the_store(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    agent = cached_agent(db)
    agent.run("one")
    agent.run("two")
    watcher = watcher_of(agent)
    assert redis_client.client_kill_filter(_id=str(watcher.client_id)) == 1
    # The next write finds the connection dead: the retry goes through the store's pool.
    agent.db.append_run(make_run("chat", user_id="alice", text="three"))
    assert watcher.stats.resets == 1
    agent.run("four")
    session = agent.get_session()
    assert session is not None and [r.input for r in session.runs] == [
        "one",
        "two",
        "three",
        "four",
    ]


def test_a_refused_write_on_the_tracking_connection_is_the_same_error(db: RedisDb) -> None:
    agent = cached_agent(db)
    agent.run("mine")
    agent.run("mine again")
    watcher = watcher_of(agent)
    before = watcher.stats
    with pytest.raises(OwnershipError):
        agent.run("not yours", user_id="mallory")
    with pytest.raises(ConflictError):
        agent.db.update_session("chat", user_id="alice", expected_version=0, name="stale")
    agent.run("still mine")
    session = agent.get_session()
    assert session is not None and session.run_count == 3
    assert delta(watcher.stats, before)["writes"] >= 2
    assert watcher.stats.resets == 0


@pytest.mark.slow
def test_a_script_the_server_forgot_is_sent_again(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "noscript").start()
    try:
        db = RedisDb(server.url, prefix="noscript")
        agent = cached_agent(db)
        agent.run("one")
        agent.run("two")
        admin = redis.Redis.from_url(server.url)
        admin.script_flush()  # a private server: the scripts are gone, as after a restart
        admin.close()
        watcher = watcher_of(agent)
        before = watcher.stats
        agent.run("three")
        assert delta(watcher.stats, before)["writes"] == 1
        session = agent.get_session()
        assert session is not None and [r.input for r in session.runs] == ["one", "two", "three"]
        db.close()
    finally:
        server.stop()


class TestCachedRedisConformance(StorageConformance):
    """The whole contract through a caching store on Redis: watcher checks, routed writes."""

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
        with CachingStore(RedisDb(self.url, prefix=self.prefix), MemoryCache()) as store:
            yield store

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        url: str = with_params(self.url, prefix=self.prefix)
        return url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, CachingStore) and isinstance(store.store, RedisDb)
        inner = store.store
        inner.client.lset(inner.keys.runs(session_id), 0, b"\xff{not json")  # type: ignore[arg-type]
        store.cache.clear()

    def make_ttl_store(self, ttl: float) -> Store:
        prefix = f"sessionary-test-ttl-{uuid.uuid4().hex[:12]}"
        self.ttl_prefixes.append(prefix)
        return CachingStore(RedisDb(self.url, prefix=prefix, ttl=ttl), MemoryCache())


# --------------------------------------------------------------------------- threads


def test_many_threads_share_one_watcher(db: RedisDb, other: RedisDb) -> None:
    store = CachingStore(db, MemoryCache())
    errors: list[BaseException] = []
    start = threading.Barrier(7)

    def talk(worker: int) -> None:
        try:
            start.wait()
            for turn in range(25):
                store.append_run(make_run(f"own-{worker}", text=f"{worker}/{turn}"))
                store.append_run(make_run("shared", text=f"{worker}/{turn}"))
                own = store.get_session(f"own-{worker}")
                assert own is not None and own.run_count == turn + 1
                shared = store.get_session("shared", last_n_runs=2)
                assert shared is not None and shared.run_count >= turn + 1
        except BaseException as exc:
            errors.append(exc)

    def interfere() -> None:
        start.wait()
        for turn in range(25):
            other.append_run(make_run("shared", text=f"other/{turn}"))

    threads = [threading.Thread(target=talk, args=(w,)) for w in range(6)]
    threads.append(threading.Thread(target=interfere))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    shared = store.get_session("shared")
    assert shared is not None and shared.run_count == 6 * 25 + 25
    assert shared.run_count == len(shared.runs)
    assert store.stats().errors == 0
    watcher = store.watcher
    assert isinstance(watcher, RedisSessionWatcher) and watcher.stats.resets == 0


# --------------------------------------------------------------------------- options


def test_client_tracking_can_be_turned_off(redis_url: str, prefix: str) -> None:
    off = RedisDb(redis_url, prefix=prefix, client_tracking=False)
    assert off.session_watcher() is None
    assert CachingStore(off, MemoryCache()).watcher is None
    by_url = open_db(f"{redis_url}?prefix={prefix}&client_tracking=false")
    assert isinstance(by_url, RedisDb) and by_url.session_watcher() is None
    on = open_db(f"{redis_url}?prefix={prefix}&client_tracking=on")
    assert isinstance(on, RedisDb) and on.session_watcher() is on.session_watcher()
    for store in (off, by_url, on):
        store.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"db_url": "redis://127.0.0.1:6379/0?client_tracking=maybe"}, "client_tracking"),
        ({"client_tracking": "yes"}, "client_tracking must be True or False"),
    ],
)
def test_a_bad_client_tracking_value_is_a_clear_error(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        RedisDb(**options)


def test_closing_the_store_closes_the_watcher(
    redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    db = RedisDb(redis_url, prefix=prefix)
    db.append_run(make_run("chat"))
    watcher = db.session_watcher()
    assert watcher is not None and watcher.session_info("chat") is not None
    client_id = watcher.client_id
    db.close()
    assert client_id is not None
    assert str(client_id) not in {str(entry["id"]) for entry in redis_client.client_list()}
