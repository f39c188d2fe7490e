"""Fixtures of the web inbox's tests: a seeded store (a SQLite file, or the real Redis
server under a prefix of the test's own), the desk agent on it, and an HTTP client.

The Redis server is ``SESSIONARY_REDIS_URL`` (``redis://127.0.0.1:6379/0``); with
``CI=true`` an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from inbox_desk import desk_agent, seed
from redis_support import delete_prefix
from starlette.testclient import TestClient

from sessionary import Agent, open_db
from sessionary.storage.base import Store

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"the Redis server at {REDIS_URL} is unreachable ({exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"sessionary-web-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        delete_prefix(client, name)
        client.close()


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store: a SQLite file, or Redis under a fresh prefix."""
    if request.param == "sqlite":
        with open_db(f"sqlite:///{tmp_path / 'inbox.db'}") as db:
            yield db
        return
    for prefix in _redis_prefix():
        with open_db(f"{REDIS_URL}?prefix={prefix}") as db:
            yield db


@pytest.fixture
def agent(store: Store) -> Agent:
    """The desk agent on the store."""
    return desk_agent(store)


@pytest.fixture
def ids(agent: Agent) -> dict[str, str]:
    """The seeded sessions' IDs, by role."""
    return seed(agent)


@pytest.fixture
def client(agent: Agent, ids: dict[str, str]) -> Iterator[TestClient]:
    """An HTTP client on the inbox over the agent (approvals continue runs)."""
    from sessionary_web import inbox_app

    with TestClient(inbox_app(agent), base_url="http://127.0.0.1") as http:
        http.headers["X-CSRF-Token"] = http.get("/api/csrf").json()["csrf_token"]
        yield http
