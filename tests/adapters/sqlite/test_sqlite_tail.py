"""The SQLite store's one-statement reads and writes of a session's tail: the schema
version and the owner are checked in the same statement (so the same snapshot) as the
rows, and a tail read leaves no read transaction open behind it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sessionary_sqlite import AsyncSqliteStore, SqliteDb, schema

from sessionary.errors import SchemaVersionError
from sessionary.testing.storage import make_run


def _stamp(path: Path, version: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE sessionary_schema SET version = ?", (version,))
    conn.close()


def test_an_open_store_refuses_tail_reads_and_appends_after_a_newer_schema(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tail.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("s1"))
    assert len(db.get_messages("s1", last_n=1)) == 1
    _stamp(path, schema.LATEST + 1)
    with pytest.raises(SchemaVersionError, match="newer than"):
        db.get_messages("s1", last_n=1)
    with pytest.raises(SchemaVersionError, match="newer than"):
        db.append_run(make_run("s1"))
    with pytest.raises(SchemaVersionError, match="newer than"):
        db.append_run(make_run("new"))
    _stamp(path, schema.LATEST)
    assert db.get_session_info("s1").run_count == 1  # type: ignore[union-attr]
    assert db.get_session_info("new") is None, "a refused append wrote"


def test_a_damaged_schema_version_refuses_tail_reads_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "tail.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("s1"))
    _stamp(path, "two")
    for call in (lambda: db.get_messages("s1"), lambda: db.append_run(make_run("s1"))):
        with pytest.raises(SchemaVersionError, match="damaged schema table"):
            call()


def test_the_async_store_refuses_tail_reads_after_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "tail.db"

    async def scenario() -> None:
        store = AsyncSqliteStore(db_file=path)
        try:
            await store.append_run(make_run("s1"))
            assert len(await store.get_messages("s1", last_n=1)) == 1
            _stamp(path, schema.LATEST + 1)
            with pytest.raises(SchemaVersionError):
                await store.get_messages("s1")
            with pytest.raises(SchemaVersionError):
                await store.append_run(make_run("s1"))
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_tail_read_checks_the_owner_in_its_statement(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "tail.db")
    mine = make_run("mine", user_id="alice")
    db.append_run(mine)
    db.append_run(make_run("nobody's"))
    assert db.get_messages("mine", user_id="alice") == list(mine.messages)
    assert db.get_messages("mine", user_id="bob") == []
    assert db.get_messages("nobody's", user_id="alice") == []
    assert len(db.get_messages("nobody's")) == len(mine.messages)
    assert db.get_messages("missing") == [] and db.get_messages("missing", user_id="a") == []


def test_a_tail_read_that_stops_early_leaves_no_snapshot_open(tmp_path: Path) -> None:
    path = tmp_path / "tail.db"
    db = SqliteDb(db_file=path)
    for _ in range(30):
        db.append_run(make_run("s1"))
    assert len(db.get_messages("s1", last_n=1)) == 1  # read 1 of 30 run rows
    conn = db._connection()
    assert not conn.in_transaction
    other = sqlite3.connect(path)
    try:
        # An open read snapshot would keep a full checkpoint from finishing (busy = 1).
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    assert busy == 0, "a tail read left its statement's snapshot open"
    db.close()
