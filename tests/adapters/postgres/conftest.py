"""Fixtures for the PostgreSQL adapter's tests: the shared server, and a database per test.

The tests use the server at ``SESSIONARY_POSTGRES_URL``
(``postgresql://postgres@127.0.0.1:5432/postgres`` by default; the role must be allowed
to create databases). Every test gets a database of its own, created empty and dropped
afterwards, so tests running in parallel (pytest-xdist) never see each other's data.
With ``CI=true`` an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

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


def with_database(url: str, dbname: str) -> str:
    """``url`` naming another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def create_database(url: str) -> str:
    """Create an empty database with a unique name on the server; its URL."""
    name = f"sessionary_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, database_url: str) -> None:
    """Drop a database made by :func:`create_database`, closing its connections."""
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A URL of an empty database of this test's own, dropped afterwards."""
    url = create_database(postgres_url)
    yield url
    drop_database(postgres_url, url)


@pytest.fixture
def make_database(postgres_url: str) -> Iterator[object]:
    """Call it for more empty databases; each is dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        url = create_database(postgres_url)
        made.append(url)
        return url

    yield make
    for url in made:
        drop_database(postgres_url, url)
