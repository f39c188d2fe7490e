"""What PostgresDb promises beyond the conformance suite, against the real server."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import attrs
import psycopg
import pytest
from sessionary_postgres import AsyncPostgresStore, PostgresDb

from sessionary import Agent, open_db
from sessionary.domain.sessions import Session
from sessionary.errors import (
    CorruptRecordError,
    InvalidInputError,
    SchemaVersionError,
    StoreUnavailableError,
)
from sessionary.testing import ScriptedModel
from sessionary.testing.storage_data import make_run


@pytest.fixture
def db(database_url: str) -> Iterator[PostgresDb]:
    store = PostgresDb(database_url)
    yield store
    store.close()


def _sql(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params or None)
        return cursor.fetchall() if cursor.description else []


# ------------------------------------------------------------------ registration


def test_the_plugin_does_not_import_psycopg() -> None:
    code = (
        "import sys, sessionary_postgres, sessionary_postgres.plugin\n"
        "from sessionary import open_db\n"
        "open_db('sqlite:///:memory:').close()\n"
        "assert 'psycopg' not in sys.modules, 'opening sqlite:// imported psycopg'\n"
        "from sessionary.plugins import get_plugin_host\n"
        "schemes = get_plugin_host().storage_by_scheme()\n"
        "assert all(schemes.get(s).__name__ == 'PostgresDb' for s in ('postgresql', 'postgres'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_both_schemes_open_by_url(database_url: str) -> None:
    for url in (database_url, database_url.replace("postgresql://", "postgres://", 1)):
        with open_db(url) as store:
            assert isinstance(store, PostgresDb)
            store.append_run(make_run("s1", text=url[:10]))
    with PostgresDb(database_url) as store:
        assert store.get_session_info("s1") is not None
        assert store.get_session_info("s1").run_count == 2  # type: ignore[union-attr]


def test_an_agent_with_a_postgres_url(database_url: str) -> None:
    agent = Agent(model=ScriptedModel(), db=database_url)
    agent.run("Hello", session_id="user_123_session_456", user_id="user_123")
    history = agent.get_chat_history(session_id="user_123_session_456")
    assert [m.content for m in history] == ["Hello", "echo: Hello"]
    assert isinstance(agent.db, PostgresDb)


def test_bad_urls_and_settings_are_refused_without_io() -> None:
    for url in ("mysql://x@h/db", "sqlite:///a.db", "postgresql://h:port/db"):
        with pytest.raises(InvalidInputError):
            PostgresDb(url)
    with pytest.raises(InvalidInputError):
        PostgresDb("postgresql://h/db", max_size=0)
    with pytest.raises(InvalidInputError):
        PostgresDb("postgresql://h/db", timeout=0)


# ------------------------------------------------------------------ an unreachable server


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_construction_does_no_io_and_a_down_server_is_named_without_the_password() -> None:
    port = _closed_port()
    store = PostgresDb(f"postgresql://app:s3cret@127.0.0.1:{port}/app")  # no I/O: no error
    with pytest.raises(StoreUnavailableError) as caught:
        store.append_run(make_run("s1"))
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "s3cret" not in str(caught.value) and "s3cret" not in repr(store)
    with pytest.raises(StoreUnavailableError):
        open_db(f"postgresql://app:s3cret@127.0.0.1:{port}/app")
    store.close()


def test_the_async_store_names_a_down_server_too() -> None:
    import asyncio

    port = _closed_port()
    store = AsyncPostgresStore(f"postgresql://app:s3cret@127.0.0.1:{port}/app")

    async def scenario() -> None:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.get_session("s1")
        assert f"127.0.0.1:{port}" in str(caught.value)
        assert "s3cret" not in str(caught.value)
        await store.close()

    asyncio.run(scenario())


def test_connections_the_server_ended_are_replaced_without_failing_a_call(
    db: PostgresDb, database_url: str
) -> None:
    db.append_run(make_run("s1"))
    ended = _sql(
        database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert ended and all(row[0] for row in ended)
    deadline = time.monotonic() + 30
    while _sql(
        database_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid()",
    )[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    db.append_run(make_run("s1"))  # the pool's idle connection was closed: another is made
    assert db.get_session_info("s1").run_count == 2  # type: ignore[union-attr]


# ------------------------------------------------------------------ storage layout


def test_an_append_never_rewrites_earlier_run_rows(db: PostgresDb, database_url: str) -> None:
    for index in range(5):
        db.append_run(make_run("s1", text=f"run {index}"))
    query = "SELECT seq, xmin::text, ctid::text FROM sessionary_runs ORDER BY seq"
    before = _sql(database_url, query)
    for index in range(20):
        db.append_run(make_run("s1", text=f"more {index}"))
    assert _sql(database_url, query)[:5] == before


def test_name_search_folds_case_like_python_and_takes_wildcards_literally(
    db: PostgresDb,
) -> None:
    for session_id, name in (
        ("s1", "Straße planning"),
        ("s2", "100% sure"),
        ("s3", "100 percent"),
        ("s4", "snake_case"),
        ("s5", "snakeXcase"),
    ):
        db.append_run(make_run(session_id))
        db.update_session(session_id, name=name)

    def found(needle: str) -> list[str]:
        return sorted(i.session_id for i in db.list_sessions(name_contains=needle).items)

    assert found("STRASSE") == ["s1"]
    assert found("%") == ["s2"]
    assert found("0%") == ["s2"]
    assert found("_") == ["s4"]
    assert found("e_c") == ["s4"]


def test_equal_timestamps_list_in_code_point_order(db: PostgresDb) -> None:
    ids = ["B", "a", "Z", "é", "_", "~"]
    for session_id in ids:
        run = attrs.evolve(make_run(session_id), created_at=1000.0, updated_at=1000.0)
        session = Session(session_id=session_id, created_at=1000.0, updated_at=1000.0, runs=(run,))
        db.import_session(session)
    listed = [i.session_id for i in db.list_sessions().items]
    assert listed == sorted(ids, reverse=True)
    first = db.list_sessions(limit=2)
    assert first.next_cursor is not None
    rest = db.list_sessions(limit=10, cursor=first.next_cursor)
    assert [i.session_id for i in (*first.items, *rest.items)] == listed


def test_a_corrupt_session_row_names_its_session_and_spares_the_others(
    db: PostgresDb, database_url: str
) -> None:
    db.append_run(make_run("bad", user_id="alice"))
    db.append_run(make_run("good", user_id="alice"))
    _sql(database_url, "UPDATE sessionary_sessions SET state = 'not json' WHERE session_id = 'bad'")
    with pytest.raises(CorruptRecordError, match="bad"):
        db.get_session("bad")
    with pytest.raises(CorruptRecordError, match="bad"):
        db.append_run(make_run("bad", user_id="alice"))
    assert [i.session_id for i in db.list_sessions(user_id="alice").items] == ["good"]
    assert len(db.get_runs("good")) == 1


def test_text_postgres_cannot_store_is_refused_or_kept_exactly(db: PostgresDb) -> None:
    db.append_run(make_run("s1", text="nul \x00 inside"))
    run = db.get_runs("s1")[0]
    assert run.input == "nul \x00 inside"
    with pytest.raises(InvalidInputError):
        db.update_session("s1", name="a\x00b")
    db.update_session("s1", state={"k": "\x00"})
    assert db.get_session_info("s1").state == {"k": "\x00"}  # type: ignore[union-attr]
    # A lone surrogate is refused by the core checks before anything is written.
    with pytest.raises(InvalidInputError):
        db.append_run(make_run("s1", text="lone \ud800 surrogate"))
    with pytest.raises(InvalidInputError):
        db.update_session("s1", state={"k": "\ud800"})
    assert db.get_session_info("s1").state == {"k": "\x00"}  # type: ignore[union-attr]
    assert len(db.get_runs("s1")) == 1


# ------------------------------------------------------------------ schema versions


def test_a_fresh_database_gets_the_latest_schema_and_migrate_is_a_no_op(db: PostgresDb) -> None:
    status = db.schema_status()
    assert (status.current, status.needs_migration) == (status.latest, False)
    assert db.migrate() == []


def test_a_newer_schema_is_refused_inside_every_write_and_by_a_new_store(
    db: PostgresDb, database_url: str
) -> None:
    db.append_run(make_run("s1", user_id="alice"))
    _sql(database_url, "UPDATE sessionary_schema SET version = version + 1")
    writes: list[Callable[[], object]] = [
        lambda: db.append_run(make_run("s1", user_id="alice")),
        lambda: db.append_run(make_run("new", user_id="alice")),
        lambda: db.update_session("s1", name="x"),
        lambda: db.trim_runs("s1", keep_last=0),
        lambda: db.delete_session("s1"),
        lambda: db.erase_user("alice"),
    ]
    for write in writes:
        with pytest.raises(SchemaVersionError, match="newer"):
            write()
    with pytest.raises(SchemaVersionError, match="newer"):
        db.get_session_info("s1")  # and reads too, once a write saw the newer version
    assert _sql(database_url, "SELECT session_id, run_count, name FROM sessionary_sessions") == [
        ("s1", 1, None)
    ]
    with PostgresDb(database_url) as later:
        assert later.schema_status().current == later.schema_status().latest + 1
        with pytest.raises(SchemaVersionError, match="newer"):
            later.get_session("s1")
        with pytest.raises(SchemaVersionError, match="newer"):
            later.migrate()


# ------------------------------------------------------------------ processes


def _append_in_child(store: PostgresDb) -> None:
    store.append_run(make_run("forked", text="from the child"))
    store.close()


def test_a_forked_child_makes_its_own_pool_and_leaves_the_parents_alone(db: PostgresDb) -> None:
    db.append_run(make_run("forked", text="from the parent"))
    child = multiprocessing.get_context("fork").Process(target=_append_in_child, args=(db,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    db.append_run(make_run("forked", text="the parent again"))  # its connections still work
    assert [r.input for r in db.get_runs("forked")] == [
        "from the parent",
        "from the child",
        "the parent again",
    ]
    assert os.getpid() == db._pid
