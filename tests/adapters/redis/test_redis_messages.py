"""``get_messages`` on Redis: the fewest last runs, found by the message counts kept
beside them (``m:<seq>`` in the session hash), in one read-only script.

The counts only make the read fast: a count that is missing (a session written before
they were kept), wrong or not a number must never change what is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import redis
from sessionary_redis import RedisDb
from sessionary_redis.calls import Action, Script
from sessionary_redis.scripts import STORE_SCHEMA

from sessionary import Message, Run
from sessionary.domain.messages import Role
from sessionary.domain.sessions import Session
from sessionary.errors import CorruptRecordError, SchemaVersionError
from sessionary.testing.storage import make_run


@pytest.fixture
def db(redis_url: str, prefix: str) -> Iterator[RedisDb]:
    store = RedisDb(redis_url, prefix=prefix)
    yield store
    store.close()


def talk(session_id: str, count: int, text: str = "m", **kwargs: Any) -> Run:
    """A run of ``count`` messages, alternating user and assistant: ``<text>0``, ..."""
    messages = tuple(
        Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT, content=f"{text}{i}")
        for i in range(count)
    )
    return attrs.evolve(make_run(session_id, text=text, **kwargs), messages=messages)


class Reads:
    """Records each READ_MESSAGES request a store sends, and how many runs it got back."""

    def __init__(self, db: RedisDb, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[int] = []
        original = db._perform

        def perform(action: Action) -> Any:
            reply = original(action)
            if isinstance(action, Script) and action.name == "_read_messages":
                self.runs.append(len(reply[2]) if reply[0] in (b"ok", "ok") else -1)
            return reply

        monkeypatch.setattr(db, "_perform", perform)


def counts(client: redis.Redis, db: RedisDb, session_id: str) -> dict[int, int]:
    """The ``m:<seq>`` fields of the session's hash, by sequence number."""
    fields: dict[bytes, bytes] = client.hgetall(db.keys.session(session_id))  # type: ignore[assignment]
    return {int(key[2:]): int(value) for key, value in fields.items() if key[:2] == b"m:"}


def every_tail(db: RedisDb, session_id: str) -> None:
    """Every ``last_n`` reads the last ``last_n`` of all the session's messages."""
    session = db.get_session(session_id)
    assert session is not None
    every = session.get_messages()
    assert db.get_messages(session_id) == every
    for last_n in range(1, len(every) + 2):
        assert db.get_messages(session_id, last_n=last_n) == every[-last_n:], last_n


# --------------------------------------------------------------------------- the counts


def test_every_write_keeps_each_runs_message_count(db: RedisDb, redis_client: redis.Redis) -> None:
    runs = [talk("s1", n, text=f"r{i}-") for i, n in enumerate((3, 0, 1, 4))]
    for run in runs:
        db.append_run(run)
    assert counts(redis_client, db, "s1") == {0: 3, 1: 0, 2: 1, 3: 4}
    every_tail(db, "s1")

    grown = attrs.evolve(runs[2], messages=talk("s1", 5, text="grown-").messages)
    db.update_run(grown, expected_version=runs[2].version)
    assert counts(redis_client, db, "s1") == {0: 3, 1: 0, 2: 5, 3: 4}
    every_tail(db, "s1")

    db.replace_last_runs("s1", 2, (talk("s1", 2, text="new-"),))
    assert counts(redis_client, db, "s1") == {0: 3, 1: 0, 2: 2}, "a removed run's count stays"
    every_tail(db, "s1")

    db.trim_runs("s1", keep_last=2)
    assert counts(redis_client, db, "s1") == {1: 0, 2: 2}, "a trimmed run's count stays"
    db.append_run(talk("s1", 6, text="after-"))
    assert counts(redis_client, db, "s1") == {1: 0, 2: 2, 3: 6}
    every_tail(db, "s1")

    db.replace_last_runs("s1", 3, ())
    assert counts(redis_client, db, "s1") == {}

    imported = Session(session_id="s2", runs=tuple(talk("s2", n) for n in (2, 0, 7)))
    db.import_session(imported)
    assert counts(redis_client, db, "s2") == {0: 2, 1: 0, 2: 7}
    every_tail(db, "s2")


