"""An empty database per test, for the PostgreSQL adapter's tests and its benchmark.

Tests that share a server and run in parallel (pytest-xdist) must not see each other's
data: :func:`temporary_database` creates a database with a unique name on the server
and drops it afterwards (the role needs ``CREATEDB``; ``WITH (FORCE)`` needs
PostgreSQL 13). Also: a row of a session damaged by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

__all__ = [
    "closed_port",
    "create_database",
    "damage_first_run",
    "damage_session_row",
    "drop_database",
    "proxied",
    "temporary_database",
    "with_database",
]


def with_database(url: str, dbname: str) -> str:
    """``url`` naming another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def create_database(url: str, *, prefix: str = "sessionary_test") -> str:
    """Create an empty database with a unique name on the server ``url`` names; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, database_url: str) -> None:
    """Drop the database ``database_url`` names, ending the connections still open to it."""
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def temporary_database(url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server ``url`` names, dropped on exit."""
    made = create_database(url)
    try:
        yield made
    finally:
        drop_database(url, made)


def damage_first_run(url: str, session_id: str) -> None:
    """Damage the JSON of a session's first run, as a broken disk or a bad hand edit would."""
    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE sessionary_runs SET data = '{\"run_id\": 42' WHERE session_id = %s AND seq = 1",
            (session_id,),
        ).rowcount
    assert changed == 1


def damage_session_row(url: str, session_id: str) -> None:
    """Damage the JSON of a session row's ``state``, by hand."""
    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE sessionary_sessions SET state = 'not json' WHERE session_id = %s",
            (session_id,),
        ).rowcount
    assert changed == 1


def proxied(url: str, port: int) -> str:
    """``url`` with its server replaced by ``127.0.0.1:port`` (a proxy's), same database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}"))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def stamp_schema(url: str, *, newer: bool) -> None:
    """Stamp the store at ``url`` with the latest schema version, or one newer, from another
    connection (what another process's migration does)."""
    from sessionary_postgres import schema

    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE sessionary_schema SET version = %s", (schema.LATEST + newer,)
        ).rowcount
    assert changed == 1
