"""Faults: the server goes away mid-conversation, stalls, dies while writing, and comes back.

Each test starts its own ``redis-server`` on a free loopback port, so stopping it never
disturbs anyone else. The same ``RedisDb`` object is used before and after the outage:
no application restart.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import redis
from redis_support import RedisServer
from sessionary_redis import RedisDb

from sessionary import Agent
from sessionary.errors import ConflictError, StorageError, StoreUnavailableError
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "volatile").start()
    yield server
    server.stop()


@pytest.fixture
def durable_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server that keeps its data across a restart (append-only file, fsync always)."""
    server = RedisServer(
        tmp_path / "durable", extra=["--appendonly", "yes", "--appendfsync", "always"]
    ).start()
    yield server
    server.stop()


def _db(server: RedisServer, **options: object) -> RedisDb:
    settings: dict[str, object] = {"retries": 1, "retry_backoff": 0.01, "socket_timeout": 2.0}
    settings.update(options)
    return RedisDb(server.url, prefix="faults", **settings)  # type: ignore[arg-type]


def test_an_outage_is_a_clear_error_and_the_same_store_works_when_the_server_is_back(
    server: RedisServer,
) -> None:
    db = _db(server)
    agent = Agent(model=ScriptedModel(), db=db, user_id="alice")
    for turn in range(3):
        agent.run(f"turn {turn}", session_id="chat")
    server.stop()

    with pytest.raises(StoreUnavailableError) as raised:
        agent.run("lost in the outage", session_id="chat")
    message = str(raised.value)
    assert f"127.0.0.1:{server.port}" in message
    assert "append run" in message and "'chat'" in message
    with pytest.raises(StoreUnavailableError, match="read session 'chat'"):
        agent.get_session(session_id="chat")
    with pytest.raises(StoreUnavailableError, match="ping"):
        db.ping()

    server.start()  # same port, and (no persistence) an empty database
    agent.run("after the restart", session_id="chat")
    session = agent.get_session(session_id="chat")
    assert session is not None
    assert [r.input for r in session.runs] == ["after the restart"]
    assert session.run_count == 1


def test_a_durable_server_restart_keeps_the_conversation_and_it_goes_on(
    durable_server: RedisServer,
) -> None:
    db = _db(durable_server)
    agent = Agent(model=ScriptedModel(), db=db, user_id="alice")
    for turn in range(3):
        agent.run(f"turn {turn}", session_id="chat")
    durable_server.stop()
    durable_server.start()
    agent.run("turn 3", session_id="chat")
    session = agent.get_session(session_id="chat")
    assert session is not None
    assert [r.input for r in session.runs] == [f"turn {i}" for i in range(4)]
    assert session.run_count == 4 and session.version == 4
    assert [i.session_id for i in db.list_sessions(user_id="alice").items] == ["chat"]


def test_retries_with_backoff_ride_out_a_short_outage(server: RedisServer) -> None:
    db = _db(server, retries=10, retry_backoff=0.1)
    db.append_run(make_run("s1", user_id="alice"))
    server.stop()
    restart = threading.Timer(0.3, server.start)
    restart.start()
    try:
        info = db.append_run(make_run("s1", user_id="alice"))
    finally:
        restart.join()
    assert info.run_count == 1  # the volatile server came back empty; the write still landed
    assert len(db.get_runs("s1")) == 1


def test_no_retries_means_one_attempt(server: RedisServer) -> None:
    db = _db(server, retries=0)
    server.stop()
    with pytest.raises(StoreUnavailableError) as raised:
        db.append_run(make_run("s1"))
    assert "attempts" not in str(raised.value)
    server.start()
    assert db.append_run(make_run("s1")).run_count == 1


def test_a_timed_out_append_is_reported_and_retrying_the_same_run_is_safe(
    server: RedisServer,
) -> None:
    db = _db(server, retries=0, socket_timeout=0.3)
    first = make_run("s1", user_id="alice")
    db.append_run(first)
    pauser = redis.Redis(port=server.port)
    pauser.execute_command("CLIENT", "PAUSE", 1500, "ALL")  # type: ignore[no-untyped-call]
    stalled = make_run("s1", user_id="alice", text="stalled")
    try:
        with pytest.raises(StoreUnavailableError) as raised:
            db.append_run(stalled)
    finally:
        pauser.execute_command("CLIENT", "UNPAUSE")  # type: ignore[no-untyped-call]
        pauser.close()
    assert "timed out" in str(raised.value)
    assert "append run" in str(raised.value)
    # The server ran the stalled script once it resumed, or never did; either way
    # appending the same run again through this store succeeds exactly once.
    info = db.append_run(stalled)
    assert info.run_count == 2
    assert [r.input for r in db.get_runs("s1")] == ["hello", "stalled"]
    assert db.append_run(stalled) == info  # and after that, the same run again is a no-op
    with pytest.raises(ConflictError):  # another run under a stored run's ID conflicts
        _db(server).append_run(attrs.evolve(first, content="another"))


