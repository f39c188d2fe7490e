"""Migrating a MongoDB database written by the previous release (schema version 1).

The version 1 documents are written here by hand as that release wrote them (a
``sessionary_meta`` record at version 1, session documents stamped 1 without
``last_run_at``/``paused_runs``/``active_at``, run documents without ``paused``). The
store must refuse the database until ``migrate()``; after it every session has
``last_run_at`` (its newest run's ``created_at``, ``None`` without runs) and
``paused_runs`` (exact), and the inbox lists by activity.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mongodb_support import StoreFactory
from sessionary_mongodb import MongoDb

from sessionary.codec import dump_run
from sessionary.domain.runs import Run, RunStatus
from sessionary.errors import SchemaVersionError
from sessionary.testing.storage_data import make_run


def _write_v1(
    store: MongoDb, session_id: str, created: float, updated: float, runs: list[Run]
) -> None:
    """A session and its runs as sessionary-mongodb wrote them on schema version 1."""
    key = uuid.uuid4().hex
    doc: dict[str, Any] = {
        "_id": session_id,
        "key": key,
        "schema": 1,
        "session_type": "agent",
        "user_id": "alice",
        "agent_id": "agent-1",
        "team_id": None,
        "name": None,
        "name_source": None,
        "created_at": created,
        "updated_at": updated,
        "version": len(runs),
        "run_count": len(runs),
        "last_run_status": runs[-1].status.value if runs else None,
        "last_message_preview": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "name_folded": None,
        "state": "{}",
        "metadata": "{}",
        "seq": len(runs),
        "last_seq": len(runs),
        "pending": 0,
    }
    store._sessions.insert_one(doc)
    for seq, run in enumerate(runs, start=1):
        store._runs.insert_one(
            {
                "session_key": key,
                "session_id": session_id,
                "seq": seq,
                "run_id": run.run_id,
                "version": run.version,
                "input_tokens": 0,
                "output_tokens": 0,
                "data": dump_run(run),
            }
        )


@pytest.fixture
def v1_store(mock_factory: StoreFactory) -> MongoDb:
    """A database of three version-1 sessions: ``quiet`` (an old run, renamed last: the
    newest update), ``busy`` (the newest run; two of its three paused), ``empty``."""
    store = mock_factory.new_store()
    store._meta.insert_one({"_id": "schema", "version": 1})
    paused = RunStatus.PAUSED
    _write_v1(store, "quiet", 100.0, 900.0, [make_run("quiet", user_id="alice", created_at=110.0)])
    _write_v1(
        store,
        "busy",
        200.0,
        500.0,
        [
            make_run("busy", user_id="alice", created_at=210.0, status=paused),
            make_run("busy", user_id="alice", created_at=300.0, status=paused),
            make_run("busy", user_id="alice", created_at=400.0),
        ],
    )
    _write_v1(store, "empty", 150.0, 150.0, [])
    return store


def test_a_version_1_database_is_refused_until_migrated_then_lists_by_activity(
    v1_store: MongoDb,
) -> None:
    db = v1_store
    status = db.schema_status()
    assert (status.current, status.latest, status.needs_migration) == (1, 2, True)
    for call in (
        db.list_sessions,
        db.count_sessions,
        lambda: db.get_session_info("busy"),
        lambda: db.append_run(make_run("busy", user_id="alice")),
    ):
        with pytest.raises(SchemaVersionError, match="sessionary migrate"):
            call()
    assert db._runs.count_documents({"session_id": "busy"}) == 3  # nothing was written
    steps = db.migrate()
    assert steps and "3 sessions" in steps[0]
    assert db.schema_status().needs_migration is False
    infos = {info.session_id: info for info in db.list_sessions().items}
    assert (infos["quiet"].last_run_at, infos["quiet"].paused_runs) == (110.0, 0)
    assert (infos["busy"].last_run_at, infos["busy"].paused_runs) == (400.0, 2)
    assert (infos["empty"].last_run_at, infos["empty"].paused_runs) == (None, 0)
    # By activity: busy's last run (400), empty's creation (150), quiet's run (110).
    assert [i.session_id for i in db.list_sessions().items] == ["busy", "empty", "quiet"]
    by_update = db.list_sessions(order_by="updated_at").items
    assert [i.session_id for i in by_update] == ["quiet", "busy", "empty"]
    assert [i.session_id for i in db.list_sessions(has_paused=True).items] == ["busy"]
    assert db.count_sessions(active_after=100.0) == 2
    assert db.migrate() == []  # once is enough
    # The migrated runs carry their paused mark: a trim keeps the count exact.
    db.trim_runs("busy", keep_last=1)
    trimmed = db.get_session_info("busy")
    assert trimmed is not None and trimmed.paused_runs == 0 and trimmed.last_run_at == 400.0


def test_migrate_refuses_a_newer_database_and_converts_nothing(v1_store: MongoDb) -> None:
    v1_store._meta.update_one({"_id": "schema"}, {"$set": {"version": 3}})
    with pytest.raises(SchemaVersionError, match="newer|upgrade sessionary"):
        v1_store.migrate()
    assert v1_store._sessions.find_one({"_id": "busy"})["schema"] == 1
