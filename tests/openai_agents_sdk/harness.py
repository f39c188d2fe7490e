"""A pytest plugin that runs the OpenAI Agents SDK's own tests with ``SessionarySession``.

Loaded with ``-p harness`` into a run of the SDK's ``tests/`` (see ``run_sdk_tests.py``), it
puts a ``SessionarySession`` where those tests import ``SQLiteSession`` from (``agents`` and
``agents.memory``), on the store ``SESSIONARY_SDK_BACKEND`` names (``memory``, ``sqlite``
or ``redis``), and marks the tests of ``expected_failures.txt`` as strict expected
failures: a new failure fails the run, and so does an expected failure that passes.

The SDK's own modules keep the real ``SQLiteSession`` (they are imported before the
swap): where the SDK gates a feature on its own class, the swapped session does not get
it, and the test says so by failing.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import agents
import agents.extensions.memory.encrypt_session
import agents.memory
import agents.memory.openai_responses_compaction_session
import agents.memory.sqlite_session
import pytest
from sessionary_openai_agents import SessionarySession

from sessionary import Store
from sessionary.storage.memory import MemoryDb

BACKENDS = ("memory", "sqlite", "redis")
BACKEND = os.environ.get("SESSIONARY_SDK_BACKEND", "sqlite")
if BACKEND not in BACKENDS:
    raise pytest.UsageError(
        f"SESSIONARY_SDK_BACKEND must be one of {', '.join(BACKENDS)}, got {BACKEND!r}"
    )
REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")
EXPECTED = Path(__file__).with_name("expected_failures.txt")
#: The SDK tests that construct a session (the others never touch one): the ones run.
CONSTRUCTING = Path(__file__).with_name("constructing.txt")
#: Set to a path, the run appends there the tests that constructed a session.
RECORD = os.environ.get("SESSIONARY_SDK_RECORD")
_CONSTRUCTED: set[str] = set()
#: Every Redis key this process writes starts with this, and is deleted at the end.
PREFIX = os.environ.get("SESSIONARY_SDK_PREFIX") or f"sdk-tests-{uuid.uuid4().hex[:12]}"
_STORES: dict[str, Store] = {}


def _store_for(db_path: str) -> Store:
    """One store per SQLite path the test names, as the SDK's sessions share a file."""
    if db_path != ":memory:" and db_path in _STORES:
        return _STORES[db_path]
    store: Store
    if BACKEND == "memory":
        store = MemoryDb()
    elif BACKEND == "sqlite":
        from sessionary_sqlite import SqliteDb

        if db_path == ":memory:":
            store = SqliteDb(db_url="sqlite:///:memory:")
        else:
            # Beside the file the test names, which the test may create or inspect itself.
            store = SqliteDb(db_file=Path(db_path).with_name(Path(db_path).name + ".sessionary"))
    else:
        from sessionary_redis import RedisDb

        store = RedisDb(REDIS_URL, prefix=f"{PREFIX}-{uuid.uuid4().hex[:8]}")
    if db_path != ":memory:":
        _STORES[db_path] = store
    return store


class SQLiteSession(SessionarySession):
    """``SessionarySession`` with ``SQLiteSession``'s constructor, as the SDK's tests call it."""

    def __init__(
        self,
        session_id: str,
        db_path: str | os.PathLike[str] = ":memory:",
        sessions_table: str = "agent_sessions",
        messages_table: str = "agent_messages",
        session_settings: Any = None,
    ) -> None:
        super().__init__(session_id, _store_for(str(db_path)), session_settings=session_settings)
        self.db_path = db_path
        current = os.environ.get("PYTEST_CURRENT_TEST")
        if RECORD and current and current not in _CONSTRUCTED:
            _CONSTRUCTED.add(current)
            with open(RECORD, "a") as out:  # now: xdist workers may end without unconfigure
                out.write(current.rsplit(" (", 1)[0] + "\n")


def pytest_configure(config: pytest.Config) -> None:
    agents.SQLiteSession = SQLiteSession  # type: ignore[assignment,misc]
    agents.memory.SQLiteSession = SQLiteSession  # type: ignore[assignment,misc]


def pytest_unconfigure(config: pytest.Config) -> None:
    if BACKEND != "redis":
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{PREFIX}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def expected_failures(backend: str) -> dict[str, str]:
    """The node IDs expected to fail on ``backend``, each with its cause.

    The file has a ``== cause`` line before the node IDs it explains; a node ID followed
    by ``@sqlite,redis`` fails only on those backends.
    """
    found: dict[str, str] = {}
    cause = ""
    for number, raw in enumerate(EXPECTED.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("=="):
            cause = line[2:].strip()
            continue
        if not cause:
            raise pytest.UsageError(f"{EXPECTED.name}:{number}: a node ID before any '== cause'")
        node, _, only = line.partition("@")
        backends = {b.strip() for b in only.split(",")} if only else set(BACKENDS)
        if not backends <= set(BACKENDS):
            raise pytest.UsageError(f"{EXPECTED.name}:{number}: unknown backend in {only!r}")
        if backend in backends:
            found[node.strip()] = cause
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not RECORD and not config.option.keyword and CONSTRUCTING.exists():
        running = set(CONSTRUCTING.read_text().split())
        kept = [item for item in items if item.nodeid in running]
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in running])
        items[:] = kept
    expected = expected_failures(BACKEND)
    files = {item.nodeid.split("::", 1)[0] for item in items}
    stale = sorted(n for n in expected if n.split("::", 1)[0] in files) if items else []
    for item in items:
        cause = expected.get(item.nodeid)
        if cause is not None:
            item.add_marker(pytest.mark.xfail(reason=cause, strict=True))
    collected = {item.nodeid for item in items}
    stale = [n for n in stale if n not in collected]
    if stale and not config.option.keyword and not config.option.markexpr:
        raise pytest.UsageError(
            f"{EXPECTED.name} names tests the SDK no longer has: " + ", ".join(stale)
        )
