"""Storage clauses about a schema that changed under an open store (a rolling upgrade)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from sessionary.errors import SchemaVersionError
from sessionary.storage.base import Capability, Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["SchemaClauses"]


class SchemaClauses(SuiteBase):
    """A store already open when another process migrated to a newer schema refuses.

    Every write checks the stored schema in the same atomic step as the write and
    writes nothing; every read refuses too. Needs :meth:`SuiteBase.stamp_schema`.
    """

    def test_an_open_store_refuses_writes_after_a_newer_schema_and_writes_nothing(
        self, store: Store
    ) -> None:
        first = make_run("s1")
        store.append_run(first)
        store.append_run(make_run("s1"))
        before = store.get_session("s1")
        assert before is not None
        self.stamp_schema(store, "s1", newer=True)
        writes: dict[str, Callable[[], Any]] = {
            "append_run": lambda: store.append_run(make_run("s1")),
            "update_session": lambda: store.update_session("s1", state={"k": 1}),
            "update_run": lambda: store.update_run(
                attrs.evolve(first, version=first.version + 1), expected_version=first.version
            ),
            "trim_runs": lambda: store.trim_runs("s1", keep_last=0),
            "delete_session": lambda: store.delete_session("s1"),
        }
        for name, write in writes.items():
            try:
                write()
            except SchemaVersionError:
                continue
            pytest.fail(f"{name} wrote into a store stamped with a newer schema")
        self.stamp_schema(store, "s1", newer=False)
        after = store.get_session("s1")
        assert after == before, "a refused write changed the stored session"

    def test_an_open_store_refuses_reads_after_a_newer_schema(self, store: Store) -> None:
        run = make_run("s1")
        store.append_run(run)
        assert store.get_session("s1") is not None  # whatever is cached, is cached now
        self.stamp_schema(store, "s1", newer=True)
        reads: dict[str, Callable[[], Any]] = {
            "get_session": lambda: store.get_session("s1"),
            "get_session_info": lambda: store.get_session_info("s1"),
            "get_run": lambda: store.get_run("s1", run.run_id),
            "get_runs": lambda: store.get_runs("s1"),
        }
        for name, read in reads.items():
            try:
                read()
            except SchemaVersionError:
                continue
            pytest.fail(f"{name} read a store stamped with a newer schema")

    def test_a_store_opened_after_a_newer_schema_and_migrate_refuse(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        store.append_run(make_run("s1"))
        self.stamp_schema(store, "s1", newer=True)
        with pytest.raises(SchemaVersionError):
            store.migrate()
        try:
            status = store.schema_status()
        except SchemaVersionError:
            status = None  # refusing to say is as good as saying it is newer
        if status is not None:
            assert status.current > status.latest, "schema_status hides a newer schema"
        if Capability.PERSISTENT not in self.capabilities:
            return
        from sessionary.resolve import open_db

        url: str = request.getfixturevalue("store_url")
        # Refused on opening or on first use, either will do. (A store that versions each
        # record, not the whole store, refuses that session's records only.)
        with pytest.raises(SchemaVersionError), open_db(url) as later:
            later.append_run(make_run("s1"))
        with pytest.raises(SchemaVersionError), open_db(url) as later:
            later.get_session("s1")
        self.stamp_schema(store, "s1", newer=False)
        with open_db(url) as later:
            info = later.get_session_info("s1")
            assert info is not None and info.run_count == 1, "a refused write wrote"
