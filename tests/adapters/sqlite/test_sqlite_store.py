"""What SqliteDb does beyond the shared contract: files, URLs, the schema, bad input."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from sessionary_sqlite import SqliteDb

from sessionary import Agent
from sessionary.domain.runs import RunStatus
from sessionary.errors import (
    CorruptRecordError,
    CorruptStoreError,
    InvalidInputError,
    SchemaVersionError,
    StoreUnavailableError,
)
from sessionary.resolve import open_db
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run


def _sql(path: Path | str, statement: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(statement, args).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------------------- where it lives


def test_db_file_creates_parent_folders_on_first_use_not_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = SqliteDb(db_file="tmp/nested/agent.db")
    assert not (tmp_path / "tmp").exists()  # __init__ does no I/O
    db.append_run(make_run("s1"))
    assert (tmp_path / "tmp" / "nested" / "agent.db").is_file()
    db.close()


def test_urls_name_relative_absolute_and_memory_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert SqliteDb(db_url="sqlite:///tmp/agent.db").path == "tmp/agent.db"
    assert SqliteDb(db_url=f"sqlite:///{tmp_path}/a.db").path == f"{tmp_path}/a.db"
    assert SqliteDb(db_url="sqlite:///:memory:").path == ":memory:"
    assert SqliteDb(db_url="sqlite://").path == ":memory:"
    odd = tmp_path / "with space %25 and ?q"
    db = SqliteDb(db_file=odd / "x.db", synchronous="normal", timeout=5)
    again = SqliteDb(db_url=db.url)
    assert (again.path, again.location.synchronous, again.location.timeout) == (
        str(odd / "x.db"),
        "normal",
        5.0,
    )


def test_agent_opens_a_sqlite_url_through_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    agent = Agent(model=ScriptedModel("Hi!"), db="sqlite:///tmp/agent.db")
    assert isinstance(agent.db, SqliteDb)
    agent.run("Hello", session_id="s1", user_id="u1")
    with open_db("sqlite:///tmp/agent.db") as other:
        assert [m.content for m in other.get_session("s1").get_chat_history()] == [  # type: ignore[union-attr]
            "Hello",
            "Hi!",
        ]
    assert (tmp_path / "tmp" / "agent.db").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of"),
        ({"db_file": "a.db", "db_url": "sqlite:///a.db"}, "exactly one of"),
        ({"db_file": 42}, "db_file must be a str or a path"),
        ({"db_file": ""}, "must not be empty"),
        ({"db_file": "a\x00b"}, "NUL"),
        ({"db_url": "postgres://x/y"}, "not a SQLite URL"),
        ({"db_url": "sqlite://host/x.db"}, "names a host"),
        ({"db_url": "sqlite:///x.db?journal=off"}, "unknown option"),
        ({"db_url": "sqlite:///x.db?timeout=soon"}, "timeout must be a number"),
        ({"db_file": "a.db", "synchronous": "off"}, "synchronous must be one of"),
        ({"db_file": "a.db", "timeout": -1}, "timeout must be"),
        ({"db_url": 7}, "db_url must be a str"),
    ],
)
def test_bad_settings_are_refused_before_any_io(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SqliteDb(**kwargs)  # type: ignore[arg-type]


def test_a_folder_that_cannot_exist_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    db = SqliteDb(db_file=blocker / "sub" / "agent.db")
    with pytest.raises(StoreUnavailableError, match="cannot create the folder") as caught:
        db.append_run(make_run("s1"))
    assert "not-a-folder" in str(caught.value)
    with pytest.raises(StoreUnavailableError, match="not-a-folder"):
        open_db(f"sqlite:///{blocker}/agent.db")


def _try_to_write(paths: list[Path]) -> list[str]:
    lines = []
    for path in paths:
        try:
            SqliteDb(db_file=path).append_run(make_run("s1"))
        except StoreUnavailableError as exc:
            lines.append(f"refused: {exc}")
        else:
            lines.append(f"written: {path}")
    return lines


_PROBE = """
import json, os, sys
from pathlib import Path
from sessionary.errors import StoreUnavailableError
from sessionary.testing.storage import make_run
from sessionary_sqlite import SqliteDb

