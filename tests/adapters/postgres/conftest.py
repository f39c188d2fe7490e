"""Fixtures for the PostgreSQL adapter's tests: the shared server, and a database per test.

The tests use the server at ``SESSIONARY_POSTGRES_URL``
(``postgresql://postgres@127.0.0.1:5432/postgres`` by default; the role must be allowed
to create databases). Every test gets a database of its own, created empty and dropped
afterwards, so tests running in parallel (pytest-xdist) never see each other's data.
With ``CI=true`` an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import psycopg
import pytest
from postgres_support import (
    create_database,
    damage_first_run,
    drop_database,
    temporary_database,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The shared server's URL; fails in CI and skips elsewhere when it is unreachable."""
    url = os.environ.get("SESSIONARY_POSTGRES_URL", DEFAULT_URL)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        message = (
            f"the PostgreSQL server at {url} is unreachable ({exc}); set SESSIONARY_POSTGRES_URL"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A URL of an empty database of this test's own, dropped afterwards."""
    with temporary_database(postgres_url) as url:
        yield url


@pytest.fixture
def make_database(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Call it for more empty databases; each is dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(create_database(postgres_url))
        return made[-1]

    yield make
    for url in made:
        drop_database(postgres_url, url)


@pytest.fixture
def corrupt_run() -> Callable[[str, str], None]:
    """``corrupt_run(url, session_id)`` damages the session's first run row by hand."""
    return damage_first_run
