"""RedisDb beyond the shared contract: key layout, options, round trips, TTL, bad records."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import AbstractConnection
from redis.crc import key_slot
from redis_support import RedisServer, with_params
from sessionary_redis import RedisDb
from sessionary_redis.keys import KeyLayout, escape_id
from sessionary_redis.scripts import STORE_SCHEMA

from sessionary import Agent, open_db
from sessionary.errors import (
    CorruptRecordError,
    InvalidInputError,
    SchemaVersionError,
    StoreUnavailableError,
)
from sessionary.ids import MAX_ID_LENGTH
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run

ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
)


@pytest.fixture
def db(redis_url: str, prefix: str) -> Iterator[RedisDb]:
    store = RedisDb(redis_url, prefix=prefix)
    yield store
    store.close()


# --------------------------------------------------------------------------- key layout


@given(ids, ids)
def test_escaping_is_injective_and_free_of_key_syntax(a: str, b: str) -> None:
    if a != b:
        assert escape_id(a) != escape_id(b)
    for ch in ":{}*?[]\\ ":
        assert ch not in escape_id(a)


@given(ids, ids, ids, ids)
def test_distinct_user_session_pairs_never_share_a_key(u1: str, s1: str, u2: str, s2: str) -> None:
    keys = KeyLayout("app")
    if (u1, s1) != (u2, s2):
        first = (keys.user_index(u1), keys.session(s1))
        second = (keys.user_index(u2), keys.session(s2))
        assert first != second


def test_the_classic_colon_collision_is_apart() -> None:
    keys = KeyLayout("app")
    # user "a:b" + session "c" and user "a" + session "b:c" would both be "app:a:b:c" naively
    assert keys.user_index("a:b") + keys.session("c") != keys.user_index("a") + keys.session("b:c")
    assert keys.session("a:b") != keys.session("a%3Ab")


@given(ids)
def test_a_sessions_keys_share_one_hash_slot(session_id: str) -> None:
    keys = KeyLayout("app")
    assert key_slot(keys.session(session_id).encode()) == key_slot(keys.runs(session_id).encode())


def test_the_longest_id_makes_a_usable_key(db: RedisDb) -> None:
    sid = "会" * MAX_ID_LENGTH
    db.append_run(make_run(sid, user_id="u" * MAX_ID_LENGTH))
    session = db.get_session(sid, user_id="u" * MAX_ID_LENGTH)
    assert session is not None and session.run_count == 1


def test_ids_are_never_scan_patterns(db: RedisDb, redis_client: redis.Redis) -> None:
    db.append_run(make_run("*", user_id="*"))
    db.append_run(make_run("a", user_id="a"))
    assert db.erase_user("*") == 1
    assert db.get_session("a") is not None
    # The store never turns an ID into a pattern: it has no SCAN or KEYS at all.
    source = Path(__file__).parents[3] / "adapters" / "redis" / "src" / "sessionary_redis"
    mine = (
        "store",
        "operations",
        "calls",
        "aio",
        "listing",
        "keys",
        "records",
        "scripts",
        "connection",
    )
    code = "\n".join((source / f"{name}.py").read_text() for name in mine)
    assert "scan_iter" not in code and "'KEYS'" not in code and '"KEYS"' not in code


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefix": ""}, "prefix"),
        ({"prefix": "a{b}"}, "prefix"),
        ({"prefix": "has space"}, "prefix"),
        ({"prefix": 5}, "prefix"),
        ({"prefix": "x" * 129}, "prefix"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": True}, "ttl"),
        ({"ttl": "soon"}, "ttl"),
        ({"ttl": float("inf")}, "ttl"),
        ({"retries": -1}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"retry_backoff": -0.1}, "retry_backoff"),
        ({"socket_timeout": 0}, "socket_timeout"),
    ],
)
def test_bad_options_are_refused_before_any_io(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        RedisDb("redis://127.0.0.1:1/0", **kwargs)


def test_url_or_client_not_both_and_only_redis_clients() -> None:
    client = redis.Redis(port=1)
    with pytest.raises(InvalidInputError, match="not both"):
        RedisDb("redis://127.0.0.1:1/0", client=client)
    with pytest.raises(InvalidInputError, match="redis.Redis"):
        RedisDb(client=object())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not a Redis URL"):
        RedisDb("http://127.0.0.1:6379")
    with pytest.raises(InvalidInputError, match="retries"):
        RedisDb("redis://127.0.0.1:1/0?retries=many")


def test_url_options_and_open_db(redis_url: str, prefix: str) -> None:
    url = with_params(redis_url, prefix=prefix, ttl=60, retries=4, retry_backoff=0.2)
    with open_db(url) as store:
        assert isinstance(store, RedisDb)
        assert (store.prefix, store.ttl) == (prefix, 60.0)
        store.append_run(make_run("s1"))
        assert store.client.pttl(store.keys.session("s1")) > 0
    with RedisDb("redis://user:secret@127.0.0.1:1/0", retries=0) as guarded:
        with pytest.raises(StoreUnavailableError) as raised:
            guarded.ping()
        assert "secret" not in str(raised.value)


def test_an_applications_client_is_used_and_not_closed(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with RedisDb(client=client, prefix=prefix) as store:
        store.append_run(make_run("s1", user_id="alice", text="héllo 🚀"))
        session = store.get_session("s1", user_id="alice")
        assert session is not None and session.runs[0].input == "héllo 🚀"
        assert [i.session_id for i in store.list_sessions(user_id="alice").items] == ["s1"]
    assert client.ping()  # still open: the application owns it
    client.close()


def test_agent_with_a_redis_url(redis_url: str, prefix: str) -> None:
    agent = Agent(model=ScriptedModel(), db=with_params(redis_url, prefix=prefix))
    agent.run("Hello", session_id="user_123_session_456", user_id="user_123")
    assert [m.content for m in agent.get_chat_history(session_id="user_123_session_456")] == [
        "Hello",
        "echo: Hello",
    ]
    assert isinstance(agent.db, RedisDb)


def test_the_plugin_does_not_import_redis() -> None:
    code = (
        "import sys, sessionary_redis, sessionary_redis.plugin\n"
        "assert 'redis' not in sys.modules, 'plugin imported redis'\n"
        "from sessionary.plugins import get_plugin_host\n"
        "schemes = get_plugin_host().storage_by_scheme()\n"
        "assert all(schemes.get(s).__name__ == 'RedisDb' for s in ('redis', 'rediss', 'unix'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_unix_socket_url(tmp_path: Path, prefix: str) -> None:
    socket = tmp_path / "redis.sock"
    server = RedisServer(tmp_path / "unix", extra=["--unixsocket", str(socket)]).start()
    try:
        with open_db(f"unix://{socket}?db=0&prefix={prefix}") as store:
            assert isinstance(store, RedisDb)
            store.append_run(make_run("s1"))
            assert store.get_session_info("s1") is not None
            assert str(socket) in store.server
    finally:
        server.stop()


# --------------------------------------------------------------------------- round trips


class Requests:
    """Counts the requests redis-py sends: one per round trip (a pipeline is one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = AbstractConnection.send_packed_command

        def counting(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(conn, command, check_health)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)


def test_an_append_is_one_round_trip_at_run_1_and_run_300(
    db: RedisDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.append_run(make_run("warm", user_id="alice"))  # loads the script on the server
    requests = Requests(monkeypatch)
    db.append_run(make_run("s1", user_id="alice"))
    assert requests.count == 1
    for _ in range(298):
        db.append_run(make_run("s1", user_id="alice"))
    requests.count = 0
    info = db.append_run(make_run("s1", user_id="alice"))
    assert (requests.count, info.run_count) == (1, 300)
    requests.count = 0
    history = db.get_session("s1", last_n_runs=20)
    assert requests.count == 1 and history is not None and len(history.runs) == 20


def test_a_whole_agent_run_is_one_round_trip(db: RedisDb, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = Agent(model=ScriptedModel(), db=db, id="support", user_id="alice")
    agent.run("first", session_id="chat")
    requests = Requests(monkeypatch)
    agent.run("second", session_id="chat")
    assert requests.count == 1


# --------------------------------------------------------------------------- TTL and indexes


@pytest.mark.slow
def test_ttl_leaves_no_key_and_no_index_entry_behind(
    redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    db = RedisDb(redis_url, prefix=prefix, ttl=0.5)
    db.append_run(make_run("s1", user_id="alice", agent_id="support"))
    db.append_run(make_run("s2", user_id="alice", agent_id="support"))
    assert all(redis_client.pttl(k) > 0 for k in redis_client.scan_iter(match=f"{prefix}:*"))
    time.sleep(1.0)
    assert db.list_sessions(user_id="alice").items == ()
    assert db.list_sessions(agent_id="support").items == ()
    assert list(redis_client.scan_iter(match=f"{prefix}:*")) == []  # nothing dangles


def test_each_write_extends_the_expiry(
    redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    db = RedisDb(redis_url, prefix=prefix, ttl=100)
    db.append_run(make_run("s1", user_id="alice"))
    # A far-off expiry that only a write re-setting it to the store's ttl brings down:
    # nothing here can expire mid-test, however slow the machine.
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        redis_client.pexpire(key, 10_000_000)
    db.update_session("s1", name="Renamed", name_source="manual")
    db.append_run(make_run("s1", user_id="alice"))
    ttls = {k.decode(): redis_client.pttl(k) for k in redis_client.scan_iter(match=f"{prefix}:*")}
    scopes = [db.keys.all_index, db.keys.user_index("alice"), db.keys.agent_index("agent-1")]
    families = [db.keys.family(k, f) if f else k for k in scopes for f in ("", "a", "c")]
    assert set(ttls) == {db.keys.session("s1"), db.keys.runs("s1"), *families}
    assert all(0 < ttl <= 100_000 for ttl in ttls.values()), ttls


def test_listing_cleans_a_dangling_entry_it_meets(db: RedisDb, redis_client: redis.Redis) -> None:
    db.append_run(make_run("gone", user_id="alice"))
    db.append_run(make_run("kept", user_id="alice"))
    redis_client.delete(db.keys.session("gone"), db.keys.runs("gone"))  # behind its back
    listed = db.list_sessions(user_id="alice", order_by="updated_at").items
    assert [i.session_id for i in listed] == ["kept"]
    assert redis_client.zscore(db.keys.user_index("alice"), "gone") is None
    assert redis_client.zscore(db.keys.all_index, "gone") is not None  # not met yet
    assert [i.session_id for i in db.list_sessions(order_by="updated_at").items] == ["kept"]
    assert redis_client.zscore(db.keys.all_index, "gone") is None
    activity = db.keys.family(db.keys.all_index, "a")
    assert redis_client.zscore(activity, "gone") is not None  # another order's index
    assert [i.session_id for i in db.list_sessions().items] == ["kept"]
    assert redis_client.zscore(activity, "gone") is None


def test_a_member_run_lands_in_its_team_session_index(db: RedisDb) -> None:
    from sessionary.domain.sessions import SessionType

    db.append_run(make_run("t1", agent_id=None, team_id="crew"), session_type=SessionType.TEAM)
    db.append_run(
        make_run("t1", agent_id="member", team_id="crew", parent_run_id="x"),
        session_type=SessionType.TEAM,
    )
    assert [i.session_id for i in db.list_sessions(team_id="crew").items] == ["t1"]
    assert db.list_sessions(agent_id="member").items == ()


# --------------------------------------------------------------------------- bad records


def test_a_key_of_the_wrong_type_is_a_corrupt_record_of_that_session_only(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    db.append_run(make_run("bad", user_id="alice"))
    db.append_run(make_run("good", user_id="alice"))
    redis_client.delete(db.keys.session("bad"))
    redis_client.set(db.keys.session("bad"), "not a hash")
    for call in (
        lambda: db.get_session("bad"),
        lambda: db.get_session_info("bad"),
        lambda: db.append_run(make_run("bad")),
        lambda: db.get_run("bad", "r"),
    ):
        with pytest.raises(CorruptRecordError, match="'bad'"):
            call()
    assert [i.session_id for i in db.list_sessions(user_id="alice").items] == ["good"]
    assert redis_client.get(db.keys.session("bad")) == b"not a hash"  # nothing overwritten


def test_a_damaged_counter_stops_the_append_before_anything_is_written(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    db.append_run(make_run("s1"))
    redis_client.hset(db.keys.session("s1"), "in", "many")
    with pytest.raises(CorruptRecordError, match="'s1'.*in"):
        db.append_run(make_run("s1"))
    assert redis_client.llen(db.keys.runs("s1")) == 1
    assert redis_client.hget(db.keys.session("s1"), "version") == b"1"


def test_a_record_from_a_newer_schema_is_refused_clearly(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    db.append_run(make_run("s1"))
    redis_client.hset(db.keys.session("s1"), "schema", 99)
    with pytest.raises(SchemaVersionError, match="schema 99"):
        db.get_session_info("s1")
    status = db.schema_status()
    assert (status.current, status.latest) == (99, STORE_SCHEMA)
    assert not status.needs_migration


@pytest.mark.parametrize("tokens", [1.5, 2**41, "3", True])
def test_token_counts_the_server_cannot_add_are_refused(db: RedisDb, tokens: Any) -> None:
    import attrs

    from sessionary import RunMetrics

    db.append_run(make_run("s1"))
    bad = attrs.evolve(make_run("s1"), metrics=RunMetrics(input_tokens=tokens))
    with pytest.raises(InvalidInputError, match="input_tokens"):
        db.append_run(bad)
    info = db.get_session_info("s1")
    assert info is not None and info.run_count == 1


# --------------------------------------------------------------------------- the suite itself


@pytest.mark.slow
@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_an_unreachable_server_fails_in_ci_and_skips_elsewhere(ci: str, outcome: str) -> None:
    here = Path(__file__).parent
    env = {**os.environ, "CI": ci, "SESSIONARY_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            str(here / "test_redis_docs.py::test_the_redis_page_code_runs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=here.parents[2],
        timeout=120,
    )
    assert outcome in result.stdout, result.stdout[-2000:]
    assert "redis://127.0.0.1:1/0 is unreachable" in result.stdout
    assert (result.returncode != 0) is (ci == "true")