def test_a_tail_read_is_one_request_for_the_runs_that_hold_the_messages(
    db: RedisDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        db.append_run(talk("s1", 2, text=f"t{i}-"))
    db.append_run(talk("s1", 0, text="empty"))
    reads = Reads(db, monkeypatch)
    last = db.get_messages("s1", last_n=5)
    assert [m.content for m in last] == ["t27-1", "t28-0", "t28-1", "t29-0", "t29-1"]
    assert reads.runs == [4], "one request, for the three runs of five messages (and the empty one)"
    reads.runs.clear()
    assert len(db.get_messages("s1")) == 60 and reads.runs == [31]


@pytest.mark.parametrize(
    ("damage", "requests"),
    [
        pytest.param(b"99", 2, id="too-high"),  # the script stops too early: read again
        pytest.param(b"0", 1, id="too-low"),  # more runs than needed, in one read
        pytest.param(None, 1, id="missing"),  # counted with cjson, in one read
        pytest.param(b"two", 1, id="not-a-number"),  # counted with cjson
    ],
)
def test_a_wrong_or_missing_count_never_changes_what_is_read(
    db: RedisDb,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    damage: bytes | None,
    requests: int,
) -> None:
    for i in range(6):
        db.append_run(talk("s1", 2, text=f"t{i}-"))
    key = db.keys.session("s1")
    for seq in (5, 3):  # the newest run, and one further back
        if damage is None:
            redis_client.hdel(key, f"m:{seq}")
        else:
            redis_client.hset(key, f"m:{seq}", damage)
    reads = Reads(db, monkeypatch)
    assert [m.content for m in db.get_messages("s1", last_n=3)] == ["t4-1", "t5-0", "t5-1"]
    assert len(reads.runs) == requests
    every_tail(db, "s1")


def test_sessions_written_before_the_counts_read_the_same(
    db: RedisDb, redis_client: redis.Redis
) -> None:
    for n in (3, 0, 1, 4, 0):
        db.append_run(talk("s1", n))
    key = db.keys.session("s1")
    redis_client.hdel(key, *[f"m:{seq}" for seq in range(5)])
    every_tail(db, "s1")


# --------------------------------------------------------------------------- the checks


def test_the_owner_and_a_missing_session_read_empty(db: RedisDb) -> None:
    db.append_run(talk("s1", 3, user_id="alice"))
    assert db.get_messages("s1", user_id="bob", last_n=2) == []
    assert db.get_messages("s1", user_id="bob") == []
    assert db.get_messages("nope", last_n=2) == []
    assert len(db.get_messages("s1", user_id="alice", last_n=2)) == 2
    assert len(db.get_messages("s1", last_n=2)) == 2  # no user given: no scoping


def test_a_session_without_runs_reads_empty(db: RedisDb) -> None:
    db.import_session(Session(session_id="s1"))
    assert db.get_messages("s1") == [] and db.get_messages("s1", last_n=3) == []


@pytest.mark.parametrize("newer", [True, False])
def test_another_schema_is_refused(db: RedisDb, redis_client: redis.Redis, newer: bool) -> None:
    db.append_run(talk("s1", 2))
    stamp = STORE_SCHEMA + 1 if newer else STORE_SCHEMA - 1
    redis_client.hset(db.keys.session("s1"), "schema", stamp)
    with pytest.raises(SchemaVersionError, match=f"schema {stamp}"):
        db.get_messages("s1", last_n=1)


@pytest.mark.parametrize("schema", [None, b"two"])
def test_a_session_hash_without_a_schema_is_corrupt(
    db: RedisDb, redis_client: redis.Redis, schema: bytes | None
) -> None:
    db.append_run(talk("s1", 2))
    if schema is None:
        redis_client.hdel(db.keys.session("s1"), "schema")
    else:
        redis_client.hset(db.keys.session("s1"), "schema", schema)
    with pytest.raises(CorruptRecordError, match="'s1'.*schema"):
        db.get_messages("s1", last_n=1)


@pytest.mark.parametrize("which", ["session", "runs"])
def test_a_key_of_the_wrong_type_is_a_corrupt_record(
    db: RedisDb, redis_client: redis.Redis, which: str
) -> None:
    db.append_run(talk("s1", 2))
    db.append_run(talk("s2", 2))
    key = db.keys.session("s1") if which == "session" else db.keys.runs("s1")
    redis_client.delete(key)
    redis_client.set(key, "not a hash or a list")
    with pytest.raises(CorruptRecordError, match="'s1'"):
        db.get_messages("s1", last_n=1)
    assert len(db.get_messages("s2", last_n=1)) == 1


def test_a_corrupt_run_among_those_read_is_reported_or_skipped(
    db: RedisDb, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        db.append_run(talk("s1", 2, text=f"t{i}-"))
    redis_client.lset(db.keys.runs("s1"), 2, b"\xff{not json")  # type: ignore[arg-type]
    assert len(db.get_messages("s1", last_n=2)) == 2  # the damage is not read
    with pytest.raises(CorruptRecordError, match="'s1'"):
        db.get_messages("s1", last_n=3)
    reads = Reads(db, monkeypatch)
    tolerant = db.get_messages("s1", last_n=3, skip_corrupt=True)
    assert [m.content for m in tolerant] == ["t1-1", "t3-0", "t3-1"]
    assert len(reads.runs) == 2, "its count said 2: read again, counting every run"


# --------------------------------------------------------------------------- clients


def test_a_client_that_decodes_replies(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with RedisDb(client=client, prefix=prefix) as db:
        for i in range(3):
            db.append_run(talk("s1", 2, text=f"héllo 🚀 {i}-"))
        assert [m.content for m in db.get_messages("s1", last_n=3)] == [
            "héllo 🚀 1-1",
            "héllo 🚀 2-0",
            "héllo 🚀 2-1",
        ]
    client.close()


def test_the_async_store_reads_the_same(
    db: RedisDb, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        db.append_run(talk("s1", 2, text=f"t{i}-", user_id="alice"))
    redis_client.hset(db.keys.session("s1"), "m:4", 99)
    expected = db.get_messages("s1", last_n=3)
    adb = db.to_async()

    async def read() -> tuple[list[Message], list[Message]]:
        try:
            return (
                await adb.get_messages("s1", user_id="alice", last_n=3),
                await adb.get_messages("s1", user_id="bob", last_n=3),
            )
        finally:
            await adb.close()

    assert asyncio.run(read()) == (expected, [])
