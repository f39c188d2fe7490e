"""Migrating a Redis store written by the previous release (storage schema 1).

The schema-1 records are written here by hand, field by field as that release wrote
them (a session hash without ``lra``/``paused``, the runs list, the ``x:`` indexes
scored by last update, no ``xa:``/``xc:`` families). The store must refuse them until
``migrate()``; after it every session has ``last_run_at`` (its newest run's
``created_at``, ``None`` without runs) and ``paused_runs`` (exact), and the inbox lists
by activity through the new indexes.
"""

from __future__ import annotations

import pytest
import redis
from sessionary_redis import RedisDb

from sessionary.codec import dump_run
from sessionary.domain.runs import Run, RunStatus
from sessionary.errors import SchemaVersionError
from sessionary.testing.storage_data import make_run


def _write_v1(
    client: redis.Redis,
    db: RedisDb,
    session_id: str,
    created: float,
    updated: float,
    runs: list[Run],
) -> None:
    """A session as sessionary-redis wrote it on storage schema 1."""
    index_keys = [db.keys.all_index, db.keys.user_index("alice"), db.keys.agent_index("agent-1")]
    fields: dict[str, str] = {
        "schema": "1",
        "type": "agent",
        "name": "null",
        "name_source": "null",
        "state": "{}",
        "metadata": "{}",
        "created": repr(created),
        "updated": repr(updated),
        "version": str(len(runs)),
        "runs": str(len(runs)),
        "in": "0",
        "out": "0",
        "idx": "\n".join(index_keys),
        "user": "alice",
        "agent": "agent-1",
    }
    if runs:
        fields["status"] = runs[-1].status.value
    for position, run in enumerate(runs):
        fields["r:" + run.run_id] = str(position)
        client.rpush(db.keys.runs(session_id), dump_run(run))
    for field, value in fields.items():
        client.hset(db.keys.session(session_id), field, value)
    for key in index_keys:
        client.zadd(key, {session_id: updated})


@pytest.fixture
def v1_store(redis_url: str, prefix: str, redis_client: redis.Redis) -> RedisDb:
    """A store of three schema-1 sessions: ``quiet`` (an old run, renamed last: the newest
    update), ``busy`` (the newest run; two of its three runs paused), ``empty`` (no runs)."""
    db = RedisDb(redis_url, prefix=prefix)
    paused = RunStatus.PAUSED
    _write_v1(redis_client, db, "quiet", 100.0, 900.0, [make_run("quiet", created_at=110.0)])
    _write_v1(
        redis_client,
        db,
        "busy",
        200.0,
        500.0,
        [
            make_run("busy", user_id="alice", created_at=210.0, status=paused),
            make_run("busy", user_id="alice", created_at=300.0, status=paused),
            make_run("busy", user_id="alice", created_at=400.0),
        ],
    )
    _write_v1(redis_client, db, "empty", 150.0, 150.0, [])
    return db


def test_a_schema_1_store_is_refused_until_migrated_then_lists_by_activity(
    v1_store: RedisDb, redis_client: redis.Redis
) -> None:
    db = v1_store
    status = db.schema_status()
    assert (status.current, status.latest, status.needs_migration) == (1, 2, True)
    for call in (
        db.list_sessions,
        db.count_sessions,
        lambda: db.get_session("busy"),
        lambda: db.get_session_info("busy"),
        lambda: db.append_run(make_run("busy", user_id="alice")),
        lambda: db.update_session("busy", name="x"),
        lambda: db.delete_session("busy"),
    ):
        with pytest.raises(SchemaVersionError, match="sessionary migrate"):
            call()
    assert redis_client.llen(db.keys.runs("busy")) == 3  # nothing was written
    steps = db.migrate()
    assert steps and "3 sessions" in steps[0]
    assert db.schema_status().needs_migration is False
    infos = {info.session_id: info for info in db.list_sessions().items}
    assert (infos["quiet"].last_run_at, infos["quiet"].paused_runs) == (110.0, 0)
    assert (infos["busy"].last_run_at, infos["busy"].paused_runs) == (400.0, 2)
    assert (infos["empty"].last_run_at, infos["empty"].paused_runs) == (None, 0)
    # By activity: busy's last run (400), empty's creation (150), quiet's run (110).
    assert [i.session_id for i in db.list_sessions().items] == ["busy", "empty", "quiet"]
    assert [i.session_id for i in db.list_sessions(user_id="alice").items] == [
        "busy",
        "empty",
        "quiet",
    ]
    by_creation = db.list_sessions(order_by="created_at").items
    assert [i.session_id for i in by_creation] == ["busy", "empty", "quiet"]
    by_update = db.list_sessions(order_by="updated_at").items
    assert [i.session_id for i in by_update] == ["quiet", "busy", "empty"]
    assert [i.session_id for i in db.list_sessions(has_paused=True).items] == ["busy"]
    assert db.count_sessions(active_after=100.0) == 2
    assert db.migrate() == []  # once is enough
    # The migrated session takes writes again, and its count stays exact.
    busy = db.get_session("busy")
    assert busy is not None
    db.trim_runs("busy", keep_last=1)
    trimmed = db.get_session_info("busy")
    assert trimmed is not None and trimmed.paused_runs == 0 and trimmed.last_run_at == 400.0


def test_migrate_refuses_a_store_with_a_newer_session_and_writes_nothing(
    v1_store: RedisDb, redis_client: redis.Redis
) -> None:
    redis_client.hset(v1_store.keys.session("busy"), "schema", 3)
    with pytest.raises(SchemaVersionError, match="newer"):
        v1_store.migrate()
    assert redis_client.hget(v1_store.keys.session("quiet"), "schema") == b"1"