SqliteDb(db_file=":memory:").append_run(make_run("warm"))  # every import done as root
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
lines = []
for path in map(Path, sys.argv[1:]):
    try:
        SqliteDb(db_file=path).append_run(make_run("s1"))
    except StoreUnavailableError as exc:
        lines.append(f"refused: {exc}")
    else:
        lines.append(f"written: {path}")
print(json.dumps(lines))
"""


def _as_unprivileged_user(paths: list[Path]) -> list[str]:
    """Root ignores permissions, so as root the probe runs in a new interpreter that drops
    them once its imports are done (no ``fork()`` of this multi-threaded process)."""
    if os.geteuid() != 0:
        return _try_to_write(paths)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    lines: list[str] = json.loads(done.stdout)
    return lines


def test_a_read_only_folder_is_a_clear_error_and_nothing_is_written() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sessionary-ro-"))
    try:
        existing = folder / "existing.db"
        with SqliteDb(db_file=existing) as db:
            db.append_run(make_run("kept"))
        for name in os.listdir(folder):
            if name != "existing.db":
                os.remove(folder / name)
        os.chmod(existing, 0o444)
        os.chmod(folder, 0o555)
        lines = _as_unprivileged_user([folder / "new.db", existing])
        assert len(lines) == 2, lines
        assert all(line.startswith("refused:") for line in lines), lines
        assert str(folder / "new.db") in lines[0]
        assert "writable" in lines[0]
        assert str(existing) in lines[1]
        assert not (folder / "new.db").exists()
        assert _sql(existing, "SELECT count(*) FROM runs") == [(1,)]
    finally:
        os.chmod(folder, 0o755)
        for name in os.listdir(folder):
            os.remove(folder / name)
        os.rmdir(folder)


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    with pytest.raises(CorruptStoreError, match="not a SQLite file"):
        SqliteDb(db_file=path).get_session("s1")
    assert path.read_bytes() == b"these are my notes, not a database\n" * 100


def test_another_programs_tables_are_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    _sql(path, "CREATE TABLE sessions (id INTEGER PRIMARY KEY, blob TEXT)")
    with pytest.raises(SchemaVersionError, match="belongs to another program"):
        SqliteDb(db_file=path).append_run(make_run("s1"))
    assert _sql(path, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("sessions",)]


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "a.db")
    db.append_run(make_run("s1"))
    db.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        db.get_session("s1")


def test_a_write_blocked_by_another_writer_fails_loudly_and_stores_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.db"
    db = SqliteDb(db_file=path, timeout=0.05)
    db.append_run(make_run("s1"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked by another writer") as caught:
            db.append_run(make_run("s1"))
        assert "s1" in str(caught.value)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    info = db.get_session_info("s1")
    assert info is not None and info.run_count == 1
    db.append_run(make_run("s1"))  # the lock is gone, writes go on
    assert len(db.get_runs("s1")) == 2


# ---------------------------------------------------------------------------- the schema


def test_the_file_uses_wal_foreign_keys_and_the_chosen_durability(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "a.db")
    db.ping()
    conn = db._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    # Waiting for another writer is done by the store in 0.1 ms steps, not by SQLite.
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (0,)
    assert db.location.timeout == 30.0
    normal = SqliteDb(db_url=f"{db.url}?synchronous=normal&timeout=2")
    normal.ping()
    assert normal._connection().execute("PRAGMA synchronous").fetchone() == (1,)
    assert normal.location.timeout == 2.0


def test_appending_never_rewrites_earlier_runs(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("s1"))
    _sql(path, "CREATE TABLE rewrites (run_key INTEGER)")
    _sql(
        path,
        "CREATE TRIGGER watch AFTER UPDATE ON runs BEGIN "
        "INSERT INTO rewrites VALUES (old.run_key); END",
    )
    for index in range(30):
        db.append_run(make_run("s1", text=f"m{index}"))
    assert _sql(path, "SELECT count(*) FROM rewrites") == [(0,)]
    rows = _sql(path, "SELECT seq FROM runs ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, 32))


def test_reads_use_the_indexes_not_a_scan(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "a.db")
    db.append_run(make_run("s1", user_id="alice"))
    conn = db._connection()

    def plan(sql: str, *args: object) -> str:
        return " | ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))

    last_n = plan(
        "SELECT seq, data FROM runs WHERE session_key = ? ORDER BY seq DESC LIMIT ?", 1, 20
    )
    assert "USING INDEX" in last_n and "TEMP B-TREE" not in last_n, last_n
    by_user = plan(
        "SELECT session_id FROM sessions WHERE user_id = ? "
        "ORDER BY updated_at DESC, session_id DESC",
        "alice",
    )
    assert "sessions_by_user" in by_user and "TEMP B-TREE" not in by_user, by_user
    run = plan("SELECT data FROM runs WHERE session_key = ? AND run_id = ?", 1, "r")
    assert "USING INDEX" in run, run


def test_deleting_a_session_deletes_its_run_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = SqliteDb(db_file=path)
    for _ in range(3):
        db.append_run(make_run("gone", user_id="alice"))
    db.append_run(make_run("kept", user_id="bob"))
    assert db.delete_session("gone")
    assert _sql(path, "SELECT count(*) FROM runs") == [(1,)]
    assert db.erase_user("bob") == 1
    assert _sql(path, "SELECT count(*) FROM runs") == [(0,)]


# ---------------------------------------------------------------------------- damaged rows


def test_a_run_row_corrupted_by_hand_names_its_session(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = SqliteDb(db_file=path)
    for sid in ("healthy", "broken"):
        for index in range(3):
            db.append_run(make_run(sid, user_id="alice", text=f"{sid} {index}"))
    _sql(
        path,
        "UPDATE runs SET data = x'00ff10' WHERE seq = 2 AND session_key = "
        "(SELECT session_key FROM sessions WHERE session_id = 'broken')",
    )
    with pytest.raises(CorruptRecordError, match=r"'broken'.*run #2") as caught:
        db.get_session("broken")
    assert caught.value.session_id == "broken"
    assert len(db.get_runs("broken", last_n=1)) == 1  # the tail past the damage still reads
    healthy = db.get_session("healthy")
    assert healthy is not None and len(healthy.runs) == 3
    assert {i.session_id for i in db.list_sessions(user_id="alice").items} == {"healthy", "broken"}
    db.append_run(make_run("broken", user_id="alice"))  # appending never reads old runs
    info = db.get_session_info("broken")
    assert info is not None and info.run_count == 4


@pytest.mark.parametrize(
    ("column", "value"),
    [("state", "{not json"), ("version", "seven"), ("session_type", "robot"), ("metadata", 5)],
)
def test_a_session_row_corrupted_by_hand_names_its_session(
    tmp_path: Path, column: str, value: object
) -> None:
    path = tmp_path / "a.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("healthy", user_id="alice"))
    db.append_run(make_run("broken", user_id="alice"))
    _sql(path, f"UPDATE sessions SET {column} = ? WHERE session_id = 'broken'", value)
    reads: list[Callable[[], object]] = [
        lambda: db.get_session("broken"),
        lambda: db.get_session_info("broken"),
        lambda: db.append_run(make_run("broken", user_id="alice")),
        lambda: db.update_session("broken", name="x", name_source="manual"),
    ]
    for read in reads:
        with pytest.raises(CorruptRecordError, match="'broken'"):
            read()
    assert _sql(path, "SELECT count(*) FROM runs") == [(2,)]  # the refused append wrote nothing
    assert [i.session_id for i in db.list_sessions(user_id="alice").items] == ["healthy"]
    assert db.get_session("healthy") is not None


def test_text_that_is_not_utf8_is_refused_before_writing(tmp_path: Path) -> None:
    # It was stored once, and then `sessions show` and `export` crashed on it (issue 18).
    db = SqliteDb(db_file=tmp_path / "a.db")
    run = attrs.evolve(make_run("s1", text="lone \ud800 surrogate"), metadata={"k": "\udfff"})
    with pytest.raises(InvalidInputError, match="lone UTF-16 surrogate"):
        db.append_run(run)
    assert db.get_session_info("s1") is None
    info = db.append_run(make_run("s1"))
    with pytest.raises(InvalidInputError, match="lone UTF-16 surrogate"):
        db.update_session("s1", name="bad \ud800 name", name_source="manual")
    again = db.get_session_info("s1")
    assert again == info and again.name is None and again.version == 1


def test_update_run_finishes_a_paused_run_in_place(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "a.db")
    paused = make_run("s1", status=RunStatus.PAUSED)
    db.append_run(paused)
    with SqliteDb(db_url=db.url) as other:  # another process's view
        info = other.update_run(
            attrs.evolve(paused, status=RunStatus.COMPLETED), expected_version=1
        )
    assert info.last_run_status is RunStatus.COMPLETED
    stored = db.get_run("s1", paused.run_id)
    assert stored is not None and stored.version == 2 and stored.status is RunStatus.COMPLETED


def test_a_file_deleted_while_open_is_not_written_into(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    db = SqliteDb(db_file=path)
    db.append_run(make_run("s1"))
    for name in ("gone.db", "gone.db-wal", "gone.db-shm"):
        if (tmp_path / name).exists():
            os.remove(tmp_path / name)
    with pytest.raises(StoreUnavailableError, match="deleted or replaced") as caught:
        db.append_run(make_run("s1"))
    assert "nothing was written" in str(caught.value)
    assert db.get_session("s1") is None  # the next call opened a new, empty file
    db.append_run(make_run("s1"))
    assert SqliteDb(db_file=path).get_session_info("s1") is not None


def test_trim_keeps_the_tail_in_order_and_an_exact_summary(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = SqliteDb(db_file=path)
    runs = [make_run("s1", input_tokens=i, output_tokens=2 * i) for i in range(10)]
    for run in runs:
        db.append_run(run)
    db.append_run(make_run("other"))
    assert db.trim_runs("s1", keep_last=3) == 7
    after = db.append_run(make_run("s1", input_tokens=100, output_tokens=0))
    kept = db.get_runs("s1")
    assert [r.run_id for r in kept[:3]] == [r.run_id for r in runs[-3:]]
    assert (after.run_count, after.input_tokens, after.output_tokens) == (
        4,
        7 + 8 + 9 + 100,
        2 * (7 + 8 + 9),
    )
    seqs = _sql(
        path,
        "SELECT seq FROM runs JOIN sessions USING (session_key) "
        "WHERE session_id = 's1' ORDER BY seq",
    )
    assert [s[0] for s in seqs] == [8, 9, 10, 11]  # the sequence goes on after a trim
    assert db.trim_runs("s1", keep_last=0) == 4
    info = db.get_session_info("s1")
    assert info is not None and (info.run_count, info.input_tokens) == (0, 0)
    assert len(db.get_runs("other")) == 1


def test_an_imported_session_with_a_run_twice_is_refused(tmp_path: Path) -> None:
    from sessionary.domain.sessions import Session, SessionInfo

    run = make_run("s1")
    session = Session.from_info(SessionInfo(session_id="s1", run_count=2), [run, run])
    db = SqliteDb(db_file=tmp_path / "a.db")
    with pytest.raises(InvalidInputError, match="twice"):
        db.import_session(session)
    assert db.get_session("s1") is None