def test_an_async_call_that_overruns_socket_timeout_fails_and_its_late_reply_is_never_read(
    server: RedisServer,
) -> None:
    """The asyncio store bounds each call itself (redis-py's own bound is off on its
    clients): a stalled read and a stalled write are each reported as timed out, and the
    connection that waited is dropped, so the next calls read their own replies."""
    store = _db(server, retries=0, socket_timeout=0.3).to_async()
    first = make_run("s1", user_id="alice")

    async def scenario() -> None:
        await store.append_run(first)
        pauser = redis.Redis(port=server.port)
        pauser.execute_command("CLIENT", "PAUSE", 1500, "ALL")  # type: ignore[no-untyped-call]
        try:
            with pytest.raises(StoreUnavailableError) as read:
                await store.get_messages("s1", user_id="alice", last_n=1)
            stalled = make_run("s1", user_id="alice", text="stalled")
            with pytest.raises(StoreUnavailableError) as write:
                await store.append_run(stalled)
        finally:
            pauser.execute_command("CLIENT", "UNPAUSE")  # type: ignore[no-untyped-call]
            pauser.close()
        assert "timed out" in str(read.value) and "read the messages" in str(read.value)
        assert "timed out" in str(write.value) and "append run" in str(write.value)
        info = await store.append_run(stalled)  # stored once, whether the first try landed
        assert info.run_count == 2
        messages = await store.get_messages("s1", user_id="alice", last_n=1)
        assert [m.content for m in messages] == ["re: stalled"]
        assert (await store.get_session_info("s1", user_id="alice")) == info
        await store.close()

    asyncio.run(scenario())


def test_a_server_killed_during_a_burst_of_appends_leaves_only_whole_runs(
    durable_server: RedisServer,
) -> None:
    db = _db(durable_server, retries=0)
    stored: list[str] = []
    failed: list[BaseException] = []
    started = threading.Event()

    def writer() -> None:
        for index in range(100_000):
            run = make_run("burst", user_id="alice", text=f"m{index}", input_tokens=index)
            try:
                db.append_run(run)
            except StorageError as exc:
                failed.append(exc)
                return
            stored.append(run.run_id)
            started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(timeout=30)
    assert durable_server.process is not None
    durable_server.process.kill()  # SIGKILL: no clean shutdown
    durable_server.process.wait()
    thread.join(timeout=60)
    assert failed and isinstance(failed[0], StoreUnavailableError)
    durable_server.start()
    runs = db.get_runs("burst")
    info = db.get_session_info("burst")
    assert info is not None
    # Every acknowledged run is there, whole; the summary matches the runs exactly.
    assert [r.run_id for r in runs][: len(stored)] == stored
    assert len(runs) - len(stored) in (0, 1)  # the unacknowledged one: whole or absent
    assert info.run_count == len(runs)
    assert info.input_tokens == sum(r.metrics.input_tokens for r in runs)
    assert [r.input for r in runs] == [f"m{i}" for i in range(len(runs))]


def test_an_unreachable_server_is_named_and_nothing_happens_at_construction() -> None:
    db = RedisDb("redis://127.0.0.1:1/0", prefix="nowhere", retries=0, socket_timeout=0.5)
    with pytest.raises(StoreUnavailableError, match=r"redis://127\.0\.0\.1:1/0 is unreachable"):
        db.ping()
    with pytest.raises(StoreUnavailableError, match="list sessions"):
        db.list_sessions()


def test_a_delete_retried_after_a_lost_reply_still_reports_it_deleted(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db(server, retries=2)
    db.append_run(make_run("s1", user_id="alice"))
    real = db._delete
    calls: list[int] = []

    def reply_lost(*args: object, **kwargs: object) -> object:
        calls.append(1)
        result = real(*args, **kwargs)
        if len(calls) == 1:
            raise redis.ConnectionError("connection reset after the command was sent")
        return result

    monkeypatch.setattr(db, "_delete", reply_lost)
    assert db.delete_session("s1", user_id="alice") is True
    assert len(calls) == 2
    assert db.get_session("s1") is None
    assert db.list_sessions(user_id="alice").items == ()
    assert db.delete_session("s1") is False  # a new delete: nothing left to delete
