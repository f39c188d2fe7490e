"""Schema version 4: the per-user indexes that every append moves hold only the sessions
that have a user. A version 3 file is refused until migrated, then lists, counts and
appends as a fresh file does, and an append to a session without a user writes fewer
pages than one to a user's session."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sessionary_sqlite import SqliteDb, schema
from sessionary_sqlite.rows import dump_json

from sessionary.codec import encode_run
from sessionary.errors import SchemaVersionError
from sessionary.storage.base import SchemaStatus
from sessionary.testing.storage import make_run

#: session -> (user, created_at, updated_at = last activity)
SESSIONS: dict[str, tuple[str | None, float, float]] = {
    "a1": ("alice", 10.0, 100.0),
    "a2": ("alice", 20.0, 300.0),
    "b1": ("bob", 30.0, 200.0),
    "n1": (None, 40.0, 400.0),
    "n2": (None, 50.0, 50.0),
}


def _version_3_file(path: Path) -> None:
    """A file as the previous release (schema version 3) wrote it: one run a session."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    schema.create_version_3(conn, "sessionary-sqlite (version 3, by hand)")
    for key, (session_id, (user, created, updated)) in enumerate(SESSIONS.items(), start=1):
        conn.execute(
            "INSERT INTO sessions (session_key, session_id, session_type, user_id, agent_id, "
            "state, metadata, created_at, updated_at, version, run_count, last_seq, "
            "last_run_status, last_message_preview, input_tokens, output_tokens, "
            "last_run_at, paused_runs) VALUES (?, ?, 'agent', ?, 'agent-1', '{}', '{}', ?, ?, "
            "1, 1, 1, 'completed', 'x', 0, 0, ?, 0)",
            (key, session_id, user, created, updated, updated),
        )
        run = make_run(session_id, user_id=user, created_at=updated)
        conn.execute(
            "INSERT INTO runs (session_key, seq, run_id, status, version, data) "
            "VALUES (?, 1, ?, 'completed', 1, ?)",
            (key, run.run_id, dump_json(encode_run(run), "run")),
        )
    conn.execute("COMMIT")
    conn.close()


def _schema_of(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    finally:
        conn.close()


def test_a_version_3_file_is_migrated_to_the_partial_user_indexes(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    _version_3_file(path)
    db = SqliteDb(db_file=path)
    assert db.schema_status() == SchemaStatus(current=3, latest=4)
    with pytest.raises(SchemaVersionError, match="sessionary migrate"):
        db.append_run(make_run("n1"))
    steps = db.migrate()
    assert len(steps) == 1 and steps[0].startswith("version 4:"), steps
    fresh = tmp_path / "fresh.db"
    SqliteDb(db_file=fresh).ping()
    assert _schema_of(path) == _schema_of(fresh)  # a migrated file is a fresh file

    def ids(**filters: object) -> list[str]:
        return [i.session_id for i in db.list_sessions(**filters).items]  # type: ignore[arg-type]

    assert ids(user_id="alice") == ["a2", "a1"]
    assert ids(user_id="alice", order_by="updated_at") == ["a2", "a1"]
    assert ids() == ["n1", "a2", "b1", "a1", "n2"]  # every session, with a user or not
    assert ids(order_by="updated_at") == ["n1", "a2", "b1", "a1", "n2"]
    assert db.count_sessions(user_id="bob") == 1 and db.count_sessions() == 5
    page = db.list_sessions(user_id="alice", limit=1)
    assert page.next_cursor is not None
    rest = db.list_sessions(user_id="alice", limit=1, cursor=page.next_cursor)
    assert [i.session_id for i in rest.items] == ["a1"]
    # Appends after the migration keep both orders exact, with a user and without.
    db.append_run(make_run("n2"))
    db.append_run(make_run("a1", user_id="alice"))
    assert ids()[:2] == ["a1", "n2"]
    assert ids(user_id="alice") == ["a1", "a2"]
    assert ids(user_id="alice", order_by="updated_at") == ["a1", "a2"]


def test_the_per_user_indexes_leave_out_sessions_without_a_user(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "a.db")
    for session_id, (user, _, _) in SESSIONS.items():
        db.append_run(make_run(session_id, user_id=user))
    conn = sqlite3.connect(tmp_path / "a.db")
    try:
        for index in ("sessions_by_user", "sessions_by_user_activity"):
            held = conn.execute(
                f"SELECT count(*) FROM sessions INDEXED BY {index} WHERE user_id IS NOT NULL"
            ).fetchone()
            assert held == (3,), index
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT session_id FROM sessions WHERE user_id = ? "
                f"ORDER BY {schema.ACTIVITY} DESC, session_id DESC",
                ("alice",),
            )
        )
        assert "sessions_by_user_activity" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


def _pages_of_one_append(db: SqliteDb, path: Path, session_id: str, user: str | None) -> int:
    """WAL frames (pages) one append writes: the WAL restarted empty, one append, counted."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        db.append_run(make_run(session_id, user_id=user))
        frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    finally:
        conn.close()
    return int(frames)


def test_an_append_without_a_user_writes_two_index_pages_fewer(tmp_path: Path) -> None:
    path = tmp_path / "pages.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("mine", user_id="alice"))
    db.append_run(make_run("anyone"))
    with_user = _pages_of_one_append(db, path, "mine", "alice")
    without = _pages_of_one_append(db, path, "anyone", None)
    # The run row, its two indexes, the session row, the overall indexes by update and
    # by activity; a user's session also moves its two per-user index entries.
    assert without == with_user - 2, (without, with_user)
