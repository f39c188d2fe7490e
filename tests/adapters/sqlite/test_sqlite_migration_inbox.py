"""Schema version 3 (the inbox): a file of the previous release is refused until
migrated, then has ``last_run_at`` and ``paused_runs`` filled and lists by activity."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sessionary_sqlite import SqliteDb, schema
from sessionary_sqlite.rows import dump_json

from sessionary.codec import encode_run
from sessionary.domain.runs import RunStatus
from sessionary.errors import SchemaVersionError
from sessionary.storage.base import SchemaStatus
from sessionary.testing.storage import make_run

P, C = RunStatus.PAUSED, RunStatus.COMPLETED

#: session -> (created_at, updated_at, [(run created_at, status)]): "old" was renamed
#: last (so its updated_at is the newest), "quiet" has no runs.
SESSIONS: dict[str, tuple[float, float, list[tuple[float, RunStatus]]]] = {
    "old": (10.0, 900.0, [(20.0, C), (30.0, P)]),
    "busy": (40.0, 500.0, [(50.0, P), (60.0, C), (400.0, P)]),
    "done": (70.0, 300.0, [(300.0, C)]),
    "quiet": (200.0, 200.0, []),
}


def _version_2_file(path: Path) -> None:
    """A file as the previous release (schema version 2) wrote it, with its DDL and rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    schema.create_version_2(conn, "sessionary-sqlite (version 2, by hand)")
    for key, (session_id, (created, updated, runs)) in enumerate(SESSIONS.items(), start=1):
        last_status = runs[-1][1].value if runs else None
        conn.execute(
            "INSERT INTO sessions (session_key, session_id, session_type, user_id, agent_id, "
            "state, metadata, created_at, updated_at, version, run_count, last_seq, "
            "last_run_status, last_message_preview, input_tokens, output_tokens) "
            "VALUES (?, ?, 'agent', 'alice', 'agent-1', '{}', '{}', ?, ?, ?, ?, ?, ?, 'x', 0, 0)",
            (key, session_id, created, updated, len(runs), len(runs), len(runs), last_status),
        )
        for seq, (at, status) in enumerate(runs, start=1):
            run = make_run(session_id, user_id="alice", status=status, created_at=at)
            conn.execute(
                "INSERT INTO runs (session_key, seq, run_id, status, version, data, "
                "input_tokens, output_tokens) VALUES (?, ?, ?, ?, 1, ?, 3, 5)",
                (key, seq, run.run_id, status.value, dump_json(encode_run(run), "run")),
            )
    conn.execute("COMMIT")
    conn.close()


def test_a_version_2_file_is_migrated_with_activity_and_paused_counts(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    _version_2_file(path)
    db = SqliteDb(db_file=path)
    assert db.schema_status() == SchemaStatus(current=2, latest=schema.LATEST)
    with pytest.raises(SchemaVersionError, match="sessionary migrate"):
        db.list_sessions()
    steps = db.migrate()
    assert len(steps) == 2 and "version 3" in steps[0] and "3 with runs" in steps[0], steps
    assert "version 4" in steps[1], steps
    infos = {s: db.get_session_info(s) for s in SESSIONS}
    got = {s: (i.last_run_at, i.paused_runs) for s, i in infos.items() if i is not None}
    assert got == {
        "old": (30.0, 1),
        "busy": (400.0, 2),
        "done": (300.0, 0),
        "quiet": (None, 0),
    }
    ids = [i.session_id for i in db.list_sessions().items]
    assert ids == ["busy", "done", "quiet", "old"]  # by activity, not by the rename
    assert [i.session_id for i in db.list_sessions(order_by="updated_at").items] == [
        "old",
        "busy",
        "done",
        "quiet",
    ]
    assert [i.session_id for i in db.list_sessions(has_paused=True).items] == ["busy", "old"]
    assert db.count_sessions(has_paused=True) == 2 and db.count_sessions(status="paused") == 2
    # Writes after the migration keep the fields exact.
    info = db.append_run(make_run("old", user_id="alice"))
    assert info.paused_runs == 1 and info.last_run_at is not None and info.last_run_at > 900
    assert db.list_sessions().items[0].session_id == "old"
    fresh = tmp_path / "fresh.db"
    SqliteDb(db_file=fresh).ping()
    assert _schema_of(path) == _schema_of(fresh)  # a migrated file is a fresh file


def test_a_damaged_newest_run_takes_the_last_update_as_activity(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    _version_2_file(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE runs SET data = '{broken' WHERE session_key = 3 AND seq = 1")
    conn.close()
    steps = SqliteDb(db_file=path).migrate()
    assert any("'done'" in step and "run #1" in step for step in steps), steps
    info = SqliteDb(db_file=path).get_session_info("done")
    assert info is not None and info.last_run_at == 300.0  # its updated_at


def _schema_of(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            (name, *column)
            for name in ("sessions", "runs")
            for column in conn.execute(f"PRAGMA table_info({name})").fetchall()
        ]
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "ORDER BY name"
        ).fetchall()
        return [*tables, *indexes]
    finally:
        conn.close()


def test_listing_and_counting_use_the_inbox_indexes(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "plan.db")
    for i in range(3):
        db.append_run(make_run(f"s{i}", user_id="alice", status=P if i else C))
    statements: list[str] = []
    db._connection().set_trace_callback(statements.append)
    cursor = db.list_sessions(user_id="alice", limit=1).next_cursor
    db.list_sessions(user_id="alice", limit=1, cursor=cursor)
    db.list_sessions(has_paused=True)
    db.list_sessions(user_id="alice", order_by="created_at")
    db.count_sessions(has_paused=True)
    db.count_sessions(user_id="alice")
    db.count_sessions(active_after=0.0)
    db._connection().set_trace_callback(None)
    reads = [s for s in statements if "FROM sessions" in s and "session_id =" not in s]
    expected = [
        "sessions_by_user_activity",
        "sessions_by_user_activity",
        "sessions_paused",
        "sessions_by_user_creation",
        "sessions_paused",
        "sessions_by_user",
        "sessions_by_activity",
    ]
    assert len(reads) == len(expected), reads
    conn = sqlite3.connect(tmp_path / "plan.db")
    conn.create_function("sessionary_name_contains", 2, lambda name, needle: True)
    try:
        for sql, index in zip(reads, expected, strict=True):
            plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert index in plan and "TEMP B-TREE" not in plan and "runs" not in plan, (sql, plan)
    finally:
        conn.close()
