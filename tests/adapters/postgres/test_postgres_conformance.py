"""PostgresDb passes the whole storage conformance suite, on a database of its own per test."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sessionary_postgres import PostgresDb

from sessionary.storage.base import Capability, Store
from sessionary.testing import StorageConformance


def corrupt_first_run(url: str, session_id: str) -> None:
    """Damage the JSON of a session's first run, as a broken disk or a bad hand edit would."""
    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE sessionary_runs SET data = '{\"run_id\": 42' WHERE session_id = %s "
            "AND seq = 1",
            (session_id,),
        ).rowcount
    assert changed == 1


class TestPostgresDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

    @pytest.fixture
    def store(self, database_url: str) -> Iterator[Store]:
        with PostgresDb(database_url) as store:
            yield store

    @pytest.fixture
    def store_url(self, database_url: str) -> str:
        return database_url

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, PostgresDb)
        corrupt_first_run(store.url, session_id)
