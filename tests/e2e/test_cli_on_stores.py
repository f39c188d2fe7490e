"""Every operator command against a real SQLite file and the real Redis server.

Redis is ``SESSIONARY_REDIS_URL`` (``redis://127.0.0.1:6379/0`` by default); every test
writes under a prefix of its own and deletes exactly those keys afterwards. An
unreachable server fails these tests, never skips them.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.errors import ExitCode

from sessionary import Agent, open_db
from sessionary.testing import ScriptedModel, tool_call

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"the Redis server at {REDIS_URL} is unreachable ({exc})")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    name = f"sessionary-cli-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{name}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'operator.db'}"
    prefix = request.getfixturevalue("redis_prefix")
    return f"{request.getfixturevalue('redis_url')}?prefix={prefix}"


def cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def populate(url: str) -> None:
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    model = ScriptedModel(tool_call("weather", city="Oslo"), "Sunny in Oslo.")
    agent = Agent(model=model, db=url, id="helper", tools=[weather])
    agent.run("Weather in Oslo?", session_id="a1", user_id="alice")
    agent.run("And tomorrow?", session_id="a1", user_id="alice")
    agent.run("Hello", session_id="a2", user_id="alice")
    agent.run("Hi, I am Bob", session_id="b1", user_id="bob")


def test_list_show_rename_delete_erase_on_a_real_store(url: str) -> None:
    populate(url)
    code, out, _ = cli("sessions", "list", "--db", url, "--json")
    assert code == 0
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["b1", "a2", "a1"]
    code, out, _ = cli("sessions", "list", "--db", url, "--user", "alice", "--limit", "1", "--json")
    page = json.loads(out)
    assert [s["session_id"] for s in page["sessions"]] == ["a2"]
    code, out, _ = cli(
        "sessions",
        "list",
        "--db",
        url,
        "--user",
        "alice",
        "--limit",
        "1",
        "--cursor",
        page["next_cursor"],
        "--json",
    )
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["a1"]

    code, out, _ = cli("sessions", "show", "a1", "--db", url)
    assert code == 0
    assert 'tool call weather({"city": "Oslo"})' in out
    assert "And tomorrow?" in out

    code, out, err = cli("sessions", "rename", "a1", "Oslo\nweather", "--db", url)
    assert code == 0, err
    code, out, _ = cli("sessions", "list", "--db", url, "--name", "oslo", "--json")
    [named] = json.loads(out)["sessions"]
    assert (named["session_id"], named["name"], named["name_source"]) == (
        "a1",
        "Oslo weather",
        "manual",
    )

    code, _, err = cli("sessions", "show", "a1", "--db", url, "--user", "bob")
    assert code == ExitCode.NOT_FOUND
    code, _, _ = cli("sessions", "delete", "a2", "--db", url, input="n\n")
    assert code != 0
    assert open_db(url).get_session("a2") is not None
    code, _, _ = cli("sessions", "delete", "a2", "--db", url, "--yes")
    assert code == 0
    assert open_db(url).get_session("a2") is None
    code, out, _ = cli("sessions", "erase-user", "alice", "--db", url, "--yes")
    assert "erased 1 session(s)" in out
    assert [i.session_id for i in open_db(url).list_sessions().items] == ["b1"]


def test_prune_migrate_and_doctor_on_a_real_store(url: str) -> None:
    populate(url)
    code, out, _ = cli("sessions", "prune", "--db", url, "--keep-last-runs", "1")
    assert code == 0, out
    assert "trimmed 1 run(s) from 1 session(s)" in out
    info = open_db(url).get_session_info("a1")
    assert info is not None and info.run_count == 1
    time.sleep(1.1)
    code, out, _ = cli("sessions", "prune", "--db", url, "--older-than", "1s")
    assert "deleted 3 session(s)" in out
    assert open_db(url).list_sessions().items == ()
    code, out, _ = cli("migrate", "--db", url)
    assert code == 0
    assert "up to date" in out
    code, out, _ = cli("doctor", "--db", url)
    assert code == 0, out
    assert "reachable" in out


def test_a_store_copied_from_sqlite_to_redis_has_identical_chat_histories(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"{redis_url}?prefix={redis_prefix}"
    populate(source)
    dump = tmp_path / "all.jsonl"
    code, _, err = cli("sessions", "export", "--db", source, "-o", str(dump))
    assert code == 0, err
    code, _, err = cli("sessions", "import", str(dump), "--db", target)
    assert code == 0, err
    assert "imported 3 session(s)" in err
    old, new = open_db(source), open_db(target)
    for sid, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob")):
        before = Agent(db=old).get_chat_history(sid, user_id=user)
        after = Agent(db=new).get_chat_history(sid, user_id=user)
        assert after == before
        assert new.get_session(sid) == old.get_session(sid)
    assert [i.session_id for i in new.list_sessions().items] == [
        i.session_id for i in old.list_sessions().items
    ]


def test_an_unreachable_store_is_exit_code_5() -> None:
    code, _, err = cli("sessions", "list", "--db", "redis://127.0.0.1:1/0?retries=0")
    assert code == ExitCode.UNREACHABLE, err
    assert err.count("\n") == 1
