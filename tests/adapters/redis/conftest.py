"""Fixtures for the Redis adapter's tests: the shared server, and a key prefix per test.

The tests use the Redis server at ``SESSIONARY_REDIS_URL`` (``redis://127.0.0.1:6379/0``
by default). Other people's tests share it, so every test writes under a prefix of its
own and deletes exactly its own keys afterwards; nothing here flushes a database. With
``CI=true`` an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis_support import delete_prefix

DEFAULT_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared server's URL; fails in CI and skips elsewhere when it is unreachable."""
    url = os.environ.get("SESSIONARY_REDIS_URL", DEFAULT_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"the Redis server at {url} is unreachable ({exc}); set SESSIONARY_REDIS_URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A raw client on the shared server, for looking at what the store wrote."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"sessionary-test-{uuid.uuid4().hex[:12]}"
    yield name
    delete_prefix(redis_client, name)
