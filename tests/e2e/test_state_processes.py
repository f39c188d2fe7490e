"""Four processes change the state of one session at once: no change is lost, on any
store that processes share (a SQLite file, Redis, PostgreSQL).

Each process runs agent runs whose tool sets keys of its own (and one key all of them
share) through ``run_context.session_state``, and calls ``update_session_state`` in
between. At the end every process's keys are in the state, with their last values.
(MongoDB has no server on these machines; its state clauses run in its conformance
suite on mongomock and the wire mock.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionary import open_db

pytestmark = pytest.mark.slow

WRITERS, RUNS = 4, 15

WORKER = textwrap.dedent(
    """
    import sys
    from sessionary import Agent
    from sessionary.testing import ScriptedModel, tool_call

    url, worker, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if url.startswith("sqlite:"):
        from sessionary_sqlite import SqliteDb as Db
        db = Db(db_url=url)
    elif url.startswith("redis"):
        from sessionary_redis import RedisDb as Db
        db = Db(url)
    else:
        from sessionary_postgres import PostgresDb as Db
        db = Db(url)

    def remember(run_context, key: str, value: int) -> str:
        "Remember a value."
        run_context.session_state[key] = value
        run_context.session_state["last_writer"] = worker
        return "ok"

    replies = []
    for i in range(runs):
        replies += [tool_call("remember", key=f"w{worker}_{i}", value=i), "done"]
    agent = Agent(model=ScriptedModel(*replies), db=db, tools=[remember])
    for i in range(runs):
        agent.run(f"run {i}", session_id="shared", user_id="u")
        agent.update_session_state({f"direct_{worker}": i}, session_id="shared", user_id="u")
    db.close()
    """
)


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    if request.param == "redis":
        import redis

        url = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")
        prefix = f"sessionary-state-{uuid.uuid4().hex[:10]}"
        client = redis.Redis.from_url(url)
        try:
            client.ping()
        except redis.RedisError as exc:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"Redis at {url} is unreachable: {exc}")
            pytest.skip(f"Redis at {url} is unreachable: {exc}")
        yield f"{url}?prefix={prefix}"
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
        return
    import psycopg
    from postgres_support import temporary_database

    url = os.environ.get("SESSIONARY_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {url} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {url} is unreachable: {exc}")
    with temporary_database(url) as database_url:
        yield database_url


def test_four_processes_change_one_sessions_state_and_lose_nothing(store_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url, str(w), str(RUNS)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for w in range(WRITERS)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    db = open_db(store_url)
    try:
        info = db.get_session_info("shared", user_id="u")
        runs = db.get_runs("shared", user_id="u")
    finally:
        db.close()
    assert info is not None
    assert len(runs) == WRITERS * RUNS
    expected = {f"w{w}_{i}": i for w in range(WRITERS) for i in range(RUNS)}
    expected.update({f"direct_{w}": RUNS - 1 for w in range(WRITERS)})
    state = dict(info.state)
    assert state.pop("last_writer") in range(WRITERS)
    assert state == expected
