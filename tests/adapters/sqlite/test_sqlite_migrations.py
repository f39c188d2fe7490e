"""Schema versions: an older file is upgraded by ``migrate``, a newer one is refused."""

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


def _version_1_file(path: Path) -> list[str]:
    """A file as schema version 1 wrote it: no token totals. Returns the run IDs."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    schema.create_version_1(conn, "sessionary-sqlite (version 1, by hand)")
    run_ids = []
    for key, (session_id, user) in enumerate((("s1", "alice"), ("s2", "bob")), start=1):
        conn.execute(
            "INSERT INTO sessions (session_key, session_id, session_type, user_id, agent_id, "
            "state, metadata, created_at, updated_at, version, run_count, last_seq, "
            "last_run_status, last_message_preview) "
            "VALUES (?, ?, 'agent', ?, 'agent-1', '{}', '{}', ?, ?, 3, 3, 3, 'completed', 'x')",
            (key, session_id, user, 1.0 * key, 2.0 * key),
        )
        for seq in range(1, 4):
            run = make_run(session_id, user_id=user, input_tokens=seq, output_tokens=10 * seq)
            run_ids.append(run.run_id)
            conn.execute(
                "INSERT INTO runs (session_key, seq, run_id, status, version, data) "
                "VALUES (?, ?, ?, 'completed', 1, ?)",
                (key, seq, run.run_id, dump_json(encode_run(run), "run")),
            )
    conn.execute("COMMIT")
    conn.close()
    return run_ids


def _columns(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = {
            name: conn.execute(f"PRAGMA table_info({name})").fetchall()
            for name in ("sessions", "runs")
        }
        tables["indexes"] = sorted(
            conn.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                "AND name NOT LIKE 'sqlite_autoindex%'"
            ).fetchall()
        )
        return tables
    finally:
        conn.close()


def test_a_version_1_file_is_refused_until_migrated_then_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    run_ids = _version_1_file(path)
    db = SqliteDb(db_file=path)
    assert db.schema_status() == SchemaStatus(current=1, latest=schema.LATEST)
    assert db.schema_status().needs_migration
    with pytest.raises(SchemaVersionError) as caught:
        db.get_session("s1")
    message = str(caught.value)
    assert "schema version 1" in message and f"version {schema.LATEST}" in message
    assert f"sessionary migrate --db {db.url}" in message
    with pytest.raises(SchemaVersionError):
        db.append_run(make_run("s1", user_id="alice"))

    steps = db.migrate()
    assert [step.split(":")[0] for step in steps] == ["version 2", "version 3", "version 4"]
    assert db.schema_status() == SchemaStatus(current=schema.LATEST, latest=schema.LATEST)
    assert db.migrate() == []  # nothing left to do

    session = db.get_session("s1")
    assert session is not None
    assert [r.run_id for r in session.runs] == run_ids[:3]
    assert (session.input_tokens, session.output_tokens) == (1 + 2 + 3, 10 + 20 + 30)
    info = db.append_run(make_run("s1", user_id="alice", input_tokens=4, output_tokens=40))
    assert (info.run_count, info.input_tokens, info.output_tokens) == (4, 10, 100)
    fresh = tmp_path / "fresh.db"
    SqliteDb(db_file=fresh).ping()
    assert _columns(path) == _columns(fresh)  # a migrated file is a fresh file


def test_an_open_store_notices_a_migration_made_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_1_file(path)
    waiting = SqliteDb(db_file=path)
    with pytest.raises(SchemaVersionError):
        waiting.get_session_info("s2")
    SqliteDb(db_file=path).migrate()
    info = waiting.get_session_info("s2")
    assert info is not None and info.output_tokens == 60


def test_a_damaged_run_does_not_block_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_1_file(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE runs SET data = '{broken' WHERE session_key = 2 AND seq = 2")
    conn.close()
    steps = SqliteDb(db_file=path).migrate()
    assert any("'s2'" in step and "run #2" in step for step in steps), steps
    info = SqliteDb(db_file=path).get_session_info("s2")
    assert info is not None and (info.input_tokens, info.output_tokens) == (1 + 3, 10 + 30)


def test_a_file_from_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("s1"))
    db.close()
    newer = schema.LATEST + 1
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE sessionary_schema SET version = ?, written_by = 'sessionary-sqlite 9.0'",
            (newer,),
        )
    conn.close()
    db = SqliteDb(db_file=path)
    assert db.schema_status() == SchemaStatus(current=newer, latest=schema.LATEST)
    for call in (lambda: db.get_session("s1"), lambda: db.append_run(make_run("s1")), db.migrate):
        with pytest.raises(SchemaVersionError) as caught:
            call()
        message = str(caught.value)
        assert f"schema version {newer}" in message and f"version {schema.LATEST}" in message
        assert "pip install -U sessionary-sqlite" in message
    from click.testing import CliRunner
    from sessionary_cli import main

    refused = CliRunner().invoke(main, ["migrate", "--db", db.url])
    assert refused.exit_code == 7
    assert "newer schema" in refused.stderr
    check = sqlite3.connect(path)
    assert check.execute("SELECT version FROM sessionary_schema").fetchall() == [(newer,)]
    assert check.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]
    check.close()


def test_two_stores_on_one_new_file_share_one_schema(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    first, second = SqliteDb(db_file=path), SqliteDb(db_file=path)
    first.append_run(make_run("a"))
    second.append_run(make_run("b"))
    assert second.schema_status().current == schema.LATEST
    assert {i.session_id for i in first.list_sessions().items} == {"a", "b"}


def test_sessionary_migrate_upgrades_a_sqlite_file(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from sessionary_cli import main

    path = tmp_path / "old.db"
    _version_1_file(path)
    url = SqliteDb(db_file=path).url
    check = CliRunner().invoke(main, ["migrate", "--db", url, "--check"])
    assert check.exit_code != 0
    assert f"schema version 1 (latest {schema.LATEST})" in check.stdout
    result = CliRunner().invoke(main, ["migrate", "--db", url])
    assert result.exit_code == 0, result.output
    assert "version 2: added token totals to 2 session(s) from 6 run(s)" in result.stdout
    info = SqliteDb(db_file=path).get_session_info("s1")
    assert info is not None and info.input_tokens == 6


def test_a_damaged_schema_table_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    SqliteDb(db_file=path).append_run(make_run("s1"))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE sessionary_schema SET version = 'two'")
    conn.close()
    db = SqliteDb(db_file=path)
    for call in (lambda: db.get_session("s1"), db.migrate):
        with pytest.raises(SchemaVersionError, match="damaged schema table.*backup"):
            call()
